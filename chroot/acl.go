package chroot

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// RegistrantACL turns digest ids (USER:HASH, or digest:USER:HASH) into the
// ACL entries that let those registrants create providers: CREATE only.
// DELETE is checked on the parent, so giving it would let one host delete
// another's provider.
func RegistrantACL(ids []string) ([]zk.ACL, error) {
	var out []zk.ACL
	for _, id := range ids {
		id = strings.TrimPrefix(id, "digest:")
		if err := validateACLID("digest", id); err != nil {
			return nil, fmt.Errorf("invalid --registrant %q: %v", id, err)
		}
		out = append(out, zk.ACL{Scheme: "digest", ID: id, Perms: zk.PermCreate})
	}
	return out, nil
}

// MarkerRegistrantACL turns the registrant entries of a service directory
// into those of its maintenance marker directory: CREATE and DELETE, so a
// registrant can start and end maintenance of its own provider. The cost,
// accepted: it could delete another host's marker too (that host's
// registrant re-creates it, and listings that read data hide the provider
// by its status meanwhile).
func MarkerRegistrantACL(registrants []zk.ACL) []zk.ACL {
	out := make([]zk.ACL, 0, len(registrants))
	for _, a := range registrants {
		a.Perms |= zk.PermCreate | zk.PermDelete
		out = append(out, a)
	}
	return out
}

// MaintenancePath is the maintenance marker tree beside a <root>/services
// path (registry/zk's layout).
func MaintenancePath(services string) string {
	return strings.TrimSuffix(path.Dir(services), "/") + "/maintenance"
}

// CanCreate reports whether a client authenticated as the digest ids self
// could create children under a znode with acl. Schemes it cannot judge
// (ip, x509, sasl…) count as yes.
func CanCreate(acl []zk.ACL, self []string) bool {
	for _, a := range acl {
		switch {
		case a.Perms&zk.PermCreate == 0:
		case a.Scheme == "world" || (a.Scheme != "digest"):
			return true
		default:
			for _, id := range self {
				if id == a.ID {
					return true
				}
			}
		}
	}
	return false
}

// PrimeInput says what PrimeLayout creates.
type PrimeInput struct {
	Chroot, Root string
	ACL          []zk.ACL // of everything created; none = world:anyone:cdrwa
	// Services are service directories to create under <root>/services,
	// each with ACL plus Registrants (RegistrantACL): registrants create
	// providers there and nothing else.
	Services    []string
	Registrants []zk.ACL
}

// PrimeLayout creates whatever is missing of the chroot, svcdisco's layout
// under it and the service directories asked for, and returns what it
// created, in order. Existing znodes are left as they are.
func PrimeLayout(ctx context.Context, conn *zk.Conn, in PrimeInput) ([]string, error) {
	paths, err := Layout(in.Chroot, in.Root)
	if err != nil {
		return nil, err
	}
	acl := in.ACL
	if len(acl) == 0 {
		acl = zk.WorldACL(zk.PermAll)
	}
	acls := make([][]zk.ACL, len(paths))
	for i := range paths {
		acls[i] = acl
	}
	dirACL := append(append([]zk.ACL(nil), acl...), in.Registrants...)
	markerACL := append(append([]zk.ACL(nil), acl...), MarkerRegistrantACL(in.Registrants)...)
	services := paths[len(paths)-1]
	maint := MaintenancePath(services)
	if len(in.Services) > 0 {
		paths = append(paths, maint)
		acls = append(acls, acl)
	}
	for _, svc := range in.Services {
		if err := registry.ValidateService(svc); err != nil {
			return nil, err
		}
		paths = append(paths, services+"/"+svc, maint+"/"+svc)
		acls = append(acls, dirACL, markerACL)
	}
	var created []string
	for i, p := range paths {
		ok, _, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return conn.Exists(p) })
		if err != nil {
			return created, zkcall.Classify("", fmt.Errorf("prime %s: %w", p, err))
		}
		if ok {
			continue
		}
		_, err = zkcall.Do1(ctx, func() (string, error) { return conn.Create(p, nil, 0, acls[i]) })
		switch {
		case err == nil:
			created = append(created, p)
		case errors.Is(err, zk.ErrNodeExists): // someone else primed it meanwhile
		default:
			return created, zkcall.Classify("", fmt.Errorf("prime %s: %w", p, err))
		}
	}
	return created, nil
}

// ACLReport is what CheckACL found.
type ACLReport struct {
	// Problems make the tree unusable for registrants (exit 1).
	Problems []string
	// Warnings are risks: world-writable znodes, registrants allowed to
	// delete other hosts' providers.
	Warnings []string
}

// CheckACL reads the ACLs of chroot, <root>, <root>/services and every
// service directory and reports what registrants could not use or what
// anyone could damage.
func CheckACL(ctx context.Context, conn *zk.Conn, chroot, root string) (*ACLReport, error) {
	paths, err := Layout(chroot, root)
	if err != nil {
		return nil, err
	}
	rep := &ACLReport{}
	services := paths[len(paths)-1]
	check := []string{chroot}
	if root != "/" {
		check = append(check, strings.TrimSuffix(chroot, "/")+root)
	}
	check = append(check, services)
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return conn.Children(services) })
	if errors.Is(err, zk.ErrNoNode) {
		return rep, rep.halfPrimed(ctx, conn, paths)
	}
	if err != nil {
		return nil, zkcall.Classify("", fmt.Errorf("check %s: %w", services, err))
	}
	for _, c := range children {
		check = append(check, services+"/"+c)
	}
	for _, p := range check {
		acl, _, err := zkcall.Do2(ctx, func() ([]zk.ACL, *zk.Stat, error) { return conn.GetACL(p) })
		if err != nil {
			return nil, zkcall.Classify("", fmt.Errorf("check ACL of %s: %w", p, err))
		}
		serviceDir := strings.HasPrefix(p, services+"/")
		rep.judge(p, acl, serviceDir)
		if serviceDir && hasRegistrant(acl) {
			if err := rep.judgeMarkers(ctx, conn, MaintenancePath(services)+"/"+path.Base(p)); err != nil {
				return nil, err
			}
		}
	}
	return rep, nil
}

// hasRegistrant reports an identity (not world) with CREATE but no ADMIN.
func hasRegistrant(acl []zk.ACL) bool {
	for _, a := range acl {
		if a.Scheme != "world" && a.Perms&zk.PermCreate != 0 && a.Perms&zk.PermAdmin == 0 {
			return true
		}
	}
	return false
}

// judgeMarkers warns when registrants could not start and end maintenance
// of their providers: the marker directory is missing or gives no
// registrant CREATE and DELETE.
func (rep *ACLReport) judgeMarkers(ctx context.Context, conn *zk.Conn, dir string) error {
	acl, _, err := zkcall.Do2(ctx, func() ([]zk.ACL, *zk.Stat, error) { return conn.GetACL(dir) })
	fix := fmt.Sprintf("re-run `svcdisco chroot prime --service %s --registrant USER:HASH …`", path.Base(dir))
	if errors.Is(err, zk.ErrNoNode) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s does not exist: registrants cannot write maintenance markers (`query -o lines` would list their providers in maintenance); %s", dir, fix))
		return nil
	}
	if err != nil {
		return zkcall.Classify("", fmt.Errorf("check ACL of %s: %w", dir, err))
	}
	for _, a := range acl {
		if a.Scheme != "world" && a.Perms&(zk.PermCreate|zk.PermDelete) == zk.PermCreate|zk.PermDelete && a.Perms&zk.PermAdmin == 0 {
			return nil
		}
	}
	rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s gives no registrant CREATE and DELETE: registrants cannot start or end maintenance of their providers; %s", dir, fix))
	return nil
}

// judge reports on one znode's ACL; serviceDir says registrants must be
// able to create in it.
func (rep *ACLReport) judge(p string, acl []zk.ACL, serviceDir bool) {
	const damage = zk.PermWrite | zk.PermDelete | zk.PermAdmin | zk.PermCreate
	for _, a := range acl {
		if a.Scheme == "world" && a.Perms&damage != 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s is world-writable (world:anyone:%s): anyone who reaches the ensemble can change or delete it", p, permString(a.Perms)))
		}
		if serviceDir && a.Scheme != "world" && a.Perms&zk.PermDelete != 0 && a.Perms&zk.PermAdmin == 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s gives %s:%s DELETE without ADMIN: a registrant could delete other hosts' providers", p, a.Scheme, a.ID))
		}
	}
	if serviceDir && !registrantCreate(acl) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s gives no registrant CREATE (CREATE without ADMIN): registrants could not register; add one with `svcdisco chroot prime --service %s --registrant USER:HASH`", p, path.Base(p)))
	}
}

// halfPrimed judges a chroot whose <root>/services is missing: fine if
// the deepest znode that exists lets someone create the rest (the first
// registrant will), a problem if it lets nobody.
func (rep *ACLReport) halfPrimed(ctx context.Context, conn *zk.Conn, paths []string) error {
	services := paths[len(paths)-1]
	for i := len(paths) - 2; i >= 0; i-- {
		acl, _, err := zkcall.Do2(ctx, func() ([]zk.ACL, *zk.Stat, error) { return conn.GetACL(paths[i]) })
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check ACL of %s: %w", paths[i], err)
		}
		if !registrantCreate(acl) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s is missing and %s gives no registrant CREATE: half-primed; run `svcdisco chroot prime` authenticated as an admin", services, paths[i]))
			return nil
		}
		rep.judge(paths[i], acl, false)
		rep.Warnings = append(rep.Warnings, services+" does not exist yet (the first registrant creates it); `svcdisco chroot prime` sets its ACL")
		return nil
	}
	return nil
}

// registrantCreate reports whether acl lets a registrant create: world,
// or an identity with CREATE but not ADMIN (admins are not registrants).
func registrantCreate(acl []zk.ACL) bool {
	for _, a := range acl {
		if a.Perms&zk.PermCreate != 0 && (a.Scheme == "world" || a.Perms&zk.PermAdmin == 0) {
			return true
		}
	}
	return false
}
