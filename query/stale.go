package query

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query/answercache"
	"github.com/svcdisco/svcdisco/registry"
)

// Answers connects queries to the answer cache: every answer the registry
// gives is stored (the unfiltered provider set), and while the registry
// cannot be reached a caller that allows it (StaleOK > 0) is answered from
// the cache instead.
type Answers struct {
	Cache *answercache.Cache
	// Registry is the registry URL (secrets are redacted before it is used
	// as a key) and Root the configured root: with the service they name
	// the answer.
	Registry string
	Root     string
	// StaleOK is the oldest answer the caller accepts while the registry
	// cannot be reached; 0 never answers from the cache.
	StaleOK time.Duration
	// Logger reports answers that could not be stored (nil: discarded).
	Logger *slog.Logger
}

// Key is the cache key of service as listed with opts.
func (a *Answers) Key(service string, opts registry.ListOptions) answercache.Key {
	return answercache.Key{
		Registry: registry.Redact(a.Registry), Root: a.Root, Service: service,
		IncludeMaintenance: opts.IncludeMaintenance, FieldsOnly: opts.FieldsOnly,
	}
}

// store records an answer; a cache that cannot be written never fails the
// query, it only costs the next outage its stale answer.
func (a *Answers) store(o Options, fieldsOnly bool, ps []registry.Provider) {
	if a == nil || a.Cache == nil {
		return
	}
	k := a.Key(o.Service, registry.ListOptions{FieldsOnly: fieldsOnly, IncludeMaintenance: o.IncludeMaintenance})
	if err := a.Cache.Store(k, ps); err != nil && a.Logger != nil {
		a.Logger.Warn("could not keep the answer for stale use", "service", o.Service, "err", err)
	}
}

// StaleError says an answer came from the answer cache: the registry could
// not be reached (Cause) and the caller allowed answers up to its StaleOK.
// It carries exit code 6, and its message is the one warning line a CLI
// prints.
type StaleError struct {
	Service   string
	Age       time.Duration
	FetchedAt time.Time
	Cause     error
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("stale answer for %s from the answer cache, %s old (fetched %s): %s",
		e.Service, e.Age.Round(time.Second), e.FetchedAt.UTC().Format(time.RFC3339),
		strings.Join(strings.Fields(e.Cause.Error()), " "))
}

func (e *StaleError) Unwrap() error { return e.Cause }

// IsStale reports whether err says the answer given with it is stale (it
// holds a *StaleError with exit code 6).
func IsStale(err error) bool {
	var s *StaleError
	return errors.As(err, &s) && exitcode.Of(err) == exitcode.Stale
}

// FromCache answers o from the answer cache after the registry failed with
// cause. Only a registry that cannot be reached (exit 4) allows it, and only
// when o.Answers.StaleOK does and the cached answer is at most that old;
// otherwise cause is returned (with why no stale answer was given). The
// cached, unfiltered answer is filtered exactly as a fresh one (Since,
// WithinLast, Where, AtLeast without waiting, Latest). A complete stale
// answer comes with an error carrying exit code 6 (*StaleError); too few
// providers in it is exit 3 as for a fresh one, saying the answer was stale.
func FromCache(o Options, cause error) ([]registry.Provider, error) {
	a := o.Answers
	if cause == nil || exitcode.Of(cause) != exitcode.Unreachable || a == nil || a.Cache == nil || a.StaleOK <= 0 {
		return nil, cause
	}
	fieldsOnly := o.FieldsOnly && len(o.Where) == 0
	k := a.Key(o.Service, registry.ListOptions{FieldsOnly: fieldsOnly, IncludeMaintenance: o.IncludeMaintenance})
	e, err := a.Cache.Load(k, a.StaleOK)
	if err != nil {
		return nil, fmt.Errorf("%w (no stale answer: %w)", cause, err)
	}
	stale := &StaleError{Service: o.Service, Age: e.Age, FetchedAt: e.FetchedAt, Cause: cause}
	ps := Apply(e.Providers, o)
	registry.Sort(ps)
	ps, err = finish(ps, o)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, stale)
	}
	return ps, exitcode.New(exitcode.Stale, stale)
}
