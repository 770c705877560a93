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
	l, err := r.client.LockOpts(&api.LockOptions{Key: key, Session: sid, LockWaitTime: time.Second})
	if err == nil {
		err = h.acquire(ctx, l)
	}
	if err != nil {
		h.destroySession()
		return nil, err
	}
	return h, nil
}

// acquire runs the recipe's Lock, giving up when ctx ends (the recipe
// itself only looks at its stop channel between blocking queries).
func (h *consulHold) acquire(ctx context.Context, l *api.Lock) error {
	stopCh := make(chan struct{})
	type res struct {
		lost <-chan struct{}
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		lost, err := l.Lock(stopCh)
		ch <- res{lost, err}
	}()
	var got res
	select {
	case got = <-ch:
	case <-ctx.Done():
		close(stopCh)
		go func() { // acquired just as we gave up: let go at once
			if g := <-ch; g.lost != nil {
				_ = l.Unlock()
			}
		}()
		return h.timeout(ctx)
	case <-h.lost:
		close(stopCh)
		return h.r.unreachable("lock "+h.name, h.LostReason())
	}
	if got.err != nil {
		return h.r.wrap("lock "+h.name, got.err)
	}
	if got.lost == nil {
		return h.timeout(ctx)
	}
	h.l = l
	pair, _, err := h.r.client.KV().Get(h.key, h.r.q(ctx))
	if err != nil || pair == nil || pair.Session != h.sid {
		_ = l.Unlock()
		return h.r.wrap("lock "+h.name+": read token", errors.Join(err, errors.New("lock key not ours after acquire")))
	}
	h.token = int64(pair.ModifyIndex)
	go h.monitor(got.lost)
	h.r.log.Info("lock acquired", "lock", h.name, "key", h.key, "token", h.token, "session", h.sid)
	return nil
}

func (h *consulHold) timeout(ctx context.Context) error {
	holder := ""
	qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if pair, _, err := h.r.client.KV().Get(h.key, h.r.q(qctx)); err == nil && pair != nil && pair.Session != "" {
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
	r     *Registry
	name  string
	key   string
	sid   string
	l     *api.Lock
	token int64

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
		if h.l != nil {
			if uerr := unlock(ctx, h.l); uerr != nil && !errors.Is(uerr, api.ErrLockNotHeld) {
				err = h.r.wrap("release lock "+h.name, uerr)
			}
		}
		if derr := h.destroySessionCtx(ctx); derr != nil && err == nil {
			err = derr
		}
	})
	return err
}

// unlock runs the recipe's Unlock (which takes no context) within ctx: an
// agent that does not answer must not hold up the exit; the session, which
// is destroyed next or expires, takes the lock with it.
func unlock(ctx context.Context, l *api.Lock) error {
	ch := make(chan error, 1)
	go func() { ch <- l.Unlock() }()
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
