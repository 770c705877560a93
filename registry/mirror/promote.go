package mirror

import (
	"context"
	"errors"
	"fmt"
)

// Promote makes the mirror the primary. It waits, within ctx, until every
// held provider has its copy on the mirror under its current name and
// status; then the copies become the registrations (the same znodes and
// sessions: nothing is re-created on the mirror) and the old primary is
// closed, which deregisters every provider there. On error nothing has
// changed.
func (w *Registry) Promote(ctx context.Context) error {
	s := w.currentSide()
	if s == nil {
		return errors.New("promote: no mirror")
	}
	m, err := s.wait(ctx, 0)
	if err != nil {
		return fmt.Errorf("promote mirror %s: %w", s.url, err)
	}
	if err := w.waitSynced(ctx, s); err != nil {
		return fmt.Errorf("promote mirror %s: %w", s.url, err)
	}
	w.mu.Lock()
	if w.side != s {
		w.mu.Unlock()
		return fmt.Errorf("promote mirror %s: the mirror changed meanwhile", s.url)
	}
	old := w.primary
	regs := w.registrations()
	for _, r := range regs {
		r.op.Lock()
	}
	for _, r := range regs {
		if !r.syncedOn(s) { // changed, or registered, since waitSynced
			for _, r := range regs {
				r.op.Unlock()
			}
			w.mu.Unlock()
			return fmt.Errorf("promote mirror %s: provider %s is not mirrored yet", s.url, r.Provider().Name)
		}
	}
	for _, r := range regs {
		r.promote()
	}
	w.primary, w.side = m, nil
	w.sidesChanged()
	s.gone.Store(true) // before the ops are released: no sync touches s again
	for _, r := range regs {
		r.op.Unlock()
	}
	w.mu.Unlock()
	s.detach()
	for _, r := range regs {
		notify(r.kick)
	}
	w.log.Info("mirror promoted to primary; closing the old primary", "url", s.url, "providers", len(regs))
	if err := old.Close(); err != nil {
		w.log.Warn("closing the old primary", "err", err)
	}
	return nil
}

// waitSynced waits until every registration's copy on s is in sync.
func (w *Registry) waitSynced(ctx context.Context, s *side) error {
	for {
		w.mu.Lock()
		regs := w.registrations()
		w.mu.Unlock()
		var pending *registration
		for _, r := range regs {
			if !r.syncedOn(s) {
				pending = r
				break
			}
		}
		if pending == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			p := pending.Provider()
			return fmt.Errorf("provider %s %s not mirrored yet: %w", p.Service, p.Name, ctx.Err())
		case <-pending.synced():
		}
	}
}
