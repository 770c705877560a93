package zk

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/chroot"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

var (
	admin = Credential{User: "admin", Password: "admin-pw"}
	hostA = Credential{User: "host-a", Password: "a-pw"}
	hostB = Credential{User: "host-b", Password: "b-pw"}
)

// openAs opens a Registry on chrootPath authenticated as creds.
func openAs(t *testing.T, servers, chrootPath string, creds ...Credential) *Registry {
	t.Helper()
	return openAsTimeout(t, servers, chrootPath, 10*time.Second, creds...)
}

func openAsTimeout(t *testing.T, servers, chrootPath string, timeout time.Duration, creds ...Credential) *Registry {
	t.Helper()
	return openWith(t, Options{Servers: strings.Split(servers, ","), Chroot: chrootPath, SessionTimeout: timeout, Auth: creds})
}

// openWith opens a Registry with opts (root /svcdisco, no logs).
func openWith(t *testing.T, opts Options) *Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.Root = "/svcdisco"
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	creds := opts.Auth
	r, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open as %v: %v", creds, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// rawAs is a bare go-zookeeper client authenticated as creds (none: an
// anonymous client), for trying operations svcdisco itself never sends.
func rawAs(t *testing.T, servers string, creds ...Credential) *zk.Conn {
	t.Helper()
	r := openAs(t, servers, "", creds...)
	return r.Conn()
}

// TestACLThreeIdentities primes a chroot as an admin, registers host A and
// host B, then tries every operation a registrant must not do with a raw
// client (expecting NoAuth) and every one it must be able to do.
func TestACLThreeIdentities(t *testing.T) {
	zkc := testzk.Shared(t)
	servers := zkc.ConnString()
	base := testzk.Root(t)
	services := base + "/svcdisco/services"

	adm := openAs(t, servers, "", admin)
	acl := []zk.ACL{{Scheme: "world", ID: "anyone", Perms: zk.PermRead}, {Scheme: "digest", ID: admin.ID(), Perms: zk.PermAll}}
	regs, err := chroot.RegistrantACL([]string{hostA.ID(), "digest:" + hostB.ID()})
	if err != nil {
		t.Fatal(err)
	}
	in := chroot.PrimeInput{Chroot: base, Root: "/svcdisco", ACL: acl, Services: []string{"web"}, Registrants: regs}
	if _, err := chroot.PrimeLayout(ctxT(t), adm.Conn(), in); err != nil {
		t.Fatalf("prime as admin: %v", err)
	}

	// Host A names the admin in its providers' ACLs (zk_admin_acl); host B
	// does not.
	adminRW := []zk.ACL{{Scheme: "digest", ID: admin.ID(), Perms: zk.PermRead | zk.PermWrite}}
	ra := openWith(t, Options{Servers: strings.Split(servers, ","), Chroot: base, SessionTimeout: 10 * time.Second,
		Auth: []Credential{hostA}, AdminACL: adminRW})
	rb := openAs(t, servers, base, hostB)
	regA, err := ra.Register(ctxT(t), web("a.example.com", 80))
	if err != nil {
		t.Fatalf("host A registers: %v", err)
	}
	regB, err := rb.Register(ctxT(t), web("b.example.com", 80))
	if err != nil {
		t.Fatalf("host B registers: %v", err)
	}
	nodeA := services + "/web/" + regA.Provider().Name
	nodeB := services + "/web/" + regB.Provider().Name

	anon := rawAs(t, servers)
	rawA := rawAs(t, servers, hostA)
	rawB := rawAs(t, servers, hostB)
	rawAdm := adm.Conn()

	noAuth := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("%s: got %v, want NoAuth", what, err)
		}
	}
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v, want it allowed", what, err)
		}
	}
	del := func(c *zk.Conn, p string) error { return c.Delete(p, -1) }
	set := func(c *zk.Conn, p string) error { _, err := c.Set(p, []byte(`{"host":"evil"}`), -1); return err }
	setACL := func(c *zk.Conn, p string) error { _, err := c.SetACL(p, zk.WorldACL(zk.PermAll), -1); return err }
	create := func(c *zk.Conn, p string) error { _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); return err }

	// Forbidden to host B (and so to any registrant) and to anonymous clients.
	for _, c := range []struct {
		who  string
		conn *zk.Conn
	}{{"host B", rawB}, {"anonymous", anon}} {
		noAuth(c.who+" deletes host A's provider", del(c.conn, nodeA))
		noAuth(c.who+" rewrites host A's provider", set(c.conn, nodeA))
		noAuth(c.who+" changes the ACL of host A's provider", setACL(c.conn, nodeA))
		noAuth(c.who+" deletes the service directory", del(c.conn, services+"/web"))
		noAuth(c.who+" writes the service directory", set(c.conn, services+"/web"))
		noAuth(c.who+" changes the service directory's ACL", setACL(c.conn, services+"/web"))
		noAuth(c.who+" deletes the services directory", del(c.conn, services))
		noAuth(c.who+" creates outside services (root)", create(c.conn, base+"/svcdisco/locks"))
		noAuth(c.who+" creates outside services (chroot)", create(c.conn, base+"/other"))
		noAuth(c.who+" deletes the root", del(c.conn, base+"/svcdisco"))
		noAuth(c.who+" writes the chroot", set(c.conn, base))
	}
	noAuth("anonymous registers", create(anon, services+"/web/x.example.com:80@1795597985035"))
	noAuth("host A deletes host B's provider", del(rawA, nodeB))
	noAuth("host A rewrites host B's provider", set(rawA, nodeB))

	// Allowed.
	if _, _, err := anon.Children(services + "/web"); err != nil {
		t.Errorf("anonymous lists providers: %v", err)
	}
	if _, _, err := anon.Get(nodeA); err != nil {
		t.Errorf("anonymous reads a provider: %v", err)
	}
	testMaintenanceACL(t, aclCase{
		adm: openAs(t, servers, base, admin), ra: ra, rb: rb, regA: regA, anon: anon, rawB: rawB,
		markers: base + "/svcdisco/maintenance/web",
	})
	ok("host A rewrites its own provider", set(rawA, nodeA))
	noAuth("host A creates a service directory", create(rawA, services+"/db"))
	if _, err := ra.Register(ctxT(t), registry.Provider{Service: "db", Host: "a.example.com", Port: 5432}); !errors.Is(err, zk.ErrNoAuth) ||
		!strings.Contains(err.Error(), "chroot prime --service db") {
		t.Errorf("host A registers an unprimed service: %v, want NoAuth naming `chroot prime --service db`", err)
	}
	ok("admin creates a service directory", create(rawAdm, services+"/db"))
	// A provider's data is its host's alone unless the host names the
	// admin (zk_admin_acl): ZooKeeper hides the admin's digest hash from
	// registrants, so they cannot copy it from the directories.
	noAuth("admin rewrites host B's provider (no zk_admin_acl)", set(rawAdm, nodeB))
	ok("admin rewrites host A's provider (zk_admin_acl)", set(rawAdm, nodeA))
	ok("admin deletes host B's provider", del(rawAdm, nodeB))
	ok("admin creates under the root", create(rawAdm, base+"/svcdisco/locks"))
	ok("admin deletes a service directory", del(rawAdm, services+"/db"))

	// Deregistration: host A's provider goes when its registrant stops,
	// although host A may not delete in the service directory.
	ok("host A deregisters", regA.Deregister(ctxT(t)))
	ra.Close()
	testenv.WaitFor(t, "host A's provider to vanish after its session closed", 20*time.Second, func() bool {
		exists, _, err := anon.Exists(nodeA)
		return err == nil && !exists
	})
}

// primeACL primes base as the admin with service web open to host A and B.
func primeACL(t *testing.T, servers, base string) {
	t.Helper()
	adm := openAs(t, servers, "", admin)
	acl := []zk.ACL{{Scheme: "world", ID: "anyone", Perms: zk.PermRead}, {Scheme: "digest", ID: admin.ID(), Perms: zk.PermAll}}
	regs, err := chroot.RegistrantACL([]string{hostA.ID(), hostB.ID()})
	if err != nil {
		t.Fatal(err)
	}
	in := chroot.PrimeInput{Chroot: base, Root: "/svcdisco", ACL: acl, Services: []string{"web"}, Registrants: regs}
	if _, err := chroot.PrimeLayout(ctxT(t), adm.Conn(), in); err != nil {
		t.Fatalf("prime as admin: %v", err)
	}
}

// TestAuthOnNewSession expires host A's session: the provider can only be
// re-created in the ACL'd service directory if the new session was
// authenticated again before the create.
func TestAuthOnNewSession(t *testing.T) {
	zkc := testzk.Shared(t)
	base := testzk.Root(t)
	primeACL(t, zkc.ConnString(), base)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	ra := openAsTimeout(t, proxy.Addr(), base, time.Second, hostA)
	reg, err := ra.Register(ctxT(t), web("a.example.com", 80))
	if err != nil {
		t.Fatal(err)
	}
	oldSID, oldName := ra.conn.SessionID(), reg.Provider().Name
	anon := rawAs(t, zkc.ConnString())
	dir := base + "/svcdisco/services/web"

	proxy.Partition()
	testenv.WaitFor(t, "the server to expire host A's session", 10*time.Second, func() bool {
		kids, _, err := anon.Children(dir)
		return err == nil && len(kids) == 0
	})
	testenv.WaitFor(t, "host A to presume its registration lost", 5*time.Second, func() bool { return ra.session.PresumedLost() })
	proxy.Heal()
	testenv.WaitFor(t, "host A re-registered on a new session", 20*time.Second, func() bool {
		sid := ra.conn.SessionID()
		kids, _, err := anon.Children(dir)
		return sid != 0 && sid != oldSID && err == nil && len(kids) == 1 && kids[0] != oldName
	})
	acl, _, err := anon.GetACL(dir + "/" + reg.Provider().Name)
	if err != nil {
		t.Fatal(err)
	}
	if !hasID(acl, "host-a:", zk.PermRead|zk.PermWrite) {
		t.Errorf("re-registered provider's ACL %v lacks host-a:rw", acl)
	}
}

func hasID(acl []zk.ACL, prefix string, perms int32) bool {
	for _, a := range acl {
		if a.Scheme == "digest" && strings.HasPrefix(a.ID, prefix) && a.Perms == perms {
			return true
		}
	}
	return false
}

// aclCase is what testMaintenanceACL works with.
type aclCase struct {
	adm, ra, rb *Registry
	regA        registry.Registration
	anon, rawB  *zk.Conn
	markers     string // <root>/maintenance/web
}

// testMaintenanceACL: an admin puts host A's provider into maintenance
// (host A named the admin in zk_admin_acl), host B cannot, host A's
// registrant follows with its marker, and host A ends maintenance of its
// own provider (CREATE and DELETE on the marker directory).
func testMaintenanceACL(t *testing.T, c aclCase) {
	t.Helper()
	provA := c.regA.Provider()
	if err := c.rb.SetStatus(ctxT(t), provA, registry.StatusMaintenance); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("host B sets maintenance on host A's provider: %v, want NoAuth", err)
	}
	if err := c.adm.SetStatus(ctxT(t), provA, registry.StatusMaintenance); err != nil {
		t.Fatalf("admin sets maintenance on host A's provider: %v", err)
	}
	fieldsOnly := func() int {
		ps, err := c.rb.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	testenv.WaitFor(t, "host A's registrant to write its marker", 10*time.Second, func() bool { return fieldsOnly() == 1 })
	if markers, _, err := c.anon.Children(c.markers); err != nil || len(markers) != 1 || markers[0] != provA.Name {
		t.Errorf("markers = %v, %v; want [%s]", markers, err, provA.Name)
	}
	// Host A ends maintenance of its own provider: its marker delete needs
	// DELETE on the marker directory.
	if err := c.regA.SetStatus(ctxT(t), registry.StatusUp); err != nil {
		t.Fatalf("host A ends its own maintenance: %v", err)
	}
	if n := fieldsOnly(); n != 2 {
		t.Errorf("fields-only listing after host A ended maintenance: %d providers, want 2", n)
	}
	if markers, _, err := c.anon.Children(c.markers); err != nil || len(markers) != 0 {
		t.Errorf("markers after maintenance off = %v, %v; want none", markers, err)
	}
	// Forbidden around the marker tree.
	if err := c.anon.Delete(c.markers, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("anonymous deletes the marker directory: %v, want NoAuth", err)
	}
	if err := c.rawB.Delete(c.markers, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("host B deletes the marker directory: %v, want NoAuth", err)
	}
	if _, err := c.anon.Create(c.markers+"/x", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("anonymous creates a marker: %v, want NoAuth", err)
	}
	if err := c.regA.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Errorf("host A starts maintenance of its own provider: %v", err)
	}
	if err := c.regA.SetStatus(ctxT(t), registry.StatusUp); err != nil {
		t.Errorf("host A ends it again: %v", err)
	}
}

// TestChrootCreateRefusedWithAuth: --chroot-create with credentials is
// exit 2 before connecting, naming `chroot prime`; nothing is created.
func TestChrootCreateRefusedWithAuth(t *testing.T) {
	zkc := testzk.Shared(t)
	base := testzk.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, Options{Servers: strings.Split(zkc.ConnString(), ","), Chroot: base + "/new", Root: "/svcdisco",
		CreateChroot: true, Auth: []Credential{hostA}, Logger: slog.New(slog.DiscardHandler)})
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "chroot prime "+base+"/new --acl") {
		t.Fatalf("Open with --chroot-create and auth: %v, want exit 2 naming chroot prime", err)
	}
	anon := rawAs(t, zkc.ConnString())
	if ok, _, err := anon.Exists(base + "/new"); err != nil || ok {
		t.Errorf("chroot created anyway: %v %v", ok, err)
	}
	// Without credentials --chroot-create works as before.
	r := openWith(t, Options{Servers: strings.Split(zkc.ConnString(), ","), Chroot: base + "/new", CreateChroot: true})
	if ok, _, err := r.Conn().Exists(base + "/new"); err != nil || !ok {
		t.Errorf("chroot not created without auth: %v %v", ok, err)
	}
}
