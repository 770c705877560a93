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

	mu        sync.Mutex
	providers map[string][]registry.Provider
	services  []string
	catalog   bool
	ensemble  string
	ensOK     bool
	detector  coord.Detector // answers `leader`; see leader.go
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

// SetProviders records a service's providers (already sorted).
func (s *Store) SetProviders(svc string, ps []registry.Provider) {
	if ps == nil {
		ps = []registry.Provider{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.providers[svc] = ps
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
	ps, err := query.Run(ctx, reg, query.Options{Service: svc})
	if err != nil {
		return fmt.Errorf("fetch %s: %w", svc, err)
	}
	s.SetProviders(svc, ps)
	return nil
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
