package consul

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// openURL opens a consul:// URL as registry/dial does (which this package
// cannot import in its own tests).
func openURL(ctx context.Context, raw, root string) (*Registry, error) {
	u, err := registry.ParseURL(raw)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	o, err := FromURL(u)
	if err != nil {
		return nil, err
	}
	o.Root = root
	return Open(ctx, o)
}

func TestACLToken(t *testing.T) {
	a := testconsul.Start(t, testconsul.Options{ACL: true})
	p := registry.Provider{Service: "secure", Host: "h1", Port: 80}

	// No token: Consul refuses the write; that is a failure (exit 1)
	// quoting Consul, not "unreachable".
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	anon := open(t, Options{Address: a.Addr()}, nil)
	_, err := anon.Register(ctxT(t), p)
	if err == nil || exitcode.Of(err) != exitcode.Failure || errors.Is(err, registry.ErrUnreachable) ||
		!strings.Contains(err.Error(), "403") {
		t.Fatalf("register without a token: %v (exit %d), want a 403 failure", err, exitcode.Of(err))
	}

	// Never in the URL: exit 2 naming where the token goes.
	ctx := ctxT(t)
	if _, err := openURL(ctx, a.URL()+"?token="+testconsul.ManagementToken, "/acl"); exitcode.Of(err) != exitcode.Usage ||
		!strings.Contains(err.Error(), "--consul-token-file") || strings.Contains(err.Error(), testconsul.ManagementToken) {
		t.Fatalf("?token= in the URL: %v, want exit 2 naming --consul-token-file, without the token", err)
	}
	// From a token file, which must be mode 0600.
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("# ops token\n"+testconsul.ManagementToken+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Address: a.Addr(), Root: "/acl", TokenFile: file}); exitcode.Of(err) != exitcode.Usage ||
		!strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("token file mode 0640: %v, want exit 2 saying chmod 600", err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, Options{Address: a.Addr(), Root: "/acl", TokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Register(ctx, p); err != nil {
		t.Fatalf("register with --consul-token-file: %v", err)
	}

	// Token from Consul's own variable; an anonymous reader sees nothing
	// (and is warned that ACLs hid instances).
	t.Setenv("CONSUL_HTTP_TOKEN", testconsul.ManagementToken)
	withEnv := open(t, Options{Address: a.Addr(), Root: "/acl"}, nil)
	if ps := providers(t, withEnv, "secure"); len(ps) != 1 {
		t.Errorf("CONSUL_HTTP_TOKEN reader sees %d providers, want 1", len(ps))
	}
	// An anonymous reader is refused: Consul empties its answers without
	// saying so, and an empty answer must not pass for "no providers".
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	anonReader := open(t, Options{Address: a.Addr(), Root: "/acl"}, nil)
	if ps, err := anonReader.Providers(ctxT(t), "secure", registry.ListOptions{}); err == nil || !strings.Contains(err.Error(), "ACL") {
		t.Errorf("anonymous reader under default-deny ACLs: %+v, %v; want an error naming ACLs", ps, err)
	}
	if svcs, err := anonReader.Services(ctxT(t)); err == nil || !strings.Contains(err.Error(), "ACL") {
		t.Errorf("anonymous services under default-deny ACLs: %+v, %v; want an error naming ACLs", svcs, err)
	}
	// A token that may read nodes but not this service is told why the
	// list is short (Consul says so for tokens other than anonymous).
	acl := withEnv.Client().ACL()
	pol, _, err := acl.PolicyCreate(&api.ACLPolicy{Name: "nodes-only", Rules: `node_prefix "" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := acl.TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: pol.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	limited := open(t, Options{Address: a.Addr(), Root: "/acl", Token: tok.SecretID}, logs)
	if ps, err := limited.Providers(ctxT(t), "secure", registry.ListOptions{}); err == nil || !strings.Contains(err.Error(), "ACL") {
		t.Errorf("token without service:read: %+v, %v; want an error naming ACLs", ps, err)
	}
}

func TestConsulEnvironmentAndURL(t *testing.T) {
	a := testconsul.Shared(t)
	t.Setenv("CONSUL_HTTP_ADDR", a.Addr())
	ctx := ctxT(t)
	r, err := openURL(ctx, "consul://", "/env")
	if err != nil {
		t.Fatalf("consul:// with CONSUL_HTTP_ADDR: %v", err)
	}
	r.Close()
	for _, bad := range []string{"consul://h1,h2", "consul://h1?tls=maybe", "consul://h1?tokn=x"} {
		_, err := openURL(ctx, bad, "/env")
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v (exit %d), want exit 2 naming the URL", bad, err, exitcode.Of(err))
		}
	}
	// dc= is passed on: an unknown datacenter is Consul's error, not ours.
	r, err = openURL(ctx, a.URL()+"?dc=nosuchdc", "/env")
	if err == nil {
		_, err = r.Providers(ctx, "web", registry.ListOptions{})
		r.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "datacenter") {
		t.Errorf("dc=nosuchdc: %v, want Consul's unknown-datacenter error", err)
	}
}

// If the agent loses the service (restarted without its data, or someone
// deregistered it), the heartbeat registers it again with a new timestamp.
func TestAgentLosingServiceReRegisters(t *testing.T) {
	a := testconsul.Shared(t)
	logs := &testenv.Buffer{}
	r := open(t, Options{Address: a.Addr(), TTL: 300 * time.Millisecond}, logs)
	reg, err := r.Register(ctxT(t), registry.Provider{Service: "lost", Host: "h1", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	old := reg.Provider().Timestamp
	waitPast(t, old) // a re-registration gets a later timestamp
	if err := r.Client().Agent().ServiceDeregister(reg.Provider().ID); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "re-registration", 10*time.Second, func() bool {
		ps := providers(t, r, "lost")
		return len(ps) == 1 && ps[0].Timestamp.After(old)
	})
	if !strings.Contains(logs.String(), "re-registering provider") {
		t.Errorf("re-registration not logged:\n%s", logs)
	}
}

// A second registration of the same ID on the same agent replaces the
// first (Consul keys services by ID); the first then lets go instead of
// fighting, and its Deregister leaves the newcomer alone.
func TestSameIDReplacedLetsGo(t *testing.T) {
	a := testconsul.Shared(t)
	root := uniqueRoot()
	logs := &testenv.Buffer{}
	first := open(t, Options{Address: a.Addr(), Root: root, TTL: 300 * time.Millisecond}, logs)
	second := open(t, Options{Address: a.Addr(), Root: root, TTL: 300 * time.Millisecond}, nil)
	p := registry.Provider{Service: "dup", Host: "h1", Port: 80}
	r1, err := first.Register(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	waitPast(t, r1.Provider().Timestamp) // the second registration is the newer
	r2, err := second.Register(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the first registration to let go", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "replaced by another registration")
	})
	if err := r1.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ps := providers(t, second, "dup")
	if len(ps) != 1 || !ps[0].Timestamp.Equal(r2.Provider().Timestamp) {
		t.Fatalf("after the replaced one deregistered: %+v, want the second registration", ps)
	}
}

// Maintenance uses Consul's own service maintenance mode: the provider
// leaves plain queries, Consul shows the maintenance check, and watchers
// are told both ways.
func TestMaintenanceIsConsulMaintenanceMode(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	reg, err := r.Register(ctxT(t), registry.Provider{Service: "maint", Host: "h1", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	ch, err := r.Watch(ctx, "maint")
	if err != nil {
		t.Fatal(err)
	}
	expect := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch signal after %s", what)
		}
	}
	setter := reg.(interface {
		SetStatus(context.Context, string) error
	})
	if err := setter.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	expect("maintenance on")
	if ps := providers(t, r, "maint"); len(ps) != 0 {
		t.Errorf("provider in maintenance listed: %+v", ps)
	}
	if ps, err := r.list(ctxT(t), "maint", true); err != nil || len(ps) != 1 || ps[0].Status != registry.StatusMaintenance {
		t.Errorf("listing including maintenance: %+v, %v; want it with status maintenance", ps, err)
	}
	checks, _, err := r.Client().Health().Checks("maint", nil)
	if err != nil || !inMaintenance(checks) {
		t.Errorf("Consul does not show maintenance mode: %+v, %v", checks, err)
	}
	if err := setter.SetStatus(ctxT(t), registry.StatusUp); err != nil {
		t.Fatal(err)
	}
	expect("maintenance off")
	if ps := providers(t, r, "maint"); len(ps) != 1 || ps[0].Status != registry.StatusUp {
		t.Errorf("after maintenance: %+v", ps)
	}
	if err := setter.SetStatus(ctxT(t), "sleeping"); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("SetStatus(sleeping): %v, want exit 2", err)
	}
}

// A crashed registrant is removed from the agent's catalog by Consul itself
// (DeregisterCriticalServiceAfter): Consul's floor is one minute plus its
// 30s reap interval, so this test runs in parallel with the others.
func TestCrashedRegistrantIsReapedByConsul(t *testing.T) {
	t.Parallel()
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr(), TTL: 300 * time.Millisecond}, nil)
	reg, err := r.Register(ctxT(t), registry.Provider{Service: "reaped", Host: "h1", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	// Crash: the heartbeat stops and nothing deregisters.
	cr := reg.(*registration)
	r.mu.Lock()
	delete(r.regs, cr)
	r.mu.Unlock()
	cr.mu.Lock()
	cr.gone = true
	close(cr.stop)
	cr.mu.Unlock()
	<-cr.done
	testenv.WaitFor(t, "the TTL to lapse", 10*time.Second, func() bool { return len(providers(t, r, "reaped")) == 0 })
	testenv.WaitFor(t, "Consul to reap the service", MinDeregisterAfter+2*time.Minute, func() bool {
		_, _, err := r.Client().Agent().Service(cr.p.ID, nil)
		return statusCode(err) == 404
	})
}

// Cut off from the agent for longer than the TTL, the registration is
// presumed lost (Consul has marked it critical, so queries drop it) and
// logged; once the agent answers again the heartbeat restores it, as one
// provider.
func TestPartitionLongerThanTTL(t *testing.T) {
	a := testconsul.Shared(t)
	root := uniqueRoot()
	proxy := testzk.NewProxy(t, a.Addr())
	logs := &testenv.Buffer{}
	r := open(t, Options{Address: proxy.Addr(), Root: root, TTL: 500 * time.Millisecond}, logs)
	watcher := open(t, Options{Address: a.Addr(), Root: root}, nil)
	if _, err := r.Register(ctxT(t), registry.Provider{Service: "cut", Host: "h1", Port: 80}); err != nil {
		t.Fatal(err)
	}
	proxy.Partition()
	testenv.WaitFor(t, "the TTL to lapse", 10*time.Second, func() bool { return len(providers(t, watcher, "cut")) == 0 })
	testenv.WaitFor(t, "the registration to be presumed lost", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "presumed lost")
	})
	proxy.Heal()
	testenv.WaitFor(t, "the heartbeat to restore it", 10*time.Second, func() bool { return len(providers(t, watcher, "cut")) == 1 })
	// A heartbeat held up in the partition may pass the check just before
	// the next one logs the recovery.
	testenv.WaitFor(t, "the recovery logged", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "heartbeat restored")
	})
}

// waitPast waits until the clock, at the millisecond resolution of
// registration timestamps, is past ts.
func waitPast(t *testing.T, ts time.Time) {
	t.Helper()
	testenv.WaitFor(t, "the clock past "+ts.String(), 5*time.Second, func() bool {
		return time.Now().Truncate(time.Millisecond).After(ts)
	})
}
