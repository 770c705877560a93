package agent

import (
	"context"
	"time"
)

// DefaultQuiet is how long the directory must go without a file event
// before the agent reads it. A writer that rewrites a file in place is
// seen in between; the quiet period outlasts the pauses of an ordinary
// slow writer (a script writing a line at a time), but only an atomic
// rename (write a hidden temporary file, then rename it over the real
// one) makes a half-written file impossible to see.
const DefaultQuiet = 2 * time.Second

// handover is one changed file: its new provider is started before the
// old one is stopped (make before break), so the service never has zero
// providers because its file changed.
type handover struct {
	path     string
	old, new *entry
	bound    time.Duration
	deadline time.Time // start + bound: the waits of many files overlap
}

// finish stops the old provider once the new one is registered, has
// stopped trying, or bound passed (a new version whose check never passes
// must not keep the old one advertised for ever), or ctx is done.
func (a *Agent) finish(ctx context.Context, hs []handover) {
	for _, h := range hs {
		t := time.NewTimer(time.Until(h.deadline))
		select {
		case <-h.new.registered:
		case <-h.new.done:
		case <-t.C:
			a.Logger.Warn("new version not registered in time; removing the old one anyway", "file", h.path, "waited", h.bound)
		case <-ctx.Done():
		}
		t.Stop()
		a.stop(h.old)
	}
}

// handoverBound is how long the old provider may wait for the new one:
// one registration, plus the new check's rise when it has one.
func (a *Agent) handoverBound(s Spec) time.Duration {
	d := a.timeout()
	if c := s.Check; c != nil {
		d += time.Duration(c.Rise)*c.Interval + c.Timeout
	}
	return d
}

func (a *Agent) timeout() time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return 10 * time.Second
}

// warnDefaults logs the fields a previous version of a file set and the
// new version leaves to a default: a half-written file looks like that,
// and it must not go unnoticed.
func (a *Agent) warnDefaults(path string, old, cur Spec) {
	for _, f := range cur.Defaulted {
		if !contains(old.Defaulted, f) {
			a.Logger.Warn("provider file no longer sets a field; using the default",
				"file", path, "field", f, "was", old.field(f), "now", cur.field(f))
		}
	}
}

func (s Spec) field(name string) any {
	switch name {
	case "host":
		return s.Provider.Host
	case "address":
		return s.Provider.Address
	case "weight":
		return s.Provider.Weight
	default:
		return s.Provider.ID
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// debounce fires once no event came for the quiet period, or 5 quiet
// periods after the first event, whichever is first.
type debounce struct {
	quiet, limit *time.Timer
}

func (d *debounce) event(quiet time.Duration) {
	if d.quiet != nil {
		d.quiet.Stop()
	}
	d.quiet = time.NewTimer(quiet)
	if d.limit == nil {
		d.limit = time.NewTimer(5 * quiet)
	}
}

// quietC and limitC are the channels to wait on: nil (never) while no
// event is pending.
func (d *debounce) quietC() <-chan time.Time {
	if d.quiet == nil {
		return nil
	}
	return d.quiet.C
}

func (d *debounce) limitC() <-chan time.Time {
	if d.limit == nil {
		return nil
	}
	return d.limit.C
}

func (d *debounce) stop() {
	for _, t := range []*time.Timer{d.quiet, d.limit} {
		if t != nil {
			t.Stop()
		}
	}
	d.quiet, d.limit = nil, nil
}
