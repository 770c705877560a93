package templates

import (
	"context"
	"time"
)

// The settle window. Right after the registry comes back from an outage,
// or after every provider of a service was replaced at once (an agent that
// lost its state, every ZooKeeper session expired), providers are still
// re-registering: a file rendered then would list a fraction of them, and
// the reload command would run once per returning provider. For Settle
// after such an event a template is not rendered with fewer providers than
// it was last rendered with (min_providers applies on top), and it is
// rendered at most once per Settle/settleRenders.
const settleRenders = 4

// startSettle opens the settle window from now.
func (o *outage) startSettle(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.window <= 0 {
		return
	}
	until := o.now().Add(o.window)
	if until.After(o.settleUntil) {
		if !o.settleUntil.After(o.now()) {
			o.log.Info("settle window: no file shrinks until providers are back", "reason", reason, "settle", o.window)
		}
		o.settleUntil = until
	}
}

// settling returns the end of the settle window, zero when none is open.
func (o *outage) settling() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.settleUntil.After(o.now()) {
		return time.Time{}
	}
	return o.settleUntil
}

// providerCount is how many providers st's services hold in the store,
// false when one was not fetched yet.
func (w *watcher) providerCount(st *tstate) (int, bool) {
	if len(st.deps) == 0 {
		return 0, false
	}
	n := 0
	for svc := range st.deps {
		ps, ok := w.store.Providers(svc)
		if !ok {
			return 0, false
		}
		n += len(ps)
	}
	return n, true
}

// settleHold is how long st's render must wait in the settle window: until
// the window ends for a smaller set than the last rendered, until the rate
// limit allows another render otherwise; 0 to render now.
func (w *watcher) settleHold(st *tstate) time.Duration {
	until := w.outage.settling()
	if until.IsZero() {
		return 0
	}
	now := w.outage.now()
	if n, ok := w.providerCount(st); ok && st.rendered >= 0 && n < st.rendered {
		if !st.holding {
			st.holding = true
			w.log.Info("settle window: not rendering fewer providers than the file has; waiting",
				"template", st.t.Spec.Source, "destination", st.t.Spec.Destination,
				"providers", n, "in_file", st.rendered, "until", until.Format(time.RFC3339))
		}
		return until.Sub(now)
	}
	gap := w.outage.window / settleRenders
	if !st.lastWrite.IsZero() && now.Sub(st.lastWrite) < gap {
		return st.lastWrite.Add(gap).Sub(now)
	}
	return 0
}

// renderLater renders st after d (replacing a pending debounce).
func (w *watcher) renderLater(ctx context.Context, st *tstate, d time.Duration) {
	if st.timer != nil {
		st.timer.Stop()
	}
	st.gen++
	due := due{st: st, gen: st.gen}
	st.timer = time.AfterFunc(d, func() {
		select {
		case w.due <- due:
		case <-ctx.Done():
		}
	})
}

// noteRendered records what st's file now holds, for the settle window.
func (w *watcher) noteRendered(st *tstate, res Result) {
	if res.Status != StatusWritten && res.Status != StatusUnchanged {
		return
	}
	if n, ok := w.providerCount(st); ok {
		st.rendered = n
	}
	st.holding = false
	if res.Status == StatusWritten {
		st.lastWrite = w.outage.now()
	}
}
