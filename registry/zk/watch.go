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
// provider, for maintenance flips), or the watches had to be set again on a
// new session. ZooKeeper watches fire once; each is re-armed after it fires.
//
// Watch returns once its child watch is set, so a change made after Watch
// returns is always signalled: a caller that watches, then lists, then
// waits for signals cannot miss one. If the watch cannot be set yet (no
// connection), Watch still returns, and signals once it is set.
//
// Each watch costs one child watch and one data watch per provider, on the
// server and in go-zookeeper, however often the client reconnects: a
// reconnect on the same session keeps them (go-zookeeper sets them again on
// the server), and a new session ends them all (EventNotWatching), which is
// when they are set again.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	return r.watchDir(ctx, r.servicePath(service), r.markerDir(service), service)
}

// watchDir is Watch on any znode's children, and on the children of mdir,
// its maintenance markers ("" for none: other systems' entries); what names
// it in errors.
func (r *Registry) watchDir(ctx context.Context, dir, mdir, what string) (<-chan struct{}, error) {
	service := what
	if err := ctx.Err(); err != nil {
		return nil, r.wrap("watch "+service, err)
	}
	w := &serviceWatch{r: r, ctx: ctx, dir: dir, mdir: mdir, out: make(chan struct{}, 1), fired: make(chan fired, 64)}
	reconnected, unsubscribe := r.session.subscribe()
	// Arm now, unless the connection is down: then Watch does not wait for
	// it (a caller may be on its way out) and signals once armed instead.
	changed, err := (<-chan zk.Event)(nil), errNotArmed
	if r.session.connected() {
		actx, cancel := context.WithTimeout(ctx, r.session.timeout())
		changed, err = w.arm(actx)
		cancel()
	}
	if err != nil && ctx.Err() != nil {
		unsubscribe()
		w.stopData()
		return nil, r.wrap("watch "+service, err)
	}
	go func() {
		defer close(w.out)
		defer unsubscribe()
		defer w.stopData()
		w.loop(ctx, reconnected, changed, err)
	}()
	return w.out, nil
}

// errNotArmed stands for a first arm that was not tried (no connection).
var errNotArmed = errors.New("not connected yet")

type serviceWatch struct {
	r   *Registry
	ctx context.Context // the Watch's: data-watch goroutines live as long
	dir string
	out chan struct{}

	// mdir is the service's maintenance marker directory; maint its child
	// (or exists) watch, re-armed by arm and when it fires.
	mdir  string
	maint <-chan zk.Event

	sid      int64              // session the watches were set on
	data     map[string]bool    // children with an armed data watch
	dataGen  int                // generation of data watches (bumped by resetData)
	dataCtx  context.Context    // ends every data-watch goroutine
	dataStop context.CancelFunc //
	fired    chan fired         // a child whose data changed
}

// fired names a child whose data watch fired, in data-watch generation gen.
type fired struct {
	name string
	gen  int
}

// loop re-arms watches and signals out. A signal is sent only once the
// watches are armed again, so a consumer that re-lists on the signal cannot
// miss a change made between a watch firing and its re-arming.
func (w *serviceWatch) loop(ctx context.Context, reconnected <-chan struct{}, changed <-chan zk.Event, err error) {
	pending := err != nil // the first arm failed: signal when it works
	for {
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.r.log.Debug("watch: re-arming after error", "path", w.dir, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-reconnected:
			case <-time.After(500 * time.Millisecond):
			}
			changed, err = w.arm(ctx)
			pending = true
			continue
		}
		if pending {
			notify(w.out)
			pending = false
		}
		select {
		case <-ctx.Done():
			return
		case ev := <-changed:
			if ev.Type == zk.EventNotWatching { // session gone: every watch ended
				w.resetData()
			}
			changed, err = w.armService(ctx) // the marker watch re-arms itself when it fires
		case <-w.maint:
			w.maint, err = w.armMarkers(ctx)
		case f := <-w.fired:
			if f.gen != w.dataGen || w.data == nil {
				continue // from watches that ended with their session
			}
			delete(w.data, f.name)
			err = w.armData(ctx, f.name)
		case <-reconnected:
			// Same session: go-zookeeper set our watches again, and they
			// report what changed while we were away. New session: they
			// ended (EventNotWatching) or will; arm anew either way.
			if w.r.conn.SessionID() == w.sid {
				continue
			}
			w.resetData()
			changed, err = w.arm(ctx)
		}
		pending = true
	}
}

// resetData forgets every data watch and ends their goroutines (their
// watches ended with the session).
func (w *serviceWatch) resetData() {
	w.stopData()
	w.data = nil
	w.dataGen++
}

func (w *serviceWatch) stopData() {
	if w.dataStop != nil {
		w.dataStop()
		w.dataStop = nil
	}
}

// arm sets a child watch on the service (or an exists watch while it does
// not exist), one on its marker directory, and a data watch on every child
// that has none yet.
func (w *serviceWatch) arm(ctx context.Context) (<-chan zk.Event, error) {
	maint, err := w.armMarkers(ctx)
	if err != nil {
		return nil, err
	}
	w.maint = maint
	return w.armService(ctx)
}

// armMarkers sets a child watch on the marker directory, or an exists
// watch while it does not exist.
func (w *serviceWatch) armMarkers(ctx context.Context) (<-chan zk.Event, error) {
	if w.mdir == "" {
		return nil, nil // a nil channel never fires
	}
	conn := w.r.conn
	_, _, ch, err := zkcall.Do3(ctx, func() ([]string, *zk.Stat, <-chan zk.Event, error) { return conn.ChildrenW(w.mdir) })
	if !errors.Is(err, zk.ErrNoNode) {
		return ch, err
	}
	ok, _, ech, err := zkcall.Do3(ctx, func() (bool, *zk.Stat, <-chan zk.Event, error) { return conn.ExistsW(w.mdir) })
	if err != nil {
		return nil, err
	}
	if ok { // created meanwhile
		c := make(chan zk.Event, 1)
		c <- zk.Event{}
		return c, nil
	}
	return ech, nil
}

// armService arms the service directory's watches (see arm).
func (w *serviceWatch) armService(ctx context.Context) (<-chan zk.Event, error) {
	conn := w.r.conn
	if sid := conn.SessionID(); sid != w.sid {
		w.resetData()
		w.sid = sid
	}
	if w.data == nil {
		w.data = map[string]bool{}
		w.dataCtx, w.dataStop = context.WithCancel(w.ctx)
	}
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
		if err := w.armData(ctx, name); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// armData sets a data watch on one child, with a goroutine that reports
// its firing on w.fired. A deleted child needs none (the child watch
// reports it).
func (w *serviceWatch) armData(ctx context.Context, name string) error {
	conn := w.r.conn
	_, _, dch, err := zkcall.Do3(ctx, func() ([]byte, *zk.Stat, <-chan zk.Event, error) { return conn.GetW(w.dir + "/" + name) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	w.data[name] = true
	dctx, f := w.dataCtx, fired{name: name, gen: w.dataGen}
	go func() {
		select {
		case ev := <-dch:
			if ev.Type == zk.EventNodeDataChanged {
				select {
				case w.fired <- f:
				case <-dctx.Done():
				}
			}
			// Deleted (the child watch reports it) or not watching any
			// more (the child watch ends too, and everything is re-armed).
		case <-dctx.Done():
		}
	}()
	return nil
}
