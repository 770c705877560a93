// Package mirror is dual publishing (MESOS-890): a Registry that wraps a
// primary Registry and, optionally, a mirror ZooKeeper ensemble, the way
// package exhibitor wraps one. Every provider registered through it is
// registered on the primary as usual and copied to the mirror, on the
// mirror's own session, under the same znode name with the same data.
//
// The primary decides and the mirror follows:
//   - Reads (Providers, Services, Watch) and coordination (Current) are the
//     primary's. Register returns once the primary has the provider; the
//     mirror copy is made in the background, so a mirror that is down never
//     blocks or fails the primary: it is retried and reported on the log.
//   - A session expiry on either side re-registers on that side only: the
//     primary's backend does that itself (perhaps under a new name, which
//     the mirror copy then follows), the mirror's copy is re-created under
//     the name it had (zk.Registry.RegisterPinned).
//   - A status set on the primary (maintenance) is copied to the mirror.
//   - Deregister and Close remove the provider from both sides.
//
// SetMirror adds, replaces or removes the mirror while providers are held,
// without touching their primary registrations. Promote makes the mirror
// the primary: the mirror's copies become the registrations (the same
// znodes, nothing re-created on the mirror) and the old primary is closed,
// which deregisters every provider there.
//
// API (stable): New, Options, (*Registry).SetMirror, Promote, MirrorURL,
// MirrorChanged, Primary, Mirror, Current, and the registry.Registry
// methods; Registrations it returns implement registry.Registration and
// Synced.
package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// OpenFunc opens the mirror registry (a zk:// or exhibitor:// registry).
type OpenFunc func(ctx context.Context) (registry.Registry, error)

// Options configure a mirrored Registry.
type Options struct {
	// Timeout bounds each call to the mirror (open, register, deregister,
	// set status); default 10s.
	Timeout time.Duration
	// RetryEvery is how long a failed mirror call waits before it is
	// tried again, doubling while it keeps failing, up to 30s; default 2s.
	RetryEvery time.Duration
	Logger     *slog.Logger
}

// Pinner registers a provider under the znode name and timestamp it
// already carries and keeps that name across session expiry
// (zk.Registry.RegisterPinned). The mirror registry must be one, or wrap
// one (Current).
type Pinner interface {
	RegisterPinned(ctx context.Context, p registry.Provider) (registry.Registration, error)
}

// Changer is a Registration that signals whenever its Provider() may have
// changed (re-created under a new name, status changed). The primary's
// registrations must be Changers for the mirror to follow them.
type Changer interface {
	Changed() <-chan struct{}
}

// unwrapper is a decorating Registry (exhibitor.Registry, this one).
type unwrapper interface {
	Current() registry.Registry
}

// Registry is a primary Registry with an optional mirror.
type Registry struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	primary registry.Registry
	side    *side // nil: no mirror
	regs    map[*registration]struct{}
	closed  bool
	// changedC is closed and replaced whenever the sides change
	// (MirrorChanged).
	changedC chan struct{}
}

var _ registry.Registry = (*Registry)(nil)

// New wraps primary, with no mirror yet (SetMirror adds one).
func New(primary registry.Registry, o Options) *Registry {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Registry{opts: o, log: o.Logger.With("mirror", true), primary: primary, regs: map[*registration]struct{}{}, changedC: make(chan struct{})}
}

// Current is the primary (coordination lives on its session).
func (w *Registry) Current() registry.Registry { return w.Primary() }

// Primary is the registry written first and read from.
func (w *Registry) Primary() registry.Registry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.primary
}

// Mirror is the mirror registry once it is open; nil before, or with no
// mirror.
func (w *Registry) Mirror() registry.Registry {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.side == nil {
		return nil
	}
	return w.side.registry()
}

// MirrorURL is the mirror's URL as given to SetMirror ("" with none).
func (w *Registry) MirrorURL() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.side == nil {
		return ""
	}
	return w.side.url
}

// SetMirror replaces the mirror with the one open opens (url names it in
// logs and MirrorURL), or removes it when open is nil. The old mirror is
// closed (its copies deregistered) before this returns; the new one is
// opened and filled in the background. Primary registrations are not
// touched.
func (w *Registry) SetMirror(url string, open OpenFunc) {
	w.mu.Lock()
	old := w.side
	w.side = nil
	if open != nil && !w.closed {
		w.side = newSide(w, url, open)
	}
	regs := w.registrations()
	w.sidesChanged()
	w.mu.Unlock()
	if old != nil {
		w.log.Info("mirror removed", "url", old.url)
		old.close()
	}
	for _, r := range regs {
		notify(r.kick)
	}
}

// MirrorChanged is closed at the next change of the sides: a mirror set,
// opened or removed, a promotion, Close. Code that keeps state of its own on the
// mirror (elections) waits on it, then reads Primary and Mirror again.
func (w *Registry) MirrorChanged() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changedC
}

// sidesChanged wakes MirrorChanged's waiters; w.mu is held.
func (w *Registry) sidesChanged() {
	close(w.changedC)
	w.changedC = make(chan struct{})
}

// registrations lists the held registrations; w.mu is held.
func (w *Registry) registrations() []*registration {
	out := make([]*registration, 0, len(w.regs))
	for r := range w.regs {
		out = append(out, r)
	}
	return out
}

func (w *Registry) currentSide() *side {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.side
}

// Register registers p on the primary and returns; the mirror copy
// follows in the background.
func (w *Registry) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	for {
		w.mu.Lock()
		primary, closed := w.primary, w.closed
		w.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("register %s: registry closed", p.Service)
		}
		preg, err := primary.Register(ctx, p)
		if err != nil {
			return nil, err
		}
		w.mu.Lock()
		if w.primary != primary || w.closed {
			// Promoted (or closed) while registering: the old primary is
			// being closed, which removes preg; register on the new one.
			w.mu.Unlock()
			if err := preg.Deregister(ctx); err != nil {
				w.log.Debug("removing a registration made during promotion", "service", p.Service, "err", err)
			}
			continue
		}
		r := newRegistration(w, preg)
		w.regs[r] = struct{}{}
		w.mu.Unlock()
		go r.follow()
		return r, nil
	}
}

// Providers lists the primary's providers.
func (w *Registry) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	return w.Primary().Providers(ctx, service, opts)
}

// Services lists the primary's services.
func (w *Registry) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	return w.Primary().Services(ctx)
}

// Watch watches the primary.
func (w *Registry) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	return w.Primary().Watch(ctx, service)
}

// SetStatus sets the status on the primary (its error is the result),
// then on the mirror's copy of the same znode when the mirror is open (it
// is not waited for). A mirror that fails is reported on the log, never as
// an error: a mirrored registrant copies the primary's status to its
// mirror copy anyway.
func (w *Registry) SetStatus(ctx context.Context, p registry.Provider, status string) error {
	if err := w.Primary().SetStatus(ctx, p, status); err != nil {
		return err
	}
	s := w.currentSide()
	if s == nil {
		return nil
	}
	m := s.registry()
	if m == nil {
		w.log.Warn("mirror: not connected; the status is set on the primary only", "url", s.url,
			"service", p.Service, "name", p.Name, "status", status)
		return nil
	}
	mctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	if err := m.SetStatus(mctx, p, status); err != nil {
		w.log.Warn("mirror: could not set the status there; the primary has it", "url", s.url,
			"service", p.Service, "name", p.Name, "status", status, "err", err)
	}
	return nil
}

// Close deregisters everything on both sides and closes both.
func (w *Registry) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	s, primary := w.side, w.primary
	w.side = nil
	w.sidesChanged()
	regs := w.registrations()
	w.mu.Unlock()
	for _, r := range regs {
		r.stopFollowing()
	}
	var wg sync.WaitGroup
	if s != nil {
		wg.Go(s.close)
	}
	err := primary.Close()
	wg.Wait()
	return err
}

// maxRetry caps the wait between retries of a failing mirror, so that a
// mirror down for hours is tried (and reported) twice a minute, not every
// RetryEvery.
const maxRetry = 30 * time.Second

// backoff is the wait after the n-th failure in a row: RetryEvery,
// doubling, at most maxRetry.
func (w *Registry) backoff(n int) time.Duration {
	d := w.opts.RetryEvery
	for i := 1; i < n && d < maxRetry; i++ {
		d *= 2
	}
	return min(d, max(maxRetry, w.opts.RetryEvery))
}

// notify signals a 1-slot channel without blocking.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// pinner finds the RegisterPinned of reg or of what it wraps.
func pinner(reg registry.Registry) (Pinner, bool) {
	for reg != nil {
		if p, ok := reg.(Pinner); ok {
			return p, true
		}
		u, ok := reg.(unwrapper)
		if !ok {
			return nil, false
		}
		reg = u.Current()
	}
	return nil, false
}
