package nodecache

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

const reasonDisconnected = "registry session disconnected"

// online follows whether the registry's session is connected. Only
// ZooKeeper has a session whose loss silences watches (a disconnected
// client hears of nothing); Consul and etcd listings fail instead, which
// marks their entries stale by itself, so they count as always connected.
type online struct {
	mu        sync.Mutex
	connected bool
	since     time.Time // of the last disconnect
}

// sessionSource is a registry reporting its ZooKeeper session.
type sessionSource interface {
	SessionEvents(ctx context.Context) <-chan zk.SessionEvent
}

func watchOnline(ctx context.Context, reg registry.Registry, log *slog.Logger, up, down func()) *online {
	o := &online{connected: true, since: time.Now()}
	if w, ok := reg.(interface{ Current() registry.Registry }); ok {
		reg = w.Current()
	}
	src, ok := reg.(sessionSource)
	if !ok {
		return o
	}
	events := src.SessionEvents(ctx)
	first, open := <-events // the state at subscription
	if open {
		o.apply(first)
	}
	go func() {
		for ev := range events {
			was, _ := o.state()
			o.apply(ev)
			now, _ := o.state()
			switch {
			case was && !now:
				log.Warn("node cache: registry session disconnected; answers are stale until it is back", "state", ev.State)
				down()
			case !was && now:
				log.Info("node cache: registry session connected; re-listing every watched service")
				up()
			}
		}
	}()
	return o
}

func (o *online) apply(ev zk.SessionEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := ev.State == zk.SessionConnected
	if o.connected && !c {
		o.since = time.Now()
	}
	o.connected = c
}

// state reports whether the session is connected, and since when it is
// not.
func (o *online) state() (bool, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.connected, o.since
}
