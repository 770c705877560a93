// Package nodecache is the node-local discovery cache that `svcdisco agent
// --serve` runs, and the client every reader (query, services, render, the
// Chef helpers) uses to ask it.
//
// The agent keeps, per service somebody asked for, one registry watch and
// the service's last listing in memory. The first ask of a service starts
// the watch; later asks are answered from memory with no registry round
// trip; a service nobody asked for during the idle time loses its watch.
// The whole node thus costs the ensemble one session (the agent's) and one
// watch per service, however many converges, templates and scripts ask.
//
// The cache never looks fresher than it is: while the agent's session is
// disconnected (or a re-list failed) every entry is stale, answered only to
// callers that allow stale answers up to a maximum age, with that age.
package nodecache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// DefaultIdle is how long a service's watch is kept after its last ask.
const DefaultIdle = 10 * time.Minute

// ErrStale is returned (wrapped in *StaleError) when the cache cannot vouch
// for an answer and the caller did not allow one that old.
var ErrStale = errors.New("node cache is stale")

// StaleError says why and since when the cache is stale.
type StaleError struct {
	Service string
	Since   time.Time // when the cache stopped being current
	Reason  string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("service %s: %v for %s (%s)", e.Service, ErrStale, time.Since(e.Since).Round(time.Millisecond), e.Reason)
}

func (e *StaleError) Unwrap() error { return ErrStale }

// badInput is an error in what the caller asked (answered 400).
type badInput struct{ error }

func (e badInput) Unwrap() error { return e.error }

// Snapshot is one service's listing as the cache holds it.
type Snapshot struct {
	// Providers are every provider, maintenance included, unsorted.
	Providers []registry.Provider
	// Index grows on every change of the listing (or of its freshness).
	Index uint64
	// Stale is set when the listing may be out of date; Age is then how
	// long it has been so (the caller allowed it).
	Stale bool
	Age   time.Duration
}

// Cache holds the watched services of one registry.
type Cache struct {
	reg    registry.Registry
	idle   time.Duration
	log    *slog.Logger
	online *online
	ctx    context.Context
	full   bool

	mu      sync.Mutex
	entries map[string]*entry
}

// Options configure a Cache.
type Options struct {
	// Idle is how long a service is watched after its last ask
	// (DefaultIdle when zero).
	Idle   time.Duration
	Logger *slog.Logger
	// FullFieldsOnly: the registry answers fields-only listings in full
	// (Consul); clients then keep what they get.
	FullFieldsOnly bool
}

// New returns a cache over reg that lives until ctx ends.
func New(ctx context.Context, reg registry.Registry, o Options) *Cache {
	if o.Idle <= 0 {
		o.Idle = DefaultIdle
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Cache{reg: reg, idle: o.Idle, log: o.Logger, ctx: ctx, full: o.FullFieldsOnly, entries: map[string]*entry{}}
	c.online = watchOnline(ctx, reg, c.log, c.reconnected, c.disconnected)
	go c.expireLoop()
	return c
}

// FullFieldsOnly is the option of that name.
func (c *Cache) FullFieldsOnly() bool { return c.full }

// Watched returns the services currently watched, for status and tests.
func (c *Cache) Watched() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.entries))
	for s := range c.entries {
		out = append(out, s)
	}
	return out
}

// Online reports whether the agent's registry session is connected.
func (c *Cache) Online() bool { ok, _ := c.online.state(); return ok }

// Get returns the service's listing, starting its watch on the first ask
// (and waiting, within ctx, for the first listing). A stale listing is
// returned only when staleOK is positive and the listing is at most that
// old; otherwise the error is a *StaleError.
func (c *Cache) Get(ctx context.Context, service string, staleOK time.Duration) (Snapshot, error) {
	e, err := c.entry(ctx, service)
	if err != nil {
		return Snapshot{}, err
	}
	return e.snapshot(service, c.online, staleOK)
}

// Changed returns a channel closed when the service's listing changes
// after index (at once when it already has), starting its watch on the
// first ask, and the current index.
func (c *Cache) Changed(ctx context.Context, service string, index uint64) (<-chan struct{}, uint64, error) {
	e, err := c.entry(ctx, service)
	if err != nil {
		return nil, 0, err
	}
	return e.changedAfter(index)
}

// Services lists every service through the agent's session: one round
// trip, no session of the caller's own.
func (c *Cache) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	if ok, since := c.online.state(); !ok {
		return nil, &StaleError{Service: "*", Since: since, Reason: reasonDisconnected}
	}
	return c.reg.Services(ctx)
}

// entry returns the service's entry, creating it (and its watch) on the
// first ask; it waits for the first listing.
func (c *Cache) entry(ctx context.Context, service string) (*entry, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, badInput{err}
	}
	c.mu.Lock()
	e, ok := c.entries[service]
	if !ok {
		e = newEntry(c.ctx)
		c.entries[service] = e
		go c.follow(e, service)
	}
	e.touch()
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("service %s: first listing: %w", service, ctx.Err())
	}
}

// reconnected re-lists every entry: events missed while disconnected are
// replayed by ZooKeeper on the same session, but an entry is fresh again
// only once a listing made after the reconnect has succeeded.
func (c *Cache) reconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		e.poke()
	}
}

// disconnected marks every entry stale: nothing it holds is known to be
// current any more.
func (c *Cache) disconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		e.fail(reasonDisconnected)
	}
}

// expireLoop drops the watch of every service not asked for during idle.
func (c *Cache) expireLoop() {
	t := time.NewTicker(c.idle / 4)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.expire(time.Now().Add(-c.idle))
	}
}

func (c *Cache) expire(cutoff time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s, e := range c.entries {
		if e.lastAsk().Before(cutoff) {
			e.cancel()
			delete(c.entries, s)
			c.log.Debug("node cache: watch dropped after idle time", "service", s)
		}
	}
}
