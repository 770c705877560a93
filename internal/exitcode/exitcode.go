// Package exitcode maps svcdisco's errors to the documented process exit codes.
//
//	0 ok
//	1 failure
//	2 usage / invalid input
//	3 not enough providers (--at-least unmet, or a template's min_providers guard)
//	4 registry or Exhibitor unreachable / deadline passed
//	5 a template's check command rejected the new file
//	6 a stale answer: the registry could not be reached and the answer came
//	  from the answer cache (only when asked for with --stale-ok)
//	10 lock not acquired in time (`lock --wait`: held elsewhere)
//	11 lock lost while held (node gone, session expired, disconnected too long)
//	12 a required mount is missing or does not answer (`lock --require-mount`)
//
// Errors carry their code by wrapping (errors.As), so a library can return a
// classified error through any number of fmt.Errorf("...: %w") layers and the
// CLI still exits with the right code. Every classified error also matches
// its exported sentinel in package registry (errors.Is(err,
// registry.ErrUnreachable) and friends), which is how programs outside this
// module tell failures apart; a bare sentinel maps to its code too.
package exitcode

import (
	"context"
	"errors"
	"fmt"

	"github.com/svcdisco/svcdisco/registry"
)

// The documented exit codes.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	NotEnough   = 3
	Unreachable = 4
	CheckFailed = 5
	// Stale is a complete answer from the answer cache, given because the
	// registry could not be reached and the caller allowed it (--stale-ok).
	Stale = 6
	// The lock codes sit apart from the others so that a wrapper's own
	// outcome is not mistaken for the small codes commands commonly use.
	LockTimeout  = 10
	LockLost     = 11
	MountMissing = 12
)

// Error is an error with an exit code.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Is makes a classified error match the exported sentinel of its code.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && target == s
}

// sentinels are the exported errors matching each code.
var sentinels = map[int]error{
	Usage:       registry.ErrInvalid,
	NotEnough:   registry.ErrNotEnough,
	Unreachable: registry.ErrUnreachable,
	CheckFailed: registry.ErrCheckFailed,
}

// New wraps err with code. A nil err stays nil.
func New(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Usagef returns a usage error (exit 2) with a formatted message.
func Usagef(format string, args ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, args...)}
}

// Unreachablef returns an unreachable error (exit 4) with a formatted message.
func Unreachablef(format string, args ...any) error {
	return &Error{Code: Unreachable, Err: fmt.Errorf(format, args...)}
}

// Of returns the exit code for err: the innermost classified code wins over a
// bare deadline, and a deadline that passed without a classification is 4.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for _, code := range []int{Usage, NotEnough, CheckFailed, Unreachable} {
		if errors.Is(err, sentinels[code]) {
			return code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Unreachable
	}
	return Failure
}
