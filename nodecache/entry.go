package nodecache

import (
	"context"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// retryAfter is how long a failed re-list waits for a watch signal before
// it tries again by itself.
const retryAfter = time.Second

// entry is one watched service.
type entry struct {
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed once the first listing is in (or failed)
	kick   chan struct{} // a re-list is wanted (reconnect)

	mu        sync.Mutex
	providers []registry.Provider
	index     uint64
	ok        bool      // the last listing succeeded
	failedAt  time.Time // when the listing stopped being current
	reason    string
	changed   chan struct{} // closed and replaced at every index bump
	asked     time.Time
}

func newEntry(parent context.Context) *entry {
	ctx, cancel := context.WithCancel(parent)
	return &entry{ctx: ctx, cancel: cancel, ready: make(chan struct{}), kick: make(chan struct{}, 1),
		changed: make(chan struct{}), asked: time.Now(), failedAt: time.Now(), reason: "not listed yet"}
}

func (e *entry) touch() {
	e.mu.Lock()
	e.asked = time.Now()
	e.mu.Unlock()
}

func (e *entry) lastAsk() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asked
}

func (e *entry) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// follow watches the service and re-lists on every signal until the entry
// is dropped. The watch is set before the first listing, so no change is
// missed between them.
func (c *Cache) follow(e *entry, service string) {
	var changes <-chan struct{}
	for {
		ch, err := c.reg.Watch(e.ctx, service)
		if err == nil {
			changes = ch
			break
		}
		e.fail(err.Error())
		c.log.Warn("node cache: watch not set; retrying", "service", service, "err", err)
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(retryAfter):
		}
	}
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case _, open := <-changes:
			if !open {
				return
			}
		case <-e.kick:
		case <-retry.C:
		}
		c.relist(e, service, retry)
	}
}

// relist lists the service once; a failure arms retry.
func (c *Cache) relist(e *entry, service string, retry *time.Timer) {
	ctx, cancel := context.WithTimeout(e.ctx, c.listTimeout())
	ps, err := c.reg.Providers(ctx, service, registry.ListOptions{IncludeMaintenance: true})
	cancel()
	if err != nil {
		if e.ctx.Err() == nil {
			c.log.Debug("node cache: re-list failed", "service", service, "err", err)
			e.fail(err.Error())
			retry.Reset(retryAfter)
		}
		return
	}
	e.set(ps)
}

func (c *Cache) listTimeout() time.Duration { return 10 * time.Second }

// set records a successful listing.
func (e *entry) set(ps []registry.Provider) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.providers, e.ok, e.reason = ps, true, ""
	e.bumpLocked()
}

// fail records that the listing is no longer known to be current; the
// first failure starts its age.
func (e *entry) fail(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ok {
		e.failedAt = time.Now()
		e.ok = false
		e.bumpLocked()
	}
	e.reason = reason
	e.readyLocked()
}

func (e *entry) bumpLocked() {
	e.index++
	close(e.changed)
	e.changed = make(chan struct{})
	e.readyLocked()
}

func (e *entry) readyLocked() {
	select {
	case <-e.ready:
	default:
		close(e.ready)
	}
}

// changedAfter is Cache.Changed for this entry.
func (e *entry) changedAfter(index uint64) (<-chan struct{}, uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.index != index {
		done := make(chan struct{})
		close(done)
		return done, e.index, nil
	}
	return e.changed, e.index, nil
}

// snapshot is Cache.Get for this entry: fresh when the session is up and
// the last listing succeeded after it came up; otherwise stale since the
// earlier of the two, and answered only within staleOK.
func (e *entry) snapshot(service string, on *online, staleOK time.Duration) (Snapshot, error) {
	connected, downSince := on.state()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Snapshot{Providers: e.providers, Index: e.index}
	if connected && e.ok {
		return s, nil
	}
	since, reason := e.failedAt, e.reason
	if !connected && (e.ok || downSince.Before(since)) {
		since, reason = downSince, reasonDisconnected
	}
	if e.index == 0 || staleOK <= 0 || time.Since(since) > staleOK {
		// Never listed: there is nothing to serve, however stale.
		return Snapshot{}, &StaleError{Service: service, Since: since, Reason: reason}
	}
	s.Stale, s.Age = true, time.Since(since)
	return s, nil
}
