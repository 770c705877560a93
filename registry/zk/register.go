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

	mu   sync.Mutex
	p    registry.Provider
	path string // znode we created or are creating; "" before the first try
	gone bool   // deregistered

	// recreated is signalled after every create so watchStatus re-arms its
	// data watch on the new znode; stop ends watchStatus.
	recreated chan struct{}
	stop      context.CancelFunc
}

// Register creates p's ephemeral znode and keeps it: after a reconnect the
// znode is checked, after session expiry it is re-created (with a new
// timestamp) on the new session, and never twice.
func (r *Registry) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	p = withDefaults(p)
	if err := p.Validate(); err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("register: %w", err))
	}
	reg := &registration{r: r, p: p, recreated: make(chan struct{}, 1)}
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
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.gone {
		return nil
	}
	conn := reg.r.conn
	sid := conn.SessionID()
	if reg.path != "" {
		ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(reg.path) })
		if err != nil {
			return err
		}
		if ok && st.EphemeralOwner == sid {
			return reg.syncMarker(ctx)
		}
		if ok {
			// Left by an earlier session of ours that the server has not
			// finished expiring: remove it rather than have two.
			_, err := zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, conn.Delete(reg.path, st.Version) })
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				return err
			}
		}
		reg.r.log.Info("re-registering provider", "service", reg.p.Service, "id", reg.p.ID)
	}
	return reg.create(ctx, sid)
}

func (reg *registration) create(ctx context.Context, sid int64) error {
	conn := reg.r.conn
	parent := reg.r.servicePath(reg.p.Service)
	ts := now().UTC().Truncate(time.Millisecond)
	for attempt := 0; attempt < 100; attempt++ {
		p := reg.p
		p.Timestamp = ts
		p.Name = InstanceName(p.Host, p.Port, ts)
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		path := parent + "/" + p.Name
		if !reg.r.claim(reg, path) { // another registration of ours has this name
			ts = ts.Add(time.Millisecond)
			continue
		}
		reg.path = path
		err = reg.createNode(ctx, path, data)
		switch {
		case err == nil:
			reg.p = p
			notify(reg.recreated)
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
				reg.p = p
				notify(reg.recreated)
				return reg.syncMarker(ctx)
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
func (reg *registration) createNode(ctx context.Context, path string, data []byte) error {
	conn := reg.r.conn
	acl, err := reg.r.providerACL(ctx, parentOf(path))
	if err != nil {
		return err
	}
	if reg.p.Status != registry.StatusMaintenance {
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
// once instead of after the session timeout.
func (reg *registration) Deregister(ctx context.Context) error {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.gone {
		return nil
	}
	reg.gone = true
	if reg.stop != nil {
		reg.stop()
	}
	reg.r.mu.Lock()
	delete(reg.r.regs, reg)
	if reg.r.paths[reg.path] == reg {
		delete(reg.r.paths, reg.path)
	}
	reg.r.mu.Unlock()
	if reg.path == "" {
		return nil
	}
	conn := reg.r.conn
	sid := conn.SessionID()
	ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(reg.path) })
	if err == nil && ok && st.EphemeralOwner == sid {
		_, err = zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, conn.Delete(reg.path, -1) })
		if err == nil && reg.p.Status == registry.StatusMaintenance {
			marker := reg.path + MarkerSuffix
			_, err = zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, conn.Delete(marker, -1) })
		}
	}
	if reg.r.deleteLeftToSession(err, reg.path) {
		err = nil
	}
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return reg.r.wrap("deregister "+reg.p.Service, err)
	}
	return nil
}
