package templates

import (
	"context"
	"fmt"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/registry"
)

// LeaderData is Data that can answer the `leader` function.
type LeaderData interface {
	// Leader returns group's leader; ok is false when there is none.
	Leader(group string) (p registry.Provider, ok bool, err error)
}

// leaderTimeout bounds one leader lookup while rendering.
const leaderTimeout = 10 * time.Second

// leader is the `leader "GROUP"` function: the leader of the election
// GROUP (`svcdisco elect GROUP`) in the provider shape, or nil when there is
// none, so `{{with leader "sched"}}{{.Host}}:{{.Port}}{{end}}` renders
// nothing then. A registry that cannot be asked fails the render, so the
// file on disk is kept.
func (r *recorder) leader(group string) (*registry.Provider, error) {
	if err := coord.ValidateGroup(group); err != nil {
		return nil, err
	}
	r.leaders[group] = true
	ld, ok := r.data.(LeaderData)
	if !ok {
		return nil, fmt.Errorf("leader %s: no elections in this registry", group)
	}
	p, ok, err := ld.Leader(group)
	if err != nil {
		return nil, fmt.Errorf("leader %s: %w", group, err)
	}
	if !ok {
		return nil, nil
	}
	return &p, nil
}

// useDetector lets the store answer `leader` from reg, when reg (or the
// registry an Exhibitor wrapper currently uses) runs elections.
func (s *Store) useDetector(reg registry.Registry) {
	if w, ok := reg.(interface{ Current() registry.Registry }); ok {
		reg = w.Current()
	}
	det, _ := reg.(coord.Detector)
	s.mu.Lock()
	s.detector = det
	s.mu.Unlock()
}

// Leader implements LeaderData: the watched value when `render --watch`
// follows the group (see leaderwatch.go), otherwise one read of the
// election.
func (s *Store) Leader(group string) (registry.Provider, bool, error) {
	s.mu.Lock()
	det := s.detector
	lc, watched := s.leaders[group]
	s.mu.Unlock()
	if watched {
		return lc.Leader, lc.OK, nil
	}
	if det == nil {
		return registry.Provider{}, false, fmt.Errorf("no elections in this registry")
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaderTimeout)
	defer cancel()
	lc, err := det.Leader(ctx, group)
	return lc.Leader, lc.OK, err
}

// setLeader records the latest value of a watched group.
func (s *Store) setLeader(group string, lc coord.LeaderChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leaders == nil {
		s.leaders = map[string]coord.LeaderChange{}
	}
	s.leaders[group] = lc
}

// forgetLeader drops a group whose watch ended, so that renders read the
// election again instead of trusting a value nobody updates.
func (s *Store) forgetLeader(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leaders, group)
}

func (s *Store) currentDetector() coord.Detector {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.detector
}
