package mirror

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// side is one mirror: opened in the background and retried until it
// answers, so that a mirror that is down never holds up the primary.
type side struct {
	w    *Registry
	url  string
	open OpenFunc

	ctx    context.Context // cancelled when the side is closed or promoted
	cancel context.CancelFunc
	ready  chan struct{} // closed once reg is set
	done   chan struct{} // closed when openLoop returns
	gone   atomic.Bool   // replaced, removed or promoted: copies stop

	mu  sync.Mutex
	reg registry.Registry
}

func newSide(w *Registry, url string, open OpenFunc) *side {
	s := &side{w: w, url: url, open: open, ready: make(chan struct{}), done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.openLoop()
	return s
}

// openLoop opens the mirror, retrying every RetryEvery and reporting each
// failure, until it is open or the side is closed.
func (s *side) openLoop() {
	defer close(s.done)
	log := s.w.log.With("url", s.url)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(s.ctx, s.w.opts.Timeout)
		reg, err := s.open(ctx)
		cancel()
		if err == nil {
			if _, ok := pinner(reg); !ok {
				log.Error("mirror: not a ZooKeeper registry; nothing is mirrored")
				_ = reg.Close()
				return
			}
			s.mu.Lock()
			s.reg = reg
			s.mu.Unlock()
			log.Info("mirror connected; copying providers", "attempts", attempt)
			s.w.mu.Lock()
			regs := s.w.registrations()
			if s.w.side == s {
				s.w.sidesChanged()
			}
			s.w.mu.Unlock()
			for _, r := range regs {
				notify(r.kick)
			}
			// Last: whoever waits for ready may hold s.w.mu (Promote).
			close(s.ready)
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		wait := s.w.backoff(attempt)
		log.Warn("mirror unreachable; the primary is unaffected, retrying in the background",
			"attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// registry is the open mirror, or nil.
func (s *side) registry() registry.Registry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reg
}

// wait returns the mirror once it is open, within ctx (and bound, when
// positive).
func (s *side) wait(ctx context.Context, bound time.Duration) (registry.Registry, error) {
	if bound > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, bound)
		defer cancel()
	}
	select {
	case <-s.ready:
		return s.registry(), nil
	case <-s.done:
		if r := s.registry(); r != nil {
			return r, nil
		}
		return nil, errors.New("mirror closed")
	case <-ctx.Done():
		return nil, fmt.Errorf("mirror %s not connected: %w", s.url, ctx.Err())
	}
}

// close stops the side and closes the mirror registry, which deregisters
// every copy on it.
func (s *side) close() {
	s.detach()
	if r := s.registry(); r != nil {
		if err := r.Close(); err != nil {
			s.w.log.Warn("mirror: closing", "url", s.url, "err", err)
		}
	}
}

// detach stops the side without closing its registry (promotion hands the
// registry over to the primary's place).
func (s *side) detach() {
	s.gone.Store(true)
	s.cancel()
	<-s.done
}
