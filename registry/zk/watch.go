package zk

import (
	"context"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/svcdisco/svcdisco/internal/zkcall"
)

// Watch signals whenever the service's providers may have changed: a child
// added or removed (child watch), a provider's data changed (data watch per
// provider, for maintenance flips), or the client reconnected (everything is
// re-listed, since watches may have been lost with an expired session).
// ZooKeeper watches fire once; each is re-armed after it fires.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	out := make(chan struct{}, 1)
	reconnected, unsubscribe := r.session.subscribe()
	go func() {
		defer close(out)
		defer unsubscribe()
		w := &serviceWatch{r: r, dir: r.servicePath(service), out: out, data: map[string]bool{}}
		w.loop(ctx, reconnected)
	}()
	return out, nil
}

type serviceWatch struct {
	r    *Registry
	dir  string
	out  chan struct{}
	data map[string]bool // children with an armed data watch
	// fired receives the name of a child whose data watch fired.
	fired chan string
}

func (w *serviceWatch) loop(ctx context.Context, reconnected <-chan struct{}) {
	w.fired = make(chan string, 64)
	// pending defers the signal for a change until the watches are armed
	// again: a consumer that re-lists on the signal then cannot miss a
	// change made between the watch firing and its re-arming.
	pending := false
	for {
		changed, err := w.arm(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.r.log.Debug("watch: re-arming after error", "path", w.dir, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-reconnected:
				pending = true
				continue
			case <-time.After(500 * time.Millisecond):
				continue
			}
		}
		if pending {
			notify(w.out)
			pending = false
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case name := <-w.fired:
			delete(w.data, name)
		case <-reconnected:
			// Watches survive a reconnect on the same session but not an
			// expiry; re-arm everything either way.
			w.data = map[string]bool{}
		}
		pending = true
	}
}

// arm sets a child watch on the service (or an exists watch while it does
// not exist) and a data watch on every child that has none yet.
func (w *serviceWatch) arm(ctx context.Context) (<-chan zk.Event, error) {
	conn := w.r.conn
	names, _, ch, err := zkcall.Do3(ctx, func() ([]string, *zk.Stat, <-chan zk.Event, error) { return conn.ChildrenW(w.dir) })
	if errors.Is(err, zk.ErrNoNode) {
		ok, _, ech, err := zkcall.Do3(ctx, func() (bool, *zk.Stat, <-chan zk.Event, error) { return conn.ExistsW(w.dir) })
		if err != nil {
			return nil, err
		}
		if ok { // created meanwhile: list it
			c := make(chan zk.Event, 1)
			c <- zk.Event{}
			return c, nil
		}
		return ech, nil
	}
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(names))
	for _, name := range names {
		present[name] = true
	}
	for name := range w.data {
		if !present[name] {
			delete(w.data, name)
		}
	}
	for _, name := range names {
		if w.data[name] || isMarker(name) { // a marker comes and goes: the child watch sees it
			continue
		}
		_, _, dch, err := zkcall.Do3(ctx, func() ([]byte, *zk.Stat, <-chan zk.Event, error) { return conn.GetW(w.dir + "/" + name) })
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		w.data[name] = true
		go func() {
			select {
			case ev := <-dch:
				if ev.Type == zk.EventNodeDataChanged {
					select {
					case w.fired <- name:
					case <-ctx.Done():
					}
					return
				}
				// Deleted (the child watch reports it) or not watching
				// any more (a reconnect re-arms everything).
			case <-ctx.Done():
			}
		}()
	}
	return ch, nil
}
