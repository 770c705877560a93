package zk

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
)

// ErrChrootMissing is returned when the chroot disappeared under a running
// Registry (deleted, or the ensemble's data wiped). svcdisco never
// re-creates it on its own, since it would do so with default ACLs, unless
// --chroot-create was given.
var ErrChrootMissing = errors.New("chroot does not exist")

// The ACL layout (README "ZooKeeper ACLs") rests on ZooKeeper's rule that
// CREATE and DELETE are checked on the PARENT and WRITE on the znode
// itself, while ephemerals are removed at session close whatever the ACL:
//
//   - service directories are created by an admin (chroot prime --service)
//     and give registrants CREATE only, never DELETE, so that no registrant
//     can delete another host's provider;
//   - a provider znode gives its creator's identities READ and WRITE (so it
//     can change its own status) and keeps READ and WRITE of the service
//     directory's other entries (world:anyone:r: readers read). Digest
//     entries cannot be copied: ZooKeeper hides their hashes from
//     non-admins.
//
// Without credentials everything stays world:anyone:cdrwa, as before.

// provider perms: what a provider znode grants at most to anyone.
const providerPerms = zk.PermRead | zk.PermWrite

// providerACL is the ACL of a new provider znode (or its maintenance
// marker) under the service directory dir.
func (r *Registry) providerACL(ctx context.Context, dir string) ([]zk.ACL, error) {
	if len(r.opts.Auth) == 0 {
		return zk.WorldACL(zk.PermAll), nil
	}
	parent, _, err := zkcall.Do2(ctx, func() ([]zk.ACL, *zk.Stat, error) { return r.conn.GetACL(dir) })
	if err != nil {
		return nil, err
	}
	return ProviderACL(parent, r.Identities(), r.opts.AdminACL...), nil
}

// ProviderACL derives a provider znode's ACL from its service directory's
// ACL and the digest ids of its creator, plus the admin entries the
// creator was configured with (zk_admin_acl), each identity once.
func ProviderACL(dirACL []zk.ACL, self []string, admin ...zk.ACL) []zk.ACL {
	var out []zk.ACL
	seen := map[string]bool{}
	add := func(a zk.ACL) {
		key := a.Scheme + ":" + a.ID
		if a.Perms == 0 || seen[key] {
			return
		}
		seen[key] = true
		out = append(out, a)
	}
	for _, id := range self {
		add(zk.ACL{Scheme: "digest", ID: id, Perms: providerPerms})
	}
	for _, a := range dirACL {
		if redactedDigest(a) {
			continue
		}
		a.Perms &= providerPerms
		add(a)
	}
	for _, a := range admin {
		add(a)
	}
	return out
}

// redactedDigest reports a digest entry as ZooKeeper (3.6+) returns it to
// a client without ADMIN on the znode: USER:x, the hash hidden. It names
// nobody and must not be copied into a new ACL.
func redactedDigest(a zk.ACL) bool {
	return a.Scheme == "digest" && strings.HasSuffix(a.ID, ":x")
}

// ensureServiceDir creates a missing service directory, inheriting the
// ACL of its parent when authenticated. It refuses to re-create a missing
// chroot (ErrChrootMissing, retried by the caller) unless CreateChroot.
func (r *Registry) ensureServiceDir(ctx context.Context, dir string) error {
	if r.opts.Chroot != "" && !r.opts.CreateChroot {
		ok, _, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return r.conn.Exists(r.opts.Chroot) })
		if err != nil {
			return err
		}
		if !ok {
			r.log.Error("the chroot has disappeared; not re-creating it (run `svcdisco chroot prime` or pass --chroot-create); retrying",
				"chroot", r.opts.Chroot)
			return exitcode.Unreachablef("zk %s: %w: %s (create it with `svcdisco chroot prime %s`)",
				strings.Join(r.opts.Servers, ","), ErrChrootMissing, r.opts.Chroot, r.opts.Chroot)
		}
	}
	return r.ensurePathInherit(ctx, dir)
}

// ensurePathInherit is ensurePath, except that when authenticated each
// znode it creates takes its parent's ACL rather than world:anyone:cdrwa.
func (r *Registry) ensurePathInherit(ctx context.Context, p string) error {
	if len(r.opts.Auth) == 0 {
		return r.ensurePath(ctx, p)
	}
	if p == "" || p == "/" {
		return nil
	}
	if ok, _, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return r.conn.Exists(p) }); err != nil || ok {
		return err
	}
	parent := path.Dir(p)
	if err := r.ensurePathInherit(ctx, parent); err != nil {
		return err
	}
	acl, _, err := zkcall.Do2(ctx, func() ([]zk.ACL, *zk.Stat, error) { return r.conn.GetACL(parent) })
	if err != nil {
		return fmt.Errorf("read the ACL of %s: %w", parent, err)
	}
	for _, a := range acl {
		if redactedDigest(a) {
			// ZooKeeper hides digest hashes from non-admins, so the ACL
			// cannot be copied; an admin creates service directories.
			return fmt.Errorf("%w: %s does not exist and only an admin can create it with the right ACL: `svcdisco chroot prime --service %s`",
				zk.ErrNoAuth, p, path.Base(p))
		}
	}
	_, err = zkcall.Do1(ctx, func() (string, error) { return r.conn.Create(p, nil, 0, acl) })
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	if errors.Is(err, zk.ErrNoAuth) {
		return fmt.Errorf("%w: this identity may not create %s; an admin creates it: `svcdisco chroot prime --service %s`", err, p, path.Base(p))
	}
	return err
}

// parentOf is path.Dir for znode paths.
func parentOf(p string) string { return path.Dir(p) }

// deleteLeftToSession reports a delete of our own provider refused by the
// ACL layout (registrants have no DELETE): the server removes the
// ephemeral znode when our session closes, which Close does next.
func (r *Registry) deleteLeftToSession(err error, znode string) bool {
	if !errors.Is(err, zk.ErrNoAuth) || len(r.opts.Auth) == 0 {
		return false
	}
	r.log.Info("the ACL gives registrants no DELETE; the provider is removed when this session closes", "znode", znode)
	return true
}
