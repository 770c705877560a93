package exhibitor

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// OpenFunc opens the backend on one ensemble (the ZooKeeper backend, with
// the chroot and root of the registry URL).
type OpenFunc func(ctx context.Context, servers []string) (registry.Registry, error)

// RegistryOptions configure OpenRegistry.
type RegistryOptions struct {
	Resolver *Resolver
	Open     OpenFunc
	// Poll is how often Exhibitor is asked again; 0 never. A changed
	// membership moves the registry to the new ensemble.
	Poll time.Duration
	// Timeout bounds each poll and each move.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Registry is a registry.Registry on the ensemble Exhibitor names, which
// follows the ensemble when its membership changes: it opens the backend on
// the new servers, re-registers every provider it holds there, tells every
// watcher to re-list, and only then closes the old connection (which
// deregisters the old entries). Registrations and watches handed out before
// a move keep working after it: they are proxies to the current backend.
//
// Only an answer from Exhibitor itself can move it. A poll that falls back
// to the cache or the backup list is not news about the ensemble, and
// moving a running process to the backup list because Exhibitor blinked
// would be an outage of its own.
type Registry struct {
	o      RegistryOptions
	log    *slog.Logger
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the poller has stopped

	// moving is held for writing during a move and for reading by
	// Register and Deregister, so no registration is added or removed
	// half-way through a move.
	moving sync.RWMutex

	mu       sync.Mutex
	cur      registry.Registry
	ensemble *Ensemble
	regs     map[*registration]struct{}
	subs     map[chan struct{}]struct{}
}

var _ registry.Registry = (*Registry)(nil)

// OpenRegistry resolves the ensemble (Exhibitor → cache → backup), opens
// the backend on it and starts polling.
func OpenRegistry(ctx context.Context, o RegistryOptions) (*Registry, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	ens, err := o.Resolver.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := o.Open(ctx, ens.Servers)
	if err != nil {
		return nil, fmt.Errorf("ensemble from %s (%s): %w", ens.Source, ens.Origin, err)
	}
	w := &Registry{
		o: o, log: o.Logger, cur: cur, ensemble: ens, done: make(chan struct{}),
		regs: map[*registration]struct{}{}, subs: map[chan struct{}]struct{}{},
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if o.Poll > 0 {
		go w.pollLoop()
	} else {
		close(w.done)
	}
	return w, nil
}

// Ensemble is the ensemble the registry is on now.
func (w *Registry) Ensemble() Ensemble {
	w.mu.Lock()
	defer w.mu.Unlock()
	return *w.ensemble
}

// Current is the backend the registry delegates to now.
func (w *Registry) Current() registry.Registry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// pollLoop asks Exhibitor every Poll, give or take 10%: a fleet started
// at once (a data-center power-on) would otherwise poll in lockstep.
func (w *Registry) pollLoop() {
	defer close(w.done)
	for {
		jitter := time.Duration(rand.Int64N(int64(w.o.Poll)/5+1)) - w.o.Poll/10
		t := time.NewTimer(w.o.Poll + jitter)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(w.ctx, w.o.Timeout)
		w.poll(ctx)
		cancel()
	}
}

func (w *Registry) poll(ctx context.Context) {
	ens, err := w.o.Resolver.Fetch(ctx)
	if err != nil {
		if w.ctx.Err() == nil {
			w.log.Warn("Exhibitor poll failed; staying on the current ensemble", "reason", err.Error())
		}
		return
	}
	old := w.Ensemble()
	if slices.Equal(ens.Servers, old.Servers) {
		return
	}
	w.log.Warn("ZooKeeper ensemble membership changed; moving",
		"from", strings.Join(old.Servers, ","), "to", strings.Join(ens.Servers, ","))
	if err := w.move(ctx, ens); err != nil {
		if w.ctx.Err() == nil {
			w.log.Error("could not move to the new ensemble; staying, will retry at the next poll", "err", err)
		}
		return
	}
	w.log.Info("moved to the new ensemble", "servers", strings.Join(ens.Servers, ","))
}

// move re-registers everything on ens and swaps the backend. All or
// nothing: if one provider cannot be registered on the new ensemble, the
// new connection is closed (removing what it registered) and the old one
// stays. Connecting and closing happen outside the lock, so a slow or dead
// ensemble does not hold up Register and Deregister (e.g. on SIGTERM).
func (w *Registry) move(ctx context.Context, ens *Ensemble) error {
	next, err := w.o.Open(ctx, ens.Servers)
	if err != nil {
		return err
	}
	old, err := w.swap(ctx, next, ens)
	if err != nil {
		next.Close()
		return err
	}
	if err := old.Close(); err != nil {
		w.log.Warn("closing the old ensemble's connection", "err", err)
	}
	return nil
}

func (w *Registry) swap(ctx context.Context, next registry.Registry, ens *Ensemble) (old registry.Registry, err error) {
	w.moving.Lock()
	defer w.moving.Unlock()
	if w.ctx.Err() != nil {
		return nil, w.ctx.Err()
	}
	w.mu.Lock()
	regs := make([]*registration, 0, len(w.regs))
	for reg := range w.regs {
		regs = append(regs, reg)
	}
	w.mu.Unlock()
	inners := make([]registry.Registration, len(regs))
	for i, reg := range regs {
		p := reg.current().Provider()
		p.Name, p.Timestamp = "", time.Time{} // set anew by the backend
		if inners[i], err = next.Register(ctx, p); err != nil {
			return nil, fmt.Errorf("re-register %s on %s: %w", p.Service, strings.Join(ens.Servers, ","), err)
		}
	}
	for i, reg := range regs {
		reg.mu.Lock()
		reg.inner = inners[i]
		reg.mu.Unlock()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old = w.cur
	w.cur, w.ensemble = next, ens
	for c := range w.subs {
		notify(c)
	}
	return old, nil
}

// Register registers p on the current ensemble and keeps it registered on
// whichever ensemble the registry moves to.
func (w *Registry) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	w.moving.RLock()
	defer w.moving.RUnlock()
	inner, err := w.Current().Register(ctx, p)
	if err != nil {
		return nil, err
	}
	reg := &registration{w: w, inner: inner}
	w.mu.Lock()
	w.regs[reg] = struct{}{}
	w.mu.Unlock()
	return reg, nil
}

// Providers lists a service on the current ensemble.
func (w *Registry) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	return w.Current().Providers(ctx, service, opts)
}

// SetStatus sets a listed provider's status on the current ensemble.
func (w *Registry) SetStatus(ctx context.Context, p registry.Provider, status string) error {
	return w.Current().SetStatus(ctx, p, status)
}

// Services lists the services on the current ensemble.
func (w *Registry) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	return w.Current().Services(ctx)
}

// Watch forwards the current backend's change signals, and signals once
// more after a move (so the watcher re-lists on the new ensemble).
func (w *Registry) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	moved := make(chan struct{}, 1)
	w.mu.Lock()
	w.subs[moved] = struct{}{}
	w.mu.Unlock()
	unsubscribe := func() {
		w.mu.Lock()
		delete(w.subs, moved)
		w.mu.Unlock()
	}
	in, cancel, err := w.watchCurrent(ctx, service)
	if err != nil {
		unsubscribe()
		return nil, err
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer unsubscribe()
		for {
			select {
			case <-ctx.Done():
				cancel()
				return
			case _, ok := <-in:
				if !ok {
					in = nil // backend closed: wait for a move or the end
					continue
				}
				notify(out)
			case <-moved:
				cancel()
				for {
					if in, cancel, err = w.watchCurrent(ctx, service); err == nil || ctx.Err() != nil {
						break
					}
					w.log.Warn("watch: re-arming on the new ensemble", "service", service, "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(500 * time.Millisecond):
					}
				}
				notify(out)
			}
		}
	}()
	return out, nil
}

func (w *Registry) watchCurrent(ctx context.Context, service string) (<-chan struct{}, context.CancelFunc, error) {
	ictx, cancel := context.WithCancel(ctx)
	in, err := w.Current().Watch(ictx, service)
	if err != nil {
		cancel()
		return nil, func() {}, err
	}
	return in, cancel, nil
}

// Close stops polling, then deregisters everything and closes the
// connection.
func (w *Registry) Close() error {
	w.cancel()
	<-w.done
	w.moving.Lock()
	defer w.moving.Unlock()
	return w.Current().Close()
}

// registration proxies to the registration on the current ensemble. New
// Registration methods delegate the same way: one line each.
type registration struct {
	w     *Registry
	mu    sync.Mutex
	inner registry.Registration
}

func (r *registration) current() registry.Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inner
}

func (r *registration) Provider() registry.Provider { return r.current().Provider() }

// SetStatus changes the status on the current ensemble; a move re-registers
// Provider(), which carries the status, so it survives the move.
func (r *registration) SetStatus(ctx context.Context, status string) error {
	r.w.moving.RLock()
	defer r.w.moving.RUnlock()
	return r.current().SetStatus(ctx, status)
}

func (r *registration) Deregister(ctx context.Context) error {
	r.w.moving.RLock()
	defer r.w.moving.RUnlock()
	r.w.mu.Lock()
	delete(r.w.regs, r)
	r.w.mu.Unlock()
	return r.current().Deregister(ctx)
}

// notify does a non-blocking send: one pending signal stands for many.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
