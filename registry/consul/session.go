package consul

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/coord"
)

// heldSession is a Consul session that svcdisco renews itself, so it knows
// when to stop trusting it: api.Lock's own monitor can wait minutes on a
// blocking query to an agent that no longer answers. lost closes when the
// session is gone (renew says it does not exist) or when no renew has
// succeeded for half the TTL; the servers invalidate a session only after
// the TTL (Consul even doubles it), so the holder stops first.
type heldSession struct {
	r   *Registry
	id  string
	ttl time.Duration

	mu     sync.Mutex
	timer  *time.Timer
	lost   chan struct{}
	reason error
	stop   chan struct{}
	once   sync.Once
}

// newSession creates a session with the Registry's TTL whose locks are
// released (not deleted) when it is invalidated. Its lock-delay is
// Consul's default, 15s, as for `lock`: after an invalidation nobody can
// take its locks for that long, one more margin for a holder that is slow
// to notice.
func (r *Registry) newSession(ctx context.Context, name string) (*heldSession, error) {
	se := &api.SessionEntry{
		Name:      name,
		TTL:       r.opts.TTL.String(),
		LockDelay: LockDelay,
		Behavior:  api.SessionBehaviorRelease,
	}
	id, _, err := r.client.Session().Create(se, (&api.WriteOptions{Datacenter: r.opts.Datacenter}).WithContext(ctx))
	if err != nil {
		return nil, r.wrap("create session", err)
	}
	s := &heldSession{r: r, id: id, ttl: r.opts.TTL, lost: make(chan struct{}), stop: make(chan struct{})}
	s.mu.Lock()
	s.timer = time.AfterFunc(s.ttl/2, func() {
		s.fail(fmt.Errorf("%w: no session renewal for %v (half the TTL %v)", coord.ErrDisconnected, s.ttl/2, s.ttl))
	})
	s.mu.Unlock()
	go s.renew()
	return s, nil
}

func (s *heldSession) renew() {
	tick := time.NewTicker(s.ttl / 4)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.lost:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.ttl/4)
		entry, _, err := s.r.client.Session().Renew(s.id, (&api.WriteOptions{Datacenter: s.r.opts.Datacenter}).WithContext(ctx))
		cancel()
		switch {
		case err == nil && entry == nil:
			s.fail(fmt.Errorf("%w: consul session %s no longer exists", coord.ErrSessionExpired, s.id))
			return
		case err == nil:
			s.mu.Lock()
			if s.reason == nil {
				s.timer.Reset(s.ttl / 2)
			}
			s.mu.Unlock()
		default:
			s.r.log.Debug("session renewal failed", "session", s.id, "err", err)
		}
	}
}

func (s *heldSession) fail(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason != nil {
		return
	}
	s.reason = reason
	s.timer.Stop()
	close(s.lost)
}

// Lost is closed when the session must no longer be trusted.
func (s *heldSession) Lost() <-chan struct{} { return s.lost }

// Reason says why Lost closed.
func (s *heldSession) Reason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// destroy stops renewing and destroys the session (releasing its locks),
// within ctx.
func (s *heldSession) destroy(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	s.fail(coord.ErrReleased)
	_, err := s.r.client.Session().Destroy(s.id, (&api.WriteOptions{Datacenter: s.r.opts.Datacenter}).WithContext(ctx))
	return s.r.wrap("destroy session", err)
}
