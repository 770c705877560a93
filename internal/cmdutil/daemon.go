package cmdutil

import (
	"context"

	"github.com/svcdisco/svcdisco/internal/metrics"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// ServeMetrics starts the Prometheus endpoint on addr for a daemon command
// (agent, register, render --watch); "" serves nothing. The returned stop
// is never nil.
func (f *Factory) ServeMetrics(addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	return metrics.Serve(addr, f.Logger)
}

// sessionEvents is a registry that reports its session (ZooKeeper's).
type sessionEvents interface {
	SessionEvents(ctx context.Context) <-chan zk.SessionEvent
}

// WatchSessionMetrics keeps svcdisco_session_state and
// svcdisco_session_expiries_total up to date from reg's session until ctx
// ends, for zk:// and exhibitor:// registries. Consul and etcd, which
// have no such session, are left alone.
func WatchSessionMetrics(ctx context.Context, reg registry.Registry) {
	if w, ok := reg.(interface{ Current() registry.Registry }); ok {
		reg = w.Current() // exhibitor://: the ZooKeeper registry it wraps, the same for its life
	}
	s, ok := reg.(sessionEvents)
	if !ok {
		return
	}
	go func() {
		var lastLost int64 // the session already counted as lost
		for ev := range s.SessionEvents(ctx) {
			lost := false
			if (ev.State == zk.SessionExpired || ev.State == zk.SessionPresumedLost) && ev.Session.ID != lastLost {
				lost, lastLost = true, ev.Session.ID
			}
			metrics.SessionChanged(ev.State.String(), lost)
		}
	}()
}
