package consul

import (
	"context"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/coord"
)

// heldSession is a Consul session that svcdisco renews itself
// (coord.Renewal), so it knows when to stop trusting it: api.Lock's own
// monitor can wait minutes on a blocking query to an agent that no longer
// answers. The servers invalidate a session only after the TTL (Consul even
// doubles it), so the holder, which gives up after half of it, stops first.
type heldSession struct {
	*coord.Renewal
	r  *Registry
	id string
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
	renew := func(ctx context.Context) (bool, error) {
		entry, _, err := r.client.Session().Renew(id, (&api.WriteOptions{Datacenter: r.opts.Datacenter}).WithContext(ctx))
		return err == nil && entry == nil, err
	}
	return &heldSession{Renewal: coord.StartRenewal(r.opts.TTL, "consul session "+id, renew, r.log), r: r, id: id}, nil
}

// destroy stops renewing and destroys the session (releasing its locks),
// within ctx.
func (s *heldSession) destroy(ctx context.Context) error {
	s.Stop()
	_, err := s.r.client.Session().Destroy(s.id, (&api.WriteOptions{Datacenter: s.r.opts.Datacenter}).WithContext(ctx))
	return s.r.wrap("destroy session", err)
}
