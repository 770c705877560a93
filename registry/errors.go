package registry

import "errors"

// Sentinel errors, one per documented exit code, so that a Go program using
// svcdisco's packages can tell failures apart with errors.Is, as the CLI
// does to pick its exit code. Every error svcdisco returns for one of
// these reasons matches the sentinel (ErrUnreachable is in registry.go):
//
//	errors.Is(err, registry.ErrInvalid)     exit 2: usage / invalid input
//	errors.Is(err, registry.ErrNotEnough)   exit 3: fewer providers than required
//	errors.Is(err, registry.ErrUnreachable) exit 4: registry or Exhibitor unreachable, deadline passed
//	errors.Is(err, registry.ErrCheckFailed) exit 5: a template's check command rejected the file
var (
	ErrInvalid     = errors.New("invalid input")
	ErrNotEnough   = errors.New("not enough providers")
	ErrCheckFailed = errors.New("check command rejected the new file")
)
