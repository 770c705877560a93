// Package query answers all_providers_for_service: every provider of a
// service, oldest first, with ironfan's options (since, within_last,
// at_least) plus attribute filters and "latest" (provider_for_service).
package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Filter matches an attribute: key=value, or key!=value when Negate.
type Filter struct {
	Key    string
	Value  string
	Negate bool
}

// ParseFilter parses "k=v" or "k!=v".
func ParseFilter(s string) (Filter, error) {
	if k, v, ok := strings.Cut(s, "!="); ok && k != "" && !strings.Contains(k, "=") {
		return Filter{Key: k, Value: v, Negate: true}, nil
	}
	if k, v, ok := strings.Cut(s, "="); ok && k != "" && !strings.HasSuffix(k, "!") {
		return Filter{Key: k, Value: v}, nil
	}
	return Filter{}, fmt.Errorf("invalid filter %q: want key=value or key!=value", s)
}

// Match reports whether p passes the filter. A missing attribute never
// equals a value, and always differs from one.
func (f Filter) Match(p registry.Provider) bool {
	v, ok := p.Attributes[f.Key]
	if f.Negate {
		return !ok || v != f.Value
	}
	return ok && v == f.Value
}

func (f Filter) String() string {
	if f.Negate {
		return f.Key + "!=" + f.Value
	}
	return f.Key + "=" + f.Value
}

// Options is one query.
type Options struct {
	Service string
	// Since keeps providers registered at or after this time.
	Since time.Time
	// WithinLast keeps providers registered within this long before now.
	WithinLast time.Duration
	// AtLeast is the number of providers required; fewer is ErrNotEnough
	// (exit 3) once Wait has passed.
	AtLeast int
	// Wait is how long to wait (watching the registry) for AtLeast.
	Wait time.Duration
	// Where filters on attributes; all must match.
	Where []Filter
	// Latest keeps only the newest provider (provider_for_service).
	Latest bool
	// FieldsOnly says the caller needs only service, host, port and
	// timestamp, so provider data need not be fetched (one getChildren on
	// ZooKeeper). Ignored when a filter needs attributes.
	FieldsOnly bool
	// IncludeMaintenance also lists providers in maintenance (hidden by
	// default: they are registered but must not get traffic).
	IncludeMaintenance bool
	// Now is the clock for WithinLast (default time.Now).
	Now func() time.Time
	// Answers, when set, keeps every answer the registry gives in an
	// answer cache and allows stale answers from it (see Answers).
	Answers *Answers
}

// Validate checks the options before anything is asked of the registry.
func (o Options) Validate() error {
	if err := registry.ValidateService(o.Service); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	if o.WithinLast < 0 {
		return exitcode.Usagef("invalid --within-last %s: must be positive", o.WithinLast)
	}
	if o.AtLeast < 0 {
		return exitcode.Usagef("invalid --at-least %d: must be >= 0", o.AtLeast)
	}
	if o.Wait < 0 {
		return exitcode.Usagef("invalid --wait %s: must be positive", o.Wait)
	}
	return nil
}

// NotEnoughError is returned when fewer than AtLeast providers were found.
type NotEnoughError struct {
	Service string
	Found   int
	Want    int
	Waited  time.Duration
}

func (e *NotEnoughError) Error() string {
	msg := fmt.Sprintf("service %s: %d provider(s) found, at least %d required", e.Service, e.Found, e.Want)
	if e.Waited > 0 {
		msg += fmt.Sprintf(" (waited %s)", e.Waited)
	}
	return msg
}

// Run lists, filters and sorts the service's providers (oldest first),
// waiting up to Wait for AtLeast of them.
func Run(ctx context.Context, reg registry.Registry, o Options) ([]registry.Provider, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var changes <-chan struct{}
	wctx := ctx
	if o.AtLeast > 0 && o.Wait > 0 {
		// Watch BEFORE the first list: a provider registered between the
		// list and the watch would otherwise never be signalled, and the
		// query would wrongly end with exit 3.
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, o.Wait)
		defer cancel()
		var err error
		if changes, err = reg.Watch(wctx, o.Service); err != nil {
			return nil, err
		}
	}
	ps, err := list(ctx, reg, o)
	if err != nil {
		return nil, err
	}
	if len(ps) < o.AtLeast && changes != nil {
		ps, err = wait(ctx, wctx, reg, o, ps, changes)
		if err != nil {
			return nil, err
		}
	}
	return finish(ps, o)
}

// finish applies AtLeast (without waiting) and Latest to a filtered,
// sorted answer.
func finish(ps []registry.Provider, o Options) ([]registry.Provider, error) {
	if len(ps) < o.AtLeast {
		return nil, exitcode.New(exitcode.NotEnough, &NotEnoughError{Service: o.Service, Found: len(ps), Want: o.AtLeast, Waited: o.Wait})
	}
	if o.Latest && len(ps) > 1 {
		ps = ps[len(ps)-1:]
	}
	return ps, nil
}

// wait re-lists on every change signal until AtLeast providers are there or
// Wait has passed (then it returns what it has, and Run reports it). ctx is
// the caller's (its deadline is --timeout); wctx ends when Wait has passed.
// A re-list that fails (a watch signals when the registry stops answering)
// is retried at the next signal; if the last one failed when Wait passes,
// that error is returned.
func wait(ctx, wctx context.Context, reg registry.Registry, o Options, ps []registry.Provider, changes <-chan struct{}) ([]registry.Provider, error) {
	var lastErr error
	for len(ps) < o.AtLeast {
		select {
		case _, ok := <-changes:
			if !ok {
				return waited(ctx, o, ps, lastErr)
			}
		case <-wctx.Done():
			return waited(ctx, o, ps, lastErr)
		}
		next, err := list(wctx, reg, o)
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return waited(ctx, o, ps, lastErr)
			}
			lastErr = err
			continue
		}
		ps, lastErr = next, nil
	}
	return ps, nil
}

// waited is what wait returns once it stops waiting.
func waited(ctx context.Context, o Options, ps []registry.Provider, lastErr error) ([]registry.Provider, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("waiting for %d providers of %s: %w", o.AtLeast, o.Service, err)
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return ps, nil // Wait passed
}

func list(ctx context.Context, reg registry.Registry, o Options) ([]registry.Provider, error) {
	fieldsOnly := o.FieldsOnly && len(o.Where) == 0
	ps, err := reg.Providers(ctx, o.Service, registry.ListOptions{FieldsOnly: fieldsOnly, IncludeMaintenance: o.IncludeMaintenance})
	if err != nil {
		return nil, err
	}
	o.Answers.store(o, fieldsOnly, ps) // the unfiltered set: filters apply to it later
	ps = Apply(ps, o)
	registry.Sort(ps)
	return ps, nil
}

// Apply applies Since, WithinLast and Where, keeping order. Providers
// without a timestamp fail any time filter. Without any filter it returns
// ps itself; otherwise a new slice.
func Apply(ps []registry.Provider, o Options) []registry.Provider {
	if o.Since.IsZero() && o.WithinLast <= 0 && len(o.Where) == 0 {
		return ps
	}
	since := o.Since
	if o.WithinLast > 0 {
		clock := o.Now
		if clock == nil {
			clock = time.Now
		}
		if cutoff := clock().Add(-o.WithinLast); cutoff.After(since) {
			since = cutoff
		}
	}
	out := make([]registry.Provider, 0, len(ps))
	for _, p := range ps {
		if !since.IsZero() && (p.Timestamp.IsZero() || p.Timestamp.Before(since)) {
			continue
		}
		if !matchAll(p, o.Where) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func matchAll(p registry.Provider, fs []Filter) bool {
	for _, f := range fs {
		if !f.Match(p) {
			return false
		}
	}
	return true
}
