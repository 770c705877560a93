package nodecache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/registry"
)

// Reader is what readers get when an agent socket is configured: it asks
// the agent, and goes to the registry directly (opened on first need, then
// kept for the rest of the process) when the agent does not answer or
// cannot vouch for a fresh answer. Only when the registry fails too, and
// the caller allows stale answers, does it take the agent's stale one.
type Reader struct {
	Agent *Client
	// Open opens the registry directly.
	Open   func(ctx context.Context) (registry.Registry, error)
	Logger *slog.Logger

	mu     sync.Mutex
	direct registry.Registry
	off    bool // the agent failed once: stay on the registry
}

// useAgent reports whether the agent is still in use.
func (r *Reader) useAgent() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.off
}

// fallBack records why the agent is left, and opens the registry.
func (r *Reader) fallBack(ctx context.Context, err error) (registry.Registry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.off {
		r.off = true
		if r.Logger != nil && err != nil {
			r.Logger.Debug("node cache not used; asking the registry directly", "socket", r.Agent.Path, "reason", err)
		}
	}
	if r.direct != nil {
		return r.direct, nil
	}
	reg, err := r.Open(ctx)
	if err != nil {
		return nil, err
	}
	r.direct = reg
	return reg, nil
}

// agentFailed reports whether err means the agent should be left for the
// registry (rather than an answer to pass on, like a bad service name).
func agentFailed(err error) bool {
	return errors.Is(err, ErrNoAgent) || errors.Is(err, ErrStale)
}

// Providers implements registry.Registry.
func (r *Reader) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	if r.useAgent() {
		ps, err := r.fresh().Providers(ctx, service, opts)
		if err == nil || !agentFailed(err) {
			return ps, err
		}
		reg, derr := r.fallBack(ctx, err)
		if derr == nil {
			if ps, derr = reg.Providers(ctx, service, opts); derr == nil {
				return ps, nil
			}
		}
		if errors.Is(err, ErrStale) && r.Agent.StaleOK > 0 && ctx.Err() == nil {
			if ps, serr := r.Agent.Providers(ctx, service, opts); serr == nil {
				return ps, nil
			}
		}
		return nil, derr
	}
	reg, err := r.fallBack(ctx, nil)
	if err != nil {
		return nil, err
	}
	return reg.Providers(ctx, service, opts)
}

// fresh is the agent client asking for fresh answers only.
func (r *Reader) fresh() *Client {
	c := *r.Agent
	c.StaleOK = 0
	return &c
}

// Services implements registry.Registry.
func (r *Reader) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	if r.useAgent() {
		cs, err := r.Agent.Services(ctx)
		if err == nil || !agentFailed(err) {
			return cs, err
		}
		if _, ferr := r.fallBack(ctx, err); ferr != nil {
			return nil, ferr
		}
	}
	reg, err := r.fallBack(ctx, nil)
	if err != nil {
		return nil, err
	}
	return reg.Services(ctx)
}

// Watch implements registry.Registry: the agent's watch while the agent is
// used, so a wait costs the registry nothing.
func (r *Reader) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	if r.useAgent() {
		ch, err := r.Agent.Watch(ctx, service)
		if err == nil || !agentFailed(err) {
			return ch, err
		}
		if _, ferr := r.fallBack(ctx, err); ferr != nil {
			return nil, ferr
		}
	}
	reg, err := r.fallBack(ctx, nil)
	if err != nil {
		return nil, err
	}
	return reg.Watch(ctx, service)
}

// Register implements registry.Registry on the registry itself.
func (r *Reader) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	reg, err := r.fallBack(ctx, nil)
	if err != nil {
		return nil, err
	}
	return reg.Register(ctx, p)
}

// SetStatus implements registry.Registry on the registry itself.
func (r *Reader) SetStatus(ctx context.Context, p registry.Provider, status string) error {
	reg, err := r.fallBack(ctx, nil)
	if err != nil {
		return err
	}
	return reg.SetStatus(ctx, p, status)
}

// Close closes the registry if it was opened.
func (r *Reader) Close() error {
	r.Agent.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.direct != nil {
		return r.direct.Close()
	}
	return nil
}

// UsedAgent reports whether every answer so far came from the agent.
func (r *Reader) UsedAgent() bool { return r.useAgent() }

var _ registry.Registry = (*Reader)(nil)
var _ registry.Registry = (*Client)(nil)

// detector returns the registry's leader detector (opening the registry:
// elections are not cached by the agent).
func (r *Reader) detector(ctx context.Context) (coord.Detector, error) {
	r.mu.Lock()
	direct := r.direct
	r.mu.Unlock()
	if direct == nil {
		var err error
		if direct, err = r.openDirect(ctx); err != nil {
			return nil, err
		}
	}
	if w, ok := direct.(interface{ Current() registry.Registry }); ok {
		direct = w.Current()
	}
	det, ok := direct.(coord.Detector)
	if !ok {
		return nil, fmt.Errorf("no elections in this registry")
	}
	return det, nil
}

// openDirect opens the registry without leaving the agent for reads.
func (r *Reader) openDirect(ctx context.Context) (registry.Registry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.direct != nil {
		return r.direct, nil
	}
	reg, err := r.Open(ctx)
	if err != nil {
		return nil, err
	}
	r.direct = reg
	return reg, nil
}

// Leader implements coord.Detector on the registry itself, so templates
// calling leader work through a Reader.
func (r *Reader) Leader(ctx context.Context, group string) (coord.LeaderChange, error) {
	det, err := r.detector(ctx)
	if err != nil {
		return coord.LeaderChange{}, err
	}
	return det.Leader(ctx, group)
}

// WatchLeader implements coord.Detector on the registry itself.
func (r *Reader) WatchLeader(ctx context.Context, group string) (<-chan coord.LeaderChange, error) {
	det, err := r.detector(ctx)
	if err != nil {
		return nil, err
	}
	return det.WatchLeader(ctx, group)
}
