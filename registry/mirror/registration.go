package mirror

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// registration is a provider held on the primary with its copy on the
// mirror.
type registration struct {
	w    *Registry
	kick chan struct{} // sync now

	ctx    context.Context // ends follow and its mirror calls
	cancel context.CancelFunc
	done   chan struct{}

	// op serialises sync, promote and Deregister; mu guards the fields
	// for quick reads. Lock order: Registry.mu, op, mu.
	op      sync.Mutex
	mu      sync.Mutex
	primary registry.Registration
	side    *side                 // where mirror lives
	mirror  registry.Registration // nil: no copy yet
	gone    bool
	syncedC chan struct{} // closed and replaced after each successful sync
}

func newRegistration(w *Registry, primary registry.Registration) *registration {
	r := &registration{w: w, kick: make(chan struct{}, 1), done: make(chan struct{}), primary: primary, syncedC: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	notify(r.kick)
	return r
}

// Provider is the provider as the primary holds it.
func (r *registration) Provider() registry.Provider {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.primary.Provider()
}

// SetStatus sets the status on the primary; the mirror copy follows.
func (r *registration) SetStatus(ctx context.Context, status string) error {
	r.mu.Lock()
	p := r.primary
	r.mu.Unlock()
	err := p.SetStatus(ctx, status)
	notify(r.kick)
	return err
}

// Synced reports whether the mirror holds the provider under its current
// name and status (false with no mirror).
func (r *registration) Synced() bool {
	s := r.w.currentSide()
	return s != nil && r.syncedOn(s)
}

// Deregister removes the provider from both sides at once. The primary's
// result is the result; a mirror that does not answer within ctx and the
// mirror timeout is reported on the log (its copy goes with its session).
func (r *registration) Deregister(ctx context.Context) error {
	r.stopFollowing()
	r.w.mu.Lock()
	delete(r.w.regs, r)
	r.w.mu.Unlock()
	r.op.Lock()
	r.mu.Lock()
	r.gone = true
	primary, mirror, s := r.primary, r.mirror, r.side
	r.mirror, r.side = nil, nil
	r.mu.Unlock()
	r.op.Unlock()
	var wg sync.WaitGroup
	if mirror != nil {
		wg.Go(func() {
			mctx, cancel := context.WithTimeout(ctx, r.w.opts.Timeout)
			defer cancel()
			if err := mirror.Deregister(mctx); err != nil {
				r.w.log.Warn("mirror: deregistration failed; the copy goes when its session ends",
					"url", s.url, "service", mirror.Provider().Service, "err", err)
			}
		})
	}
	err := primary.Deregister(ctx)
	wg.Wait()
	return err
}

func (r *registration) stopFollowing() {
	r.cancel()
	<-r.done
}

// follow keeps the mirror copy in step with the primary registration.
func (r *registration) follow() {
	defer close(r.done)
	var retry <-chan time.Time
	failures := 0
	for {
		// The primary is the truth: a change on either side (a status set
		// on the mirror alone, say) brings the copy back in line.
		r.mu.Lock()
		changed, mirrorChanged := changes(r.primary), changes(r.mirror)
		r.mu.Unlock()
		select {
		case <-r.ctx.Done():
			return
		case <-r.kick:
		case <-changed:
		case <-mirrorChanged:
		case <-retry:
		}
		retry = nil
		err := r.sync()
		if err == nil {
			failures = 0
			continue
		}
		if r.ctx.Err() != nil {
			return
		}
		failures++
		wait := r.w.backoff(failures)
		r.w.log.Warn("mirror: copy failed; the primary is unaffected, retrying in the background",
			"retry_in", wait, "err", err)
		retry = time.After(wait)
	}
}

// changes is reg's Changed channel, or nil (never) when it has none.
func changes(reg registry.Registration) <-chan struct{} {
	if c, ok := reg.(Changer); ok {
		return c.Changed()
	}
	return nil
}

// sync makes the copy on the current mirror match the primary: same znode
// name, same data, same status.
func (r *registration) sync() error {
	s := r.w.currentSide()
	r.op.Lock()
	defer r.op.Unlock()
	r.mu.Lock()
	if r.gone {
		r.mu.Unlock()
		return nil
	}
	p := r.primary.Provider()
	if r.side != s || (s != nil && s.gone.Load()) {
		// Replaced or removed: closing the old side removes the copy.
		r.mirror, r.side = nil, nil
	}
	cur := r.mirror
	r.mu.Unlock()
	if s == nil || s.gone.Load() {
		return nil
	}
	m := s.registry()
	if m == nil {
		return nil // not open yet: openLoop kicks us
	}
	ctx, cancel := r.callContext(s)
	defer cancel()
	if cur != nil && cur.Provider().Name != p.Name {
		// The primary re-registered under a new name (its session expired).
		if err := cur.Deregister(ctx); err != nil {
			return fmt.Errorf("mirror %s: remove old copy %s: %w", s.url, cur.Provider().Name, err)
		}
		r.setMirror(nil, nil)
		cur = nil
	}
	if cur == nil {
		pin, _ := pinner(m)
		mreg, err := pin.RegisterPinned(ctx, p)
		if err != nil {
			return fmt.Errorf("mirror %s: copy %s provider %s: %w", s.url, p.Service, p.Name, err)
		}
		r.setMirror(mreg, s)
		cur = mreg
		r.w.log.Info("mirrored", "url", s.url, "service", p.Service, "id", p.ID, "name", p.Name)
	}
	if cur.Provider().Status != p.Status {
		if err := cur.SetStatus(ctx, p.Status); err != nil {
			return fmt.Errorf("mirror %s: set status of %s provider %s: %w", s.url, p.Service, p.Name, err)
		}
	}
	r.mu.Lock()
	close(r.syncedC)
	r.syncedC = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// callContext bounds one mirror call: the mirror timeout, the
// registration's life and the side's.
func (r *registration) callContext(s *side) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.ctx, r.w.opts.Timeout)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (r *registration) setMirror(m registry.Registration, s *side) {
	r.mu.Lock()
	r.mirror, r.side = m, s
	r.mu.Unlock()
}

// syncedOn reports whether the copy on s matches the primary.
func (r *registration) syncedOn(s *side) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.side != s || r.mirror == nil {
		return false
	}
	p, m := r.primary.Provider(), r.mirror.Provider()
	return p.Name == m.Name && p.Status == m.Status
}

// synced is closed at the next successful sync.
func (r *registration) synced() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncedC
}

// promote makes the mirror copy the registration; the caller holds the
// Registry's mu and r.op, and has checked syncedOn. The old primary
// registration is left to the old primary's Close.
func (r *registration) promote() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.primary, r.mirror, r.side = r.mirror, nil, nil
}
