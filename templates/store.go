package templates

import (
	"context"
	"fmt"
	"sync"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
)

// Store holds the providers fetched so far, shared by every template of a
// run so that a service is fetched (and watched) once however many
// templates read it. It implements Data.
type Store struct {
	// EnsembleFunc returns the ZooKeeper connection string; nil renders "".
	// It is a function value so the lookup (zk:// URL, or Exhibitor) is
	// decided by the caller.
	EnsembleFunc func() (string, error)
	// Answers, when set, keeps every service fetched in the answer cache.
	Answers *query.Answers

	mu        sync.Mutex
	providers map[string][]registry.Provider
	services  []string
	catalog   bool
	ensemble  string
	ensOK     bool
	detector  coord.Detector // answers `leader`; see leader.go
	// leaders are the watched groups' latest values (render --watch).
	leaders map[string]coord.LeaderChange
}

// NewStore returns an empty store.
func NewStore(ensemble func() (string, error)) *Store {
	return &Store{EnsembleFunc: ensemble, providers: map[string][]registry.Provider{}}
}

// Providers implements Data.
func (s *Store) Providers(svc string) ([]registry.Provider, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps, ok := s.providers[svc]
	return ps, ok
}

// Services implements Data.
func (s *Store) Services() ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.services, s.catalog
}

// Ensemble implements Data; the first successful answer is kept for the
// run.
func (s *Store) Ensemble() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ensOK || s.EnsembleFunc == nil {
		return s.ensemble, nil
	}
	e, err := s.EnsembleFunc()
	if err != nil {
		return "", fmt.Errorf("ensemble: %w", err)
	}
	s.ensemble, s.ensOK = e, true
	return e, nil
}

// SetProviders records a service's providers (already sorted). It reports
// whether every one of at least two providers listed before is gone from
// the new list (none left with the same name and timestamp): the mark of
// a registry that lost its state or of every session expiring at once,
// rather than of deployments, which replace providers a few at a time.
func (s *Store) SetProviders(svc string, ps []registry.Provider) bool {
	if ps == nil {
		ps = []registry.Provider{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.providers[svc]
	s.providers[svc] = ps
	if len(prev) < 2 {
		return false
	}
	kept := make(map[string]bool, len(ps))
	for _, p := range ps {
		kept[p.Name+"|"+p.Timestamp.String()] = true
	}
	for _, p := range prev {
		if kept[p.Name+"|"+p.Timestamp.String()] {
			return false
		}
	}
	return true
}

// SetServices records the service list.
func (s *Store) SetServices(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services, s.catalog = names, true
}

// FetchService lists a service's providers with their data, oldest first
// (query.Run, the semantics of `svcdisco query`), into the store.
func (s *Store) FetchService(ctx context.Context, reg registry.Registry, svc string) error {
	_, err := s.refetch(ctx, reg, svc)
	return err
}

// refetch is FetchService, also answering whether every provider was
// replaced at once (SetProviders).
func (s *Store) refetch(ctx context.Context, reg registry.Registry, svc string) (replaced bool, err error) {
	ps, err := query.Run(ctx, reg, query.Options{Service: svc, Answers: s.Answers})
	if err != nil {
		return false, fmt.Errorf("fetch %s: %w", svc, err)
	}
	return s.SetProviders(svc, ps), nil
}

// FetchServices lists every service name into the store.
func (s *Store) FetchServices(ctx context.Context, reg registry.Registry) error {
	counts, err := reg.Services(ctx)
	if err != nil {
		return fmt.Errorf("fetch services: %w", err)
	}
	names := make([]string, 0, len(counts))
	for _, c := range counts {
		names = append(names, c.Service)
	}
	s.SetServices(names)
	return nil
}
