package consul

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// LockDelay is the session's lock-delay: after a holder's session is
// invalidated, nobody can take the lock for this long. It is Consul's own
// default (and what `consul lock` gets), kept explicit because it is the
// margin that protects a partitioned holder that has not noticed yet.
const LockDelay = 15 * time.Second

var _ coord.Locker = (*Registry)(nil)

// LockKey is the key `consul lock <root>/locks/NAME` uses:
// <root>/locks/NAME/.lock (the root without its leading slash).
func (r *Registry) LockKey(name string) string {
	return strings.TrimPrefix(r.opts.Root, "/") + "/locks/" + name + "/.lock"
}

// Lock takes the lock name with the API's Lock recipe on LockKey(name), so
// `consul lock <root>/locks/NAME` and svcdisco exclude each other. The
// session (TTL = the registry's TTL, LockDelay) is created and renewed here
// rather than by the recipe, so that a renewal that has not succeeded for
// half the TTL declares the lock lost: Consul cannot invalidate the session
// before one TTL after the last renewal, and the child must be dead by
// then. The token is the key's ModifyIndex after the acquire (a Raft
// index: it strictly increases from holder to holder even when the key is
// deleted and re-created, unlike the key's LockIndex, which restarts).
func (r *Registry) Lock(ctx context.Context, name string) (coord.Hold, error) {
	if err := registry.ValidateService(name); err != nil {
		return nil, exitcode.Usagef("lock name: %v", err)
	}
	key := r.LockKey(name)
	return r.hold(ctx, name, key, func(sid string) (recipe, error) {
		l, err := r.client.LockOpts(&api.LockOptions{Key: key, Session: sid, LockWaitTime: time.Second})
		if err != nil {
			return recipe{}, err
		}
		return recipe{
			acquire: l.Lock,
			release: func() error {
				if err := l.Unlock(); err != nil {
					return err
				}
				r.tidy("lock "+name, l.Destroy(), api.ErrLockInUse)
				return nil
			},
			ours: func(p *api.KVPair) bool { return p.Session == sid },
		}, nil
	})
}

// recipe is the API recipe (Lock or Semaphore) a consulHold runs.
type recipe struct {
	acquire func(stop <-chan struct{}) (<-chan struct{}, error)
	release func() error
	// ours says whether the key (read right after the acquire) shows
	// our session as a holder.
	ours func(*api.KVPair) bool
	// abandon removes what a failed acquire left behind (may be nil).
	abandon func(ctx context.Context)
}

// hold creates the session (TTL = the registry's TTL, LockDelay), starts
// renewing it and runs the recipe that mk builds on it.
func (r *Registry) hold(ctx context.Context, name, key string, mk func(sid string) (recipe, error)) (coord.Hold, error) {
	sid, _, err := r.client.Session().Create(&api.SessionEntry{
		Name:      "svcdisco lock " + name,
		TTL:       r.opts.TTL.String(),
		LockDelay: LockDelay,
		Behavior:  api.SessionBehaviorRelease,
	}, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return nil, r.wrap("lock "+name+": create session", err)
	}
	h := &consulHold{r: r, name: name, key: key, sid: sid, lost: make(chan struct{}), stop: make(chan struct{})}
	h.lastRenew.Store(time.Now().UnixNano())
	go h.renew()
	rc, err := mk(sid)
	if err == nil {
		err = h.acquire(ctx, rc)
	}
	if err != nil {
		if rc.abandon != nil {
			actx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			rc.abandon(actx)
			cancel()
		}
		h.destroySession()
		return nil, err
	}
	return h, nil
}

// acquire runs the recipe's acquire, giving up when ctx ends (the recipe
// itself only looks at its stop channel between blocking queries).
func (h *consulHold) acquire(ctx context.Context, rc recipe) error {
	stopCh := make(chan struct{})
	type res struct {
		lost <-chan struct{}
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		lost, err := rc.acquire(stopCh)
		ch <- res{lost, err}
	}()
	var got res
	select {
	case got = <-ch:
	case <-ctx.Done():
		close(stopCh)
		go func() { // acquired just as we gave up: let go at once
			if g := <-ch; g.lost != nil {
				_ = rc.release()
			}
		}()
		return h.timeout(ctx)
	case <-h.lost:
		close(stopCh)
		return h.r.unreachable("lock "+h.name, h.LostReason())
	}
	if got.err != nil {
		return h.recipeErr(got.err)
	}
	if got.lost == nil {
		return h.timeout(ctx)
	}
	h.unlock = rc.release
	pair, _, err := h.r.client.KV().Get(h.key, h.r.q(ctx))
	if err != nil || pair == nil || !rc.ours(pair) {
		_ = rc.release()
		return h.r.wrap("lock "+h.name+": read token", errors.Join(err, errors.New("lock key not ours after acquire")))
	}
	h.token = int64(pair.ModifyIndex)
	go h.monitor(got.lost)
	h.r.log.Info("lock acquired", "lock", h.name, "key", h.key, "token", h.token, "session", h.sid)
	return nil
}

// tidy logs why the recipe's Destroy (deleting the lock key once nobody
// holds it, as `consul lock` does, so that the name can later be used as the
// other kind of lock) did not happen; inUse (someone holds it again) is
// the normal case and not logged. The key left behind is harmless.
func (r *Registry) tidy(what string, err, inUse error) {
	if err != nil && !errors.Is(err, inUse) {
		r.log.Debug(what+": lock key left in place", "err", err)
	}
}

// recipeErr: a key in the way or a semaphore of another size is bad input
// (nothing the registry can fix by waiting); anything else is the
// registry's.
func (h *consulHold) recipeErr(err error) error {
	if errors.Is(err, api.ErrLockConflict) || errors.Is(err, api.ErrSemaphoreConflict) ||
		strings.Contains(err.Error(), "limit conflict") {
		return exitcode.Usagef("lock %s: %v (another kind or size of lock uses this prefix)", h.name, err)
	}
	return h.r.wrap("lock "+h.name, err)
}

func (h *consulHold) timeout(ctx context.Context) error {
	holder := ""
	qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pair, _, err := h.r.client.KV().Get(h.key, h.r.q(qctx))
	if err == nil && pair != nil && pair.Session == "" {
		holder = describeSemaphore(pair)
	}
	if err == nil && pair != nil && pair.Session != "" {
		holder = "session " + pair.Session
		if s, _, err := h.r.client.Session().Info(pair.Session, h.r.q(qctx)); err == nil && s != nil {
			holder = fmt.Sprintf("session %s (%s on node %s)", s.ID, s.Name, s.Node)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return exitcode.New(exitcode.LockTimeout, &coord.HeldError{Name: h.name, Holder: holder})
	}
	return ctx.Err()
}

// consulHold is a held Consul lock.
type consulHold struct {
	r    *Registry
	name string
	key  string
	sid  string
	// unlock is the recipe's release (nil until acquired).
	unlock func() error
	token  int64

	lastRenew atomicTime
	mu        sync.Mutex
	reason    error
	lost      chan struct{}
	stop      chan struct{}
	once      sync.Once
}

func (h *consulHold) Token() int64          { return h.token }
func (h *consulHold) Lost() <-chan struct{} { return h.lost }

func (h *consulHold) LostReason() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason
}

// KillBudget: a stop caused by a lost lock has a quarter of the TTL
// between SIGTERM and SIGKILL (see renew).
func (h *consulHold) KillBudget() time.Duration { return h.r.opts.TTL / 4 }

func (h *consulHold) fail(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reason == nil {
		h.reason = err
		close(h.lost)
	}
}

// renew renews the session every quarter TTL (each attempt bounded by an
// eighth) and declares the lock lost once no renewal has succeeded for half
// the TTL, or at once when Consul says the session is gone.
func (h *consulHold) renew() {
	ttl := h.r.opts.TTL
	t := time.NewTicker(ttl / 4)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-h.lost:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), ttl/8)
		s, _, err := h.r.client.Session().Renew(h.sid, (&api.WriteOptions{}).WithContext(ctx))
		cancel()
		switch {
		case err == nil && s == nil:
			h.fail(fmt.Errorf("lock %s: %w", h.name, coord.ErrSessionExpired))
			return
		case err == nil:
			h.lastRenew.Store(time.Now().UnixNano())
		case time.Since(h.lastRenew.Load()) > ttl/2:
			h.fail(fmt.Errorf("lock %s: %w: no session renewal for %v (half the TTL %v): %v",
				h.name, coord.ErrDisconnected, time.Since(h.lastRenew.Load()).Round(time.Millisecond), ttl, err))
			return
		}
	}
}

// monitor turns the recipe's lost channel (the key's session changed, or
// its blocking query failed) into ours.
func (h *consulHold) monitor(lost <-chan struct{}) {
	select {
	case <-lost:
		h.fail(fmt.Errorf("lock %s: %w (key %s no longer held by our session)", h.name, coord.ErrNodeGone, h.key))
	case <-h.stop:
	}
}

// Release unlocks the key and destroys the session. Call it only once the
// child is dead.
func (h *consulHold) Release(ctx context.Context) error {
	var err error
	h.once.Do(func() {
		h.fail(coord.ErrReleased)
		close(h.stop)
		if h.unlock != nil {
			if uerr := unlock(ctx, h.unlock); uerr != nil && !errors.Is(uerr, api.ErrLockNotHeld) && !errors.Is(uerr, api.ErrSemaphoreNotHeld) {
				err = h.r.wrap("release lock "+h.name, uerr)
			}
		}
		if derr := h.destroySessionCtx(ctx); derr != nil && err == nil {
			err = derr
		}
	})
	return err
}

// unlock runs the recipe's release (which takes no context) within ctx: an
// agent that does not answer must not hold up the exit; the session, which
// is destroyed next or expires, takes the lock with it.
func unlock(ctx context.Context, release func() error) error {
	ch := make(chan error, 1)
	go func() { ch <- release() }()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *consulHold) destroySession() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	close(h.stop)
	_ = h.destroySessionCtx(ctx)
}

func (h *consulHold) destroySessionCtx(ctx context.Context) error {
	_, err := h.r.client.Session().Destroy(h.sid, (&api.WriteOptions{}).WithContext(ctx))
	return h.r.wrap("destroy lock session", err)
}

// atomicTime is a time kept as unix nanoseconds.
type atomicTime struct{ ns atomic.Int64 }

func (a *atomicTime) Store(ns int64)  { a.ns.Store(ns) }
func (a *atomicTime) Load() time.Time { return time.Unix(0, a.ns.Load()) }
