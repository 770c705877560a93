package templates

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// fetchTimeout bounds one re-list of a service in watch mode; a failure is
// retried with backoff (and at the next reconnect).
const fetchTimeout = 10 * time.Second

// Watch renders every template at once, then again whenever a service it
// reads changes, debounced by the template's Wait, until ctx ends (then it
// returns nil). While the registry is unreachable, data is not yet fetched
// or a guard trips, files stay as they are and the reason is logged. Each
// service is watched and fetched once, however many templates read it.
func Watch(ctx context.Context, o Options) error {
	log := o.logger()
	reg, err := openRetry(ctx, o.Open, log)
	if reg == nil {
		return err
	}
	defer reg.Close()
	w := &watcher{
		o: &o, log: log, reg: reg, store: NewStore(o.Ensemble),
		changed: make(chan string, 64), due: make(chan due, 16),
		watched: map[string]bool{}, outage: newOutage(log, o.Settle),
		leaderChanged: make(chan string, 16), watchedLeaders: map[string]bool{},
	}
	w.store.Answers = o.Answers
	w.store.useDetector(reg)
	return w.run(ctx)
}

// openRetry connects, retrying with backoff until it succeeds or ctx ends
// (then it returns nil, nil): a node booting before its registry still
// renders once the registry is up. A usage error (a bad registry URL) is
// returned at once: no retry can fix it.
func openRetry(ctx context.Context, open func(context.Context) (registry.Registry, error), log *slog.Logger) (registry.Registry, error) {
	backoff := 250 * time.Millisecond
	for {
		reg, err := open(ctx)
		if err == nil {
			return reg, nil
		}
		if exitcode.Of(err) == exitcode.Usage {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		log.Warn("registry unreachable; files stay as they are until it answers", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

type watcher struct {
	o       *Options
	log     *slog.Logger
	reg     registry.Registry
	store   *Store
	changed chan string // a service's providers were re-fetched
	due     chan due    // a debounce timer expired
	watched map[string]bool
	outage  *outage
	// leaderChanged: a watched election changed leader (leaderwatch.go).
	leaderChanged  chan string
	watchedLeaders map[string]bool
}

// tstate is one template's watch-mode state.
type tstate struct {
	t       *Template
	deps    map[string]bool
	catalog bool
	leaders map[string]bool // election groups read with `leader`
	timer   *time.Timer
	first   time.Time // first change since the last render
	gen     int
	// For the settle window: how many providers the file was last
	// rendered with (-1: not yet), when it was last written, and whether
	// a smaller set is being held back.
	rendered  int
	lastWrite time.Time
	holding   bool
}

type due struct {
	st  *tstate
	gen int
}

func (w *watcher) run(ctx context.Context) error {
	states := make([]*tstate, len(w.o.Templates))
	for i, t := range w.o.Templates {
		states[i] = &tstate{t: t, rendered: -1}
		w.render(ctx, states[i])
	}
	poll := time.NewTicker(w.o.catalogInterval())
	defer poll.Stop()
	for {
		select {
		case <-poll.C:
			w.pollCatalog(ctx, states)
		case <-ctx.Done():
			for _, st := range states {
				if st.timer != nil {
					st.timer.Stop()
				}
			}
			return nil
		case svc := <-w.changed:
			for _, st := range states {
				if st.deps[svc] || st.catalog {
					w.schedule(ctx, st)
				}
			}
		case group := <-w.leaderChanged:
			for _, st := range states {
				if st.leaders[group] {
					w.schedule(ctx, st)
				}
			}
		case d := <-w.due:
			if d.gen == d.st.gen {
				d.st.timer = nil
				w.render(ctx, d.st)
			}
		}
	}
}

// pollCatalog re-reads the service list for templates that call
// `services`: the registry has no watch on the list itself, so a new
// service is noticed within CatalogInterval.
func (w *watcher) pollCatalog(ctx context.Context, states []*tstate) {
	var users []*tstate
	for _, st := range states {
		if st.catalog {
			users = append(users, st)
		}
	}
	if len(users) == 0 {
		return
	}
	old, _ := w.store.Services()
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	err := w.store.FetchServices(fctx, w.reg)
	cancel()
	if err != nil {
		w.fetchFailed(true, "could not refresh the service list; using the last one", err)
		return
	}
	w.outage.ok()
	if now, _ := w.store.Services(); !slices.Equal(old, now) {
		for _, st := range users {
			w.schedule(ctx, st)
		}
	}
}

// schedule renders st after its Wait: Min after the latest change, but no
// later than Max after the first change since it last rendered.
func (w *watcher) schedule(ctx context.Context, st *tstate) {
	wait := st.t.Wait
	if wait.Min <= 0 {
		w.render(ctx, st)
		return
	}
	now := time.Now()
	if st.timer == nil {
		st.first = now
	} else {
		st.timer.Stop()
	}
	at := now.Add(wait.Min)
	if limit := st.first.Add(wait.Max); at.After(limit) {
		at = limit
	}
	st.gen++
	d := due{st: st, gen: st.gen}
	st.timer = time.AfterFunc(time.Until(at), func() {
		select {
		case w.due <- d:
		case <-ctx.Done():
		}
	})
}

// render applies st's template, then watches whatever it read. In the
// settle window it may wait instead (see settle.go).
func (w *watcher) render(ctx context.Context, st *tstate) {
	if d := w.settleHold(st); d > 0 {
		w.renderLater(ctx, st, d)
		return
	}
	if st.catalog {
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		if err := w.store.FetchServices(fctx, w.reg); err != nil && ctx.Err() == nil {
			w.fetchFailed(true, "could not refresh the service list; using the last one", err)
		}
		cancel()
	}
	res := w.o.apply(ctx, st.t, w.store)
	if ex := res.Execution; ex != nil {
		st.deps = map[string]bool{}
		for _, svc := range ex.Services {
			st.deps[svc] = true
			w.ensure(ctx, svc)
		}
		st.leaders = map[string]bool{}
		for _, group := range ex.Leaders {
			st.leaders[group] = true
			w.ensureLeader(ctx, group)
		}
		if ex.UsesCatalog && !st.catalog {
			st.catalog = true
			if ex.MissingCatalog { // fetch it now and go again
				w.render(ctx, st)
				return
			}
		}
	}
	w.noteRendered(st, res)
	w.logResult(res)
	if w.o.OnResult != nil {
		w.o.OnResult(res)
	}
}

func (w *watcher) logResult(res Result) {
	attrs := []any{"template", res.Source, "destination", res.Destination}
	switch {
	case res.Status == StatusRefused && res.Execution != nil && !res.Execution.Complete:
		w.log.Info("waiting for data; file stays as it is", append(attrs, "reason", res.Reason)...)
	case res.Status == StatusRefused:
		w.log.Warn("not rendered; file stays as it is", append(attrs, "reason", res.Reason)...)
	case res.Code != 0:
		w.log.Warn("rendered "+res.Status+" but the command failed", append(attrs, "reason", res.Reason)...)
	default:
		w.log.Info("rendered "+res.Status, attrs...)
	}
}

// ensure starts the one watch of svc shared by every template: fetch now,
// then re-fetch after every change signal, and tell the run loop. The
// watch itself is set up by follow, which retries until the registry
// accepts it, so a watch refused once (an ACL token not yet created, the
// registry down at that moment) is never given up on.
func (w *watcher) ensure(ctx context.Context, svc string) {
	if w.watched[svc] {
		return
	}
	w.watched[svc] = true
	go w.follow(ctx, svc)
}

// subscribe calls reg.Watch until it succeeds, backing off from 250ms to
// 5s; nil when ctx ends first.
func (w *watcher) subscribe(ctx context.Context, svc string) <-chan struct{} {
	backoff := 250 * time.Millisecond
	for failures := 0; ; failures++ {
		changes, err := w.reg.Watch(ctx, svc)
		if err == nil {
			if failures > 0 {
				w.log.Info("watching service", "service", svc, "after_failures", failures)
			}
			return changes
		}
		if ctx.Err() != nil {
			return nil
		}
		w.fetchFailed(failures == 0, "cannot watch service; retrying until it can", err, "service", svc, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// follow keeps svc's providers in the store: a fetch once the watch is set
// up, then one after every change signal (failures retried with backoff).
// A watch whose channel closes before ctx ends is set up again.
func (w *watcher) follow(ctx context.Context, svc string) {
	changes := w.subscribe(ctx, svc)
	if changes == nil {
		return
	}
	retry := time.NewTimer(0) // the first fetch
	defer retry.Stop()
	backoff := 250 * time.Millisecond
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				if changes = w.subscribe(ctx, svc); changes == nil {
					return
				}
			}
		case <-retry.C:
		}
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		replaced, err := w.store.refetch(fctx, w.reg, svc)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.fetchFailed(!failing, "cannot fetch service; files stay as they are", err, "service", svc, "retry_in", backoff)
			failing = true
			retry.Reset(backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		w.outage.ok()
		failing = false
		if replaced {
			w.outage.startSettle("every provider of " + svc + " was replaced at once")
		}
		backoff = 250 * time.Millisecond
		select {
		case w.changed <- svc:
		case <-ctx.Done():
			return
		}
	}
}

// fetchFailed logs a failed request: an unreachable registry as the outage
// (once, see outage), anything else (an ACL refusal) at Warn when first is
// set — the first failure of a streak — and at Debug otherwise.
func (w *watcher) fetchFailed(first bool, msg string, err error, attrs ...any) {
	attrs = append(attrs, "err", err)
	switch {
	case errors.Is(err, registry.ErrUnreachable):
		w.outage.failed(err)
		w.log.Debug(msg, attrs...)
	case first:
		w.log.Warn(msg, attrs...)
	default:
		w.log.Debug(msg, attrs...)
	}
}
