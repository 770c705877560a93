package zk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// now is the clock registrations are stamped with (tests replace it).
var now = time.Now

type registration struct {
	r *Registry

	// op is held across ZooKeeper calls (ensure, Deregister, SetStatus,
	// adoptStatus), one at a time. It is a 1-slot channel rather than a
	// mutex so that waiting for it honours a context: Deregister(ctx) gives
	// up when ctx ends instead of waiting behind a call stuck on a lost
	// connection.
	op chan struct{}

	// mu guards the fields below for quick reads; they change only while
	// op is held too.
	mu   sync.Mutex
	p    registry.Provider
	path string // znode we created or are creating; "" before the first try
	gone bool   // deregistered

	// recreated is signalled after every create so watchStatus re-arms its
	// data watch on the new znode; stop ends watchStatus.
	recreated chan struct{}
	stop      context.CancelFunc

	// pinned keeps the name and timestamp the provider came with across
	// re-creation (RegisterPinned); changed is signalled whenever
	// Provider() may have changed (Changed).
	pinned  bool
	changed chan struct{}
}

// Register creates p's ephemeral znode and keeps it: after a reconnect the
// znode is checked, after session expiry it is re-created (with a new
// timestamp) on the new session, and never twice.
func (r *Registry) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	return r.register(ctx, p, false)
}

func (r *Registry) register(ctx context.Context, p registry.Provider, pinned bool) (registry.Registration, error) {
	p = withDefaults(p)
	if err := p.Validate(); err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("register: %w", err))
	}
	reg := newRegistration(r, p)
	reg.pinned = pinned
	r.mu.Lock()
	r.regs[reg] = struct{}{}
	r.mu.Unlock()
	if err := reg.ensure(ctx); err != nil {
		// The create may still reach the server after ctx gave up on it.
		// Requests on one connection are answered in order, so a
		// deregistration sent now runs after it and removes the znode if it
		// was created: a caller that retries never ends up listed twice.
		go func() {
			dctx, cancel := context.WithTimeout(context.Background(), r.opts.SessionTimeout)
			defer cancel()
			if err := reg.Deregister(dctx); err != nil {
				r.log.Debug("cleaning up a failed registration", "service", p.Service, "err", err)
			}
		}()
		return nil, r.wrap("register "+p.Service, err)
	}
	wctx, stop := context.WithCancel(context.Background())
	reg.mu.Lock()
	reg.stop = stop
	gone := reg.gone
	reg.mu.Unlock()
	if !gone {
		go reg.watchStatus(wctx)
	}
	return reg, nil
}

func newRegistration(r *Registry, p registry.Provider) *registration {
	return &registration{r: r, p: p, op: make(chan struct{}, 1), recreated: make(chan struct{}, 1), changed: make(chan struct{}, 1)}
}

// lock takes op, or fails when ctx ends first.
func (reg *registration) lock(ctx context.Context) error {
	select {
	case reg.op <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (reg *registration) unlock() { <-reg.op }

// state returns the provider, znode path and gone flag together.
func (reg *registration) state() (registry.Provider, string, bool) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.p, reg.path, reg.gone
}

func (reg *registration) setPath(path string) {
	reg.mu.Lock()
	reg.path = path
	reg.mu.Unlock()
}

func (reg *registration) setProvider(p registry.Provider) {
	reg.mu.Lock()
	reg.p = p
	reg.mu.Unlock()
}

func withDefaults(p registry.Provider) registry.Provider {
	if p.ID == "" {
		p.ID = registry.DefaultID(p.Service, p.Host, p.Port)
	}
	if p.Status == "" {
		p.Status = registry.StatusUp
	}
	return p
}

// reconcile re-checks every registration; run after each (re)connect.
func (r *Registry) reconcile(ctx context.Context) error {
	if err := r.ensureAuth(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	regs := make([]*registration, 0, len(r.regs))
	for reg := range r.regs {
		regs = append(regs, reg)
	}
	r.mu.Unlock()
	errs := make([]error, len(regs))
	var wg sync.WaitGroup
	for i, reg := range regs {
		wg.Go(func() { errs[i] = reg.ensure(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ensure makes sure exactly one znode of this registration exists and is
// owned by the current session.
//
// The path is recorded BEFORE the create is sent. If the connection drops
// while the create is in flight, the next ensure (after reconnect) finds the
// znode under our session and keeps it instead of creating a second one.
func (reg *registration) ensure(ctx context.Context) error {
	if err := reg.lock(ctx); err != nil {
		return err
	}
	defer reg.unlock()
	p, path, gone := reg.state()
	if gone {
		return nil
	}
	conn := reg.r.conn
	sid := conn.SessionID()
	if path != "" {
		ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(path) })
		if err != nil {
			return err
		}
		if ok && st.EphemeralOwner == sid {
			return reg.syncMarker(ctx)
		}
		if ok {
			// Left by an earlier session of ours that the server has not
			// finished expiring: remove it rather than have two.
			_, err := zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, conn.Delete(path, st.Version) })
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
		}
		reg.r.log.Info("re-registering provider", "service", p.Service, "id", p.ID)
	}
	return reg.create(ctx, sid)
}

func (reg *registration) create(ctx context.Context, sid int64) error {
	conn := reg.r.conn
	base, _, _ := reg.state()
	parent := reg.r.servicePath(base.Service)
	ts := now().UTC().Truncate(time.Millisecond)
	if reg.pinned {
		ts = base.Timestamp
	}
	for attempt := 0; attempt < 100; attempt++ {
		p := base
		p.Timestamp = ts
		p.Name = InstanceName(p.Host, p.Port, ts)
		if reg.pinned {
			p.Name = base.Name
		}
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		path := parent + "/" + p.Name
		if !reg.r.claim(reg, path) { // another registration of ours has this name
			if reg.pinned {
				return fmt.Errorf("znode %s: %w (held by another registration of this process)", path, zk.ErrNodeExists)
			}
			ts = ts.Add(time.Millisecond)
			continue
		}
		reg.setPath(path)
		err = reg.createNode(ctx, path, data, p.Status)
		switch {
		case err == nil:
			reg.setProvider(p)
			notify(reg.recreated)
			notify(reg.changed)
			return nil
		case errors.Is(err, zk.ErrNoNode):
			if err := reg.r.ensureServiceDir(ctx, parent); err != nil {
				return err
			}
		case errors.Is(err, zk.ErrNodeExists):
			ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(path) })
			if err != nil {
				return err
			}
			if ok && st.EphemeralOwner == sid { // our own create, retried
				reg.setProvider(p)
				notify(reg.recreated)
				notify(reg.changed)
				return reg.syncMarker(ctx)
			}
			if reg.pinned { // the name is not ours to change: retried at the next reconcile
				return fmt.Errorf("znode %s: %w, owned by another session", path, zk.ErrNodeExists)
			}
			ts = ts.Add(time.Millisecond) // same host:port in the same ms: next ms
		default:
			return err
		}
	}
	return fmt.Errorf("could not create a unique znode under %s", parent)
}

// createNode creates the ephemeral znode, together with its maintenance
// marker in one multi-op when the provider is in maintenance, so no
// listing sees it without the marker.
func (reg *registration) createNode(ctx context.Context, path string, data []byte, status string) error {
	conn := reg.r.conn
	acl, err := reg.r.providerACL(ctx, parentOf(path))
	if err != nil {
		return err
	}
	if status != registry.StatusMaintenance {
		_, err := zkcall.Do1(ctx, func() (string, error) { return conn.Create(path, data, zk.FlagEphemeral, acl) })
		return err
	}
	res, err := zkcall.Do1(ctx, func() ([]zk.MultiResponse, error) {
		return conn.Multi(
			&zk.CreateRequest{Path: path, Data: data, Acl: acl, Flags: zk.FlagEphemeral},
			&zk.CreateRequest{Path: path + MarkerSuffix, Acl: acl, Flags: zk.FlagEphemeral},
		)
	})
	return multiErr(res, err)
}

// multiErr returns the error of the op that failed a multi (the others
// report a runtime inconsistency, which go-zookeeper does not name), else
// err.
func multiErr(res []zk.MultiResponse, err error) error {
	for _, r := range res {
		if errors.Is(r.Error, zk.ErrNodeExists) || errors.Is(r.Error, zk.ErrNoNode) {
			return r.Error
		}
	}
	return err
}

// claim records that reg uses path. It fails when another registration of
// this Registry already does: a znode owned by our session is then not
// proof that it is reg's own (retried) create.
func (r *Registry) claim(reg *registration, path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if other, ok := r.paths[path]; ok && other != reg {
		return false
	}
	if reg.path != "" && r.paths[reg.path] == reg {
		delete(r.paths, reg.path)
	}
	r.paths[path] = reg
	return true
}

func (reg *registration) Provider() registry.Provider {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.p
}

// Deregister deletes the znode now, so watchers see the provider vanish at
// once instead of after the session timeout. The znode and its maintenance
// marker go in one multi-op, so no listing sees the marker alone. It gives
// up when ctx ends (the znode then goes with the session).
func (reg *registration) Deregister(ctx context.Context) error {
	reg.mu.Lock()
	if reg.gone {
		reg.mu.Unlock()
		return nil
	}
	reg.gone = true
	stop, service := reg.stop, reg.p.Service
	reg.mu.Unlock()
	if stop != nil {
		stop()
	}
	if err := reg.lock(ctx); err != nil {
		return reg.r.wrap("deregister "+service, err)
	}
	defer reg.unlock()
	_, path, _ := reg.state()
	reg.r.mu.Lock()
	delete(reg.r.regs, reg)
	if reg.r.paths[path] == reg {
		delete(reg.r.paths, path)
	}
	reg.r.mu.Unlock()
	if path == "" {
		return nil
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		// NoNode: the marker went between the check and the multi, which
		// then deleted nothing; look again.
		if err = reg.deleteNodes(ctx, path); !errors.Is(err, zk.ErrNoNode) {
			break
		}
	}
	if reg.r.deleteLeftToSession(err, path) {
		err = nil
	}
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return reg.r.wrap("deregister "+service, err)
	}
	return nil
}

// deleteNodes deletes our znode and, when it is there, its marker, in one
// multi-op. Nodes owned by another session are left alone.
func (reg *registration) deleteNodes(ctx context.Context, path string) error {
	conn := reg.r.conn
	sid := conn.SessionID()
	ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(path) })
	if err != nil || !ok || st.EphemeralOwner != sid {
		return err
	}
	ops := []any{&zk.DeleteRequest{Path: path, Version: -1}}
	marker := path + MarkerSuffix
	mok, mst, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(marker) })
	if err != nil {
		return err
	}
	if mok && mst.EphemeralOwner == sid {
		ops = append(ops, &zk.DeleteRequest{Path: marker, Version: -1})
	}
	res, err := zkcall.Do1(ctx, func() ([]zk.MultiResponse, error) { return conn.Multi(ops...) })
	return multiErr(res, err)
}
