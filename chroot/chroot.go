// Package chroot prepares and moves ZooKeeper chroots on a raw connection:
// prime (create a chroot and svcdisco's layout under it, as the zk gem's
// `:chroot => :create` does), check, and export/import of a persistent
// subtree as JSON so a chroot can be moved between ensembles exactly.
//
// It works on *zk.Conn and absolute paths: a chroot that does not exist yet
// cannot be entered, so these operations run from the ensemble's root.
package chroot

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// ServicesDir is the layout svcdisco writes under <chroot><root>.
const ServicesDir = "/services"

// ParseACL parses zkCli-style ACLs: scheme:id:perms, e.g. world:anyone:cdrwa,
// ip:10.0.0.0/8:r, digest:ops:HASH=:cdrwa. None gives world:anyone:cdrwa.
func ParseACL(specs []string) ([]zk.ACL, error) {
	if len(specs) == 0 {
		return zk.WorldACL(zk.PermAll), nil
	}
	acls := make([]zk.ACL, 0, len(specs))
	for _, s := range specs {
		scheme, rest, ok1 := strings.Cut(s, ":")
		i := strings.LastIndexByte(rest, ':')
		if !ok1 || i < 0 || scheme == "" || rest[:i] == "" {
			return nil, fmt.Errorf("invalid ACL %q: want scheme:id:perms, e.g. world:anyone:cdrwa", s)
		}
		perms, err := parsePerms(rest[i+1:])
		if err != nil {
			return nil, fmt.Errorf("invalid ACL %q: %v", s, err)
		}
		if err := validateACLID(scheme, rest[:i]); err != nil {
			return nil, fmt.Errorf("invalid ACL %q: %v", s, err)
		}
		acls = append(acls, zk.ACL{Scheme: scheme, ID: rest[:i], Perms: perms})
	}
	return acls, nil
}

// validateACLID checks the ids ZooKeeper would otherwise accept and never
// match: a digest id is USER:BASE64(SHA1(USER:PASSWORD)) (what
// zk.DigestACL and ZooKeeper's DigestAuthenticationProvider compute), and
// world's only id is "anyone".
func validateACLID(scheme, id string) error {
	switch scheme {
	case "digest":
		user, hash, ok := strings.Cut(id, ":")
		if !ok || user == "" {
			return errors.New("digest id: want USER:HASH")
		}
		if b, err := base64.StdEncoding.DecodeString(hash); err != nil || len(b) != sha1.Size {
			return fmt.Errorf("digest hash %q: want base64 of a SHA-1 (28 characters ending in =), e.g. from zk.DigestACL", hash)
		}
	case "world":
		if id != "anyone" {
			return fmt.Errorf("world id %q: want anyone", id)
		}
	}
	return nil
}

func parsePerms(s string) (int32, error) {
	if s == "" {
		return 0, errors.New("no permissions (want some of c, d, r, w, a)")
	}
	var p int32
	for _, c := range s {
		switch c {
		case 'c':
			p |= zk.PermCreate
		case 'd':
			p |= zk.PermDelete
		case 'r':
			p |= zk.PermRead
		case 'w':
			p |= zk.PermWrite
		case 'a':
			p |= zk.PermAdmin
		default:
			return 0, fmt.Errorf("unknown permission %q (want some of c, d, r, w, a)", c)
		}
	}
	return p, nil
}

// Layout is every path Prime makes sure of, parents first: each component
// of chroot, then root and root/services under it.
func Layout(chroot, root string) ([]string, error) {
	if err := registry.ValidatePath(chroot); err != nil {
		return nil, err
	}
	if err := registry.ValidatePath(root); err != nil {
		return nil, err
	}
	full := strings.TrimSuffix(chroot, "/") + strings.TrimSuffix(root, "/") + ServicesDir
	var out []string
	for i := 1; i < len(full); i++ {
		if full[i] == '/' {
			out = append(out, full[:i])
		}
	}
	return append(out, full), nil
}

// Prime creates whatever is missing of chroot and svcdisco's layout under
// it (<chroot><root>/services) with acl, and returns what it created, in
// order. Running it again creates nothing.
func Prime(ctx context.Context, conn *zk.Conn, chroot, root string, acl []zk.ACL) ([]string, error) {
	return PrimeLayout(ctx, conn, PrimeInput{Chroot: chroot, Root: root, ACL: acl})
}

// Check reports whether p exists.
func Check(ctx context.Context, conn *zk.Conn, p string) (bool, error) {
	if err := registry.ValidatePath(p); err != nil {
		return false, err
	}
	ok, _, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(p) })
	if err != nil {
		return false, zkcall.Classify("", fmt.Errorf("check %s: %w", p, err))
	}
	return ok, nil
}

// join puts a dump-relative path ("/" = the exported node itself) under
// base.
func join(base, rel string) string {
	if rel == "/" {
		return base
	}
	if base == "/" {
		return rel
	}
	return base + rel
}

// parentsOf lists every proper ancestor of p except "/", root first.
func parentsOf(p string) []string {
	var out []string
	for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

func permString(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{zk.PermCreate, 'c'}, {zk.PermDelete, 'd'}, {zk.PermRead, 'r'}, {zk.PermWrite, 'w'}, {zk.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}
