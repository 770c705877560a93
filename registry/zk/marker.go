package zk

// Maintenance markers (see maintenance.go for why they exist).
//
// A marker is an empty EPHEMERAL znode <root>/maintenance/<service>/<name>
// created by the provider's registrant in its own session, where <name> is
// the provider znode's name. It lives outside the service directory so
// that service directories hold provider znodes only: foreign readers that
// iterate them (kazoo, Synapse's watcher, Curator) choke on, or skip as
// invalid, anything else.
//
// Older versions put the marker beside the provider, as the sibling
// <service>/<name>~maintenance. Listings keep hiding providers with such a
// sibling (and never list the sibling) until none is left; a registrant
// that finds one of its own session's old markers deletes it and writes the
// new one. Since old markers are ephemeral, they go with the sessions of
// the registrants that wrote them.
//
// ACLs: with authentication on, `chroot prime --service S --registrant …`
// gives registrants CREATE and DELETE on <root>/maintenance/<service>, so a
// registrant can start AND end maintenance of its own provider. The cost:
// a registrant may delete another host's marker. That host's registrant
// watches its own provider's data, not the marker, so the marker is back at
// its next reconcile (after a reconnect, or every ReconcileEvery); until
// then fields-only listings show that provider, while listings that read
// data still hide it by its status.

import (
	"context"
	"errors"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// MarkerSuffix names an old-style maintenance marker (a sibling of its
// provider in the service directory). Only read, never written.
const MarkerSuffix = "~maintenance"

func isMarker(name string) bool { return strings.HasSuffix(name, MarkerSuffix) }

func (r *Registry) maintenancePath() string { return r.base + "/maintenance" }

// markerDir is the directory of a service's maintenance markers.
func (r *Registry) markerDir(service string) string {
	return r.maintenancePath() + "/" + service
}

// markerOf is the marker path of the provider znode named name.
func (r *Registry) markerOf(service, name string) string {
	return r.markerDir(service) + "/" + name
}

// splitNames separates instance names from old-style markers; maint holds
// the instance names that have one. It filters names in place (a
// getChildren reply is the caller's) and allocates maint only when there
// are markers.
func splitNames(names []string) (instances []string, maint map[string]bool) {
	instances = names[:0]
	for _, n := range names {
		if isMarker(n) {
			if maint == nil {
				maint = map[string]bool{}
			}
			maint[strings.TrimSuffix(n, MarkerSuffix)] = true
			continue
		}
		instances = append(instances, n)
	}
	return instances, maint
}

// addMarkers adds the names of a marker directory to maint.
func addMarkers(maint map[string]bool, markers []string) map[string]bool {
	if len(markers) == 0 {
		return maint
	}
	if maint == nil {
		maint = make(map[string]bool, len(markers))
	}
	for _, m := range markers {
		maint[m] = true
	}
	return maint
}

// listing is the reply of one service listing: the service directory's
// children and its marker directory's, asked for together.
type listing struct {
	names   []string // provider names (old-style markers removed)
	maint   map[string]bool
	missing bool // the service directory does not exist
}

// list sends the getChildren of the service directory and of its marker
// directory at once (go-zookeeper pipelines requests from concurrent
// goroutines on its one connection), so a listing costs one round trip of
// latency. A missing marker directory means no markers.
func (r *Registry) list(ctx context.Context, service string) (listing, error) {
	conn := r.conn.get()
	type reply struct {
		names []string
		err   error
	}
	mch := make(chan reply, 1)
	go func() {
		names, _, err := conn.Children(r.markerDir(service))
		mch <- reply{names, err}
	}()
	names, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return conn.Children(r.servicePath(service)) })
	if errors.Is(err, zk.ErrNoNode) {
		return listing{missing: true}, nil
	}
	if err != nil {
		return listing{}, err
	}
	var m reply
	select {
	case m = <-mch:
	case <-ctx.Done():
		return listing{}, ctx.Err()
	}
	if m.err != nil && !errors.Is(m.err, zk.ErrNoNode) {
		return listing{}, m.err
	}
	var l listing
	l.names, l.maint = splitNames(names)
	l.maint = addMarkers(l.maint, m.names)
	return l, nil
}

// syncMarker makes the marker's presence match the provider's status, and
// removes an old-style marker of ours. Called with reg.op held.
func (reg *registration) syncMarker(ctx context.Context) error {
	p, path, gone := reg.state()
	if gone || path == "" {
		return nil
	}
	reg.dropOldMarker(ctx, path)
	conn := reg.r.conn
	marker := reg.r.markerOf(p.Service, p.Name)
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
	return reg.r.createMarker(ctx, p.Service, p.Name)
}

// createMarker creates the marker of the provider znode name, and its
// directory when missing.
func (r *Registry) createMarker(ctx context.Context, service, name string) error {
	if err := r.ensureMarkerDir(ctx, service); err != nil {
		return err
	}
	marker := r.markerOf(service, name)
	acl, err := r.providerACL(ctx, r.markerDir(service))
	if err != nil {
		return err
	}
	conn := r.conn
	_, err = zkcall.Do1(ctx, func() (string, error) {
		return conn.Create(marker, nil, zk.FlagEphemeral, acl)
	})
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return err
}

// ensureMarkerDir creates a missing marker directory (inheriting its
// parent's ACL when authenticated; with digest ACLs only an admin can:
// `chroot prime --service`).
func (r *Registry) ensureMarkerDir(ctx context.Context, service string) error {
	dir := r.markerDir(service)
	ok, _, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return r.conn.Exists(dir) })
	if err != nil || ok {
		return err
	}
	return r.ensureServiceDir(ctx, dir)
}

// dropOldMarker deletes an old-style sibling marker of ours (see the top
// of this file). Best effort: without DELETE on the service directory it
// goes with our session.
func (reg *registration) dropOldMarker(ctx context.Context, path string) {
	conn := reg.r.conn
	old := path + MarkerSuffix
	ok, st, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(old) })
	if err != nil || !ok || st.EphemeralOwner != conn.SessionID() {
		return
	}
	_, err = zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, conn.Delete(old, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		reg.r.log.Info("could not delete an old-style maintenance marker; it goes with this session", "znode", old, "err", err)
		return
	}
	reg.r.log.Info("migrated maintenance marker out of the service directory", "znode", old)
}

// serviceOf splits a provider znode path into service and znode name.
func (r *Registry) serviceOf(znode string) (service, name string) {
	dir, name := path.Split(znode)
	return path.Base(dir), name
}
