package coord

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Renewal keeps a server-side liveness token that svcdisco refreshes itself
// (a Consul session, an etcd lease), so it knows when to stop trusting it:
// the servers expire it one TTL after the last refresh they saw (Consul even
// doubles that), and a client library's own keep-alive gives up only after a
// whole TTL without an answer — too late for a lock holder or a leader,
// whose child must be dead before anyone else can take over. So it is
// refreshed every quarter TTL and declared lost when no refresh has
// succeeded for half the TTL, or at once when the server says it is gone.
type Renewal struct {
	ttl  time.Duration
	what string // e.g. "consul session 1f2e…", for messages
	log  *slog.Logger

	mu     sync.Mutex
	timer  *time.Timer
	lost   chan struct{}
	reason error
	stop   chan struct{}
	once   sync.Once
}

// RenewFunc refreshes the token once within ctx: gone is true when the
// server says it no longer exists, err when it could not be asked.
type RenewFunc func(ctx context.Context) (gone bool, err error)

// StartRenewal starts refreshing what (freshly created, so alive now) with
// renew, every ttl/4.
func StartRenewal(ttl time.Duration, what string, renew RenewFunc, log *slog.Logger) *Renewal {
	r := &Renewal{ttl: ttl, what: what, log: log, lost: make(chan struct{}), stop: make(chan struct{})}
	r.mu.Lock()
	r.timer = time.AfterFunc(ttl/2, func() {
		r.fail(fmt.Errorf("%w: no refresh of %s for %v (half the TTL %v)", ErrDisconnected, what, ttl/2, ttl))
	})
	r.mu.Unlock()
	go r.loop(renew)
	return r
}

func (r *Renewal) loop(renew RenewFunc) {
	tick := time.NewTicker(r.ttl / 4)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.lost:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.ttl/4)
		gone, err := renew(ctx)
		cancel()
		switch {
		case err == nil && gone:
			r.fail(fmt.Errorf("%w: %s no longer exists", ErrSessionExpired, r.what))
			return
		case err == nil:
			r.mu.Lock()
			if r.reason == nil {
				r.timer.Reset(r.ttl / 2)
			}
			r.mu.Unlock()
		default:
			r.log.Debug("refresh failed", "of", r.what, "err", err)
		}
	}
}

func (r *Renewal) fail(reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reason != nil {
		return
	}
	r.reason = reason
	r.timer.Stop()
	close(r.lost)
}

// Lost is closed when the token must no longer be trusted.
func (r *Renewal) Lost() <-chan struct{} { return r.lost }

// Reason says why Lost closed.
func (r *Renewal) Reason() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

// Stop stops refreshing; Lost closes with ErrReleased. The caller then
// destroys the token on the server.
func (r *Renewal) Stop() {
	r.once.Do(func() { close(r.stop) })
	r.fail(ErrReleased)
}
