package zk

// Maintenance mode on ZooKeeper.
//
// A provider in maintenance stays registered (its znode is not deleted) but
// is hidden from queries unless they ask for it. The status lives in the
// provider's JSON data, yet a fields-only listing (`query -o lines`) must
// stay ONE getChildren round trip that reads no data. So the names alone
// must tell which providers are in maintenance:
//
//   - The data is the truth. `svcdisco maintenance` (Registry.SetStatus)
//     only does a versioned setData of "status" — it may run anywhere and
//     cannot create ephemeral znodes in the registrant's session.
//   - The REGISTRANT follows it: every registration keeps a data watch on
//     its own znode. When the status in the data changes, it records the
//     status (so it survives re-registration after session expiry) and
//     creates or deletes an EPHEMERAL sibling marker
//     "<instance-name>~maintenance" in its own session. The marker dies with
//     the session, exactly like the instance it describes.
//   - ParseInstanceName rejects marker names ("~maintenance" is not part of
//     a millisecond timestamp), so tools that do not know markers skip them,
//     and listing and Services count only instance names.
//   - A registration that starts in maintenance (an agent file with
//     `maintenance: true`) creates znode and marker in one multi-op, so no
//     listing ever sees it without its marker.
//
// The cost: a fields-only listing learns of a flip one watch round trip
// after the data changed, and a provider written by another tool (no
// registrant to keep a marker) is never hidden by a fields-only listing;
// full listings read the status from the data and are always exact.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// MarkerSuffix turns an instance name into its maintenance marker's name.
const MarkerSuffix = "~maintenance"

func isMarker(name string) bool { return strings.HasSuffix(name, MarkerSuffix) }

// splitNames separates instance names from maintenance markers; maint holds
// the instance names that have a marker.
func splitNames(names []string) (instances []string, maint map[string]bool) {
	instances = make([]string, 0, len(names))
	maint = map[string]bool{}
	for _, n := range names {
		if isMarker(n) {
			maint[strings.TrimSuffix(n, MarkerSuffix)] = true
			continue
		}
		instances = append(instances, n)
	}
	return instances, maint
}

// SetStatus is `svcdisco maintenance`: a versioned read-modify-write of the
// provider's data, keeping fields this version does not know. The
// registrant sees the change through its data watch and moves its marker.
func (r *Registry) SetStatus(ctx context.Context, p registry.Provider, status string) error {
	if err := registry.ValidateStatus(status); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	znode := r.servicePath(p.Service) + "/" + p.Name
	for attempt := 0; attempt < 10; attempt++ {
		data, st, err := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return r.conn.Get(znode) })
		if errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("set status of %s provider %s: not registered (znode %s)", p.Service, p.ID, znode)
		}
		if err != nil {
			return r.wrap("set status "+znode, err)
		}
		fields := map[string]any{}
		if err := json.Unmarshal(data, &fields); err != nil {
			return fmt.Errorf("set status: znode %s: provider JSON: %w", znode, err)
		}
		if fields["status"] == status {
			return nil
		}
		fields["status"] = status
		out, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		_, err = zkcall.Do1(ctx, func() (*zk.Stat, error) { return r.conn.Set(znode, out, st.Version) })
		if errors.Is(err, zk.ErrBadVersion) {
			continue // changed under us: read again
		}
		return r.wrap("set status "+znode, err)
	}
	return fmt.Errorf("set status %s: data keeps changing", znode)
}

// SetStatus changes our own provider's status: data first, then marker.
func (reg *registration) SetStatus(ctx context.Context, status string) error {
	if err := registry.ValidateStatus(status); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	if err := reg.lock(ctx); err != nil {
		return reg.r.wrap("set status", err)
	}
	defer reg.unlock()
	reg.mu.Lock()
	if reg.gone {
		reg.mu.Unlock()
		return fmt.Errorf("set status of %s: deregistered", reg.p.Service)
	}
	reg.p.Status = status
	p, path := reg.p, reg.path
	reg.mu.Unlock()
	notify(reg.changed)
	if path == "" {
		return nil // recorded; the next create writes it
	}
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	conn := reg.r.conn
	_, err = zkcall.Do1(ctx, func() (*zk.Stat, error) { return conn.Set(path, data, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) { // NoNode: re-created with the status later
		return reg.r.wrap("set status of "+p.Service, err)
	}
	return reg.r.wrap("set status of "+p.Service, reg.syncMarker(ctx))
}

// syncMarker makes the marker's presence match the provider's status.
// Called with reg.op held.
func (reg *registration) syncMarker(ctx context.Context) error {
	p, path, gone := reg.state()
	if gone || path == "" {
		return nil
	}
	conn := reg.r.conn
	marker := path + MarkerSuffix
	ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(marker) })
	if err != nil {
		return err
	}
	want := p.Status == registry.StatusMaintenance
	sid := conn.SessionID()
	switch {
	case want && ok && st.EphemeralOwner == sid:
		return nil
	case !want && !ok:
		return nil
	case ok: // unwanted, or left by an old session of ours
		_, err := zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, conn.Delete(marker, -1) })
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return err
		}
		if !want {
			return nil
		}
	}
	acl, err := reg.r.providerACL(ctx, parentOf(marker))
	if err != nil {
		return err
	}
	_, err = zkcall.Do1(ctx, func() (string, error) {
		return conn.Create(marker, nil, zk.FlagEphemeral, acl)
	})
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return err
}

// watchStatus keeps a data watch on our own znode and adopts status changes
// made by others (see the comment at the top of this file). It runs until
// the registration is deregistered.
func (reg *registration) watchStatus(ctx context.Context) {
	conn := reg.r.conn
	for {
		_, path, _ := reg.state()
		var fired <-chan zk.Event
		var retry <-chan time.Time
		data, _, ch, err := zkcall.Do3(ctx, func() ([]byte, *zk.Stat, <-chan zk.Event, error) { return conn.GetW(path) })
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			fired = ch
			reg.adoptStatus(ctx, data)
		case errors.Is(err, zk.ErrNoNode):
			// Being re-created: ensure kicks us when it is back.
		default:
			retry = time.After(500 * time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return
		case <-reg.recreated:
		case <-fired:
		case <-retry:
		}
	}
}

// adoptStatus records the status found in our znode's data and moves the
// marker to match.
func (reg *registration) adoptStatus(ctx context.Context, data []byte) {
	var d struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(data, &d); err != nil || registry.ValidateStatus(d.Status) != nil {
		reg.r.log.Warn("ignoring unreadable status in own provider znode", "service", reg.Provider().Service, "data", string(data))
		return
	}
	sctx, cancel := context.WithTimeout(ctx, reg.r.session.timeout())
	defer cancel()
	if err := reg.lock(sctx); err != nil {
		return // deregistered or stuck: the next reconcile syncs the marker
	}
	defer reg.unlock()
	reg.mu.Lock()
	changed := reg.p.Status != d.Status
	reg.p.Status = d.Status
	p := reg.p
	reg.mu.Unlock()
	if changed {
		reg.r.log.Info("provider status changed", "service", p.Service, "id", p.ID, "status", d.Status)
		notify(reg.changed)
	}
	if err := reg.syncMarker(sctx); err != nil && ctx.Err() == nil {
		reg.r.log.Warn("could not update maintenance marker", "service", p.Service, "err", err)
	}
}
