package zk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

func TestMain(m *testing.M) { testzk.Main(m) }

func open(t *testing.T, servers string, root string, timeout time.Duration, w io.Writer) *Registry {
	t.Helper()
	if w == nil {
		w = io.Discard
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Open(ctx, Options{
		Servers: strings.Split(servers, ","), Root: root, SessionTimeout: timeout,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func web(host string, port int) registry.Provider {
	return registry.Provider{Service: "web", Host: host, Port: port, Weight: 1,
		Attributes: map[string]string{"zone": "a"}}
}

func count(t *testing.T, r *Registry, service string) int {
	t.Helper()
	ps, err := r.Providers(ctxT(t), service, registry.ListOptions{FieldsOnly: true})
	if err != nil {
		t.Fatalf("Providers: %v", err)
	}
	return len(ps)
}

func TestRegisterListDeregister(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	before := time.Now().Add(-time.Millisecond)
	reg, err := r.Register(ctxT(t), web("h1.example.com", 8080))
	if err != nil {
		t.Fatal(err)
	}
	p := reg.Provider()
	if p.Timestamp.Before(before) || p.Timestamp.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("timestamp %v: want now, ms precision", p.Timestamp)
	}
	if want := InstanceName("h1.example.com", 8080, p.Timestamp); p.Name != want {
		t.Errorf("znode name %q, want %q", p.Name, want)
	}

	// The znode is ephemeral, owned by our session, with the JSON as data.
	data, st, err := r.conn.Get(root + "/services/web/" + p.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.EphemeralOwner != r.conn.SessionID() {
		t.Errorf("EphemeralOwner %x, want our session %x", st.EphemeralOwner, r.conn.SessionID())
	}
	if !strings.Contains(string(data), `"zone":"a"`) || !strings.Contains(string(data), `"id":"web-h1.example.com-8080"`) {
		t.Errorf("data %s", data)
	}

	full, err := r.Providers(ctxT(t), "web", registry.ListOptions{})
	if err != nil || len(full) != 1 || full[0].Attributes["zone"] != "a" || !full[0].Timestamp.Equal(p.Timestamp) {
		t.Fatalf("Providers = %+v, %v", full, err)
	}
	fields, err := r.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil || len(fields) != 1 || fields[0].Host != "h1.example.com" || fields[0].Port != 8080 || !fields[0].Timestamp.Equal(p.Timestamp) {
		t.Fatalf("fields-only Providers = %+v, %v", fields, err)
	}

	svcs, err := r.Services(ctxT(t))
	if err != nil || len(svcs) != 1 || svcs[0] != (registry.ServiceCount{Service: "web", Providers: 1}) {
		t.Fatalf("Services = %+v, %v", svcs, err)
	}

	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, r, "web"); n != 0 {
		t.Errorf("%d providers after Deregister", n)
	}
	if ps, err := r.Providers(ctxT(t), "nosuch", registry.ListOptions{}); err != nil || len(ps) != 0 {
		t.Errorf("unknown service: %v, %v", ps, err)
	}
}

func TestSameHostPortSameMillisecondGetsUniqueNames(t *testing.T) {
	zkc := testzk.Shared(t)
	r := open(t, zkc.ConnString(), testzk.Root(t), 2*time.Second, nil)
	fixed := time.Now()
	now = func() time.Time { return fixed }
	defer func() { now = time.Now }()
	a, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	if a.Provider().Name == b.Provider().Name || count(t, r, "web") != 2 {
		t.Fatalf("names %q %q, count %d", a.Provider().Name, b.Provider().Name, count(t, r, "web"))
	}
	if d := b.Provider().Timestamp.Sub(a.Provider().Timestamp); d != time.Millisecond {
		t.Errorf("second registration moved %v, want 1ms", d)
	}
}

func TestCloseDeletesNodes(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	watcher := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	r := open(t, zkc.ConnString(), root, 10*time.Second, nil)
	if _, err := r.Register(ctxT(t), web("h1", 80)); err != nil {
		t.Fatal(err)
	}
	if count(t, watcher, "web") != 1 {
		t.Fatal("not registered")
	}
	r.Close()
	// Gone at once, not after the 10s session timeout: a Close that left
	// the node to expire would still show it here.
	if n := count(t, watcher, "web"); n != 0 {
		t.Fatalf("%d providers right after Close", n)
	}
}

func TestSessionExpiryReRegistersOnce(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	logs := &testenv.Buffer{}
	r := open(t, proxy.Addr(), root, time.Second, logs)
	watcher := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	reg, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	oldSID, oldName := r.conn.SessionID(), reg.Provider().Name

	// Partition the client past its session timeout: the server expires
	// the session and deletes the node; the client presumes it lost.
	proxy.Partition()
	testenv.WaitFor(t, "the server to expire the session", 10*time.Second, func() bool { return count(t, watcher, "web") == 0 })
	testenv.WaitFor(t, "the client to presume the registration lost", 5*time.Second, func() bool { return r.session.PresumedLost() })
	proxy.Heal()

	testenv.WaitFor(t, "a new session", 10*time.Second, func() bool {
		sid := r.conn.SessionID()
		return sid != 0 && sid != oldSID
	})
	testenv.WaitFor(t, "re-registration", 10*time.Second, func() bool {
		ps, err := watcher.Providers(ctxT(t), "web", registry.ListOptions{})
		return err == nil && len(ps) == 1 && ps[0].Name != oldName
	})
	// Stays at exactly one, even when reconciled again.
	if err := r.reconcile(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, watcher, "web"); n != 1 {
		t.Fatalf("%d providers after expiry, want 1", n)
	}
	_, st, err := watcher.conn.Exists(root + "/services/web/" + reg.Provider().Name)
	if err != nil || st.EphemeralOwner != r.conn.SessionID() {
		t.Errorf("re-registered node owner %x, want new session %x (%v)", st.EphemeralOwner, r.conn.SessionID(), err)
	}
	for _, want := range []string{"presumed lost", "session expired", "re-registering provider"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestShortDisconnectKeepsSameNode(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	r := open(t, proxy.Addr(), root, 5*time.Second, nil)
	watcher := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	reg, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	sid, name := r.conn.SessionID(), reg.Provider().Name
	reconciled := r.session.reconciles.Load()
	proxy.Partition()
	testenv.WaitFor(t, "the client to notice the cut", 10*time.Second, func() bool { return !r.session.connected() })
	proxy.Heal()
	testenv.WaitFor(t, "reconnect and the reconcile after it", 10*time.Second, func() bool {
		return r.session.connected() && r.session.reconciles.Load() > reconciled
	})
	ps, err := watcher.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil || len(ps) != 1 || ps[0].Name != name || r.conn.SessionID() != sid {
		t.Fatalf("after a short cut: %+v %v; session %x -> %x", ps, err, sid, r.conn.SessionID())
	}
}

func TestCreateInterruptedByConnectionLossLeavesNoDuplicate(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 5*time.Second, nil)
	watcher := open(t, zkc.ConnString(), root, 2*time.Second, nil)

	// Simulate: the create reached the server but its reply was lost, and
	// the client retries after reconnecting on the same session.
	p := withDefaults(web("h1", 80))
	reg := newRegistration(r, p)
	r.mu.Lock()
	r.regs[reg] = struct{}{}
	r.mu.Unlock()
	if err := reg.ensure(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	first := reg.path
	// The retry (what reconcile does after reconnect) must find our znode.
	for i := 0; i < 3; i++ {
		if err := reg.ensure(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	if reg.path != first || count(t, watcher, "web") != 1 {
		t.Fatalf("after retries: path %q (was %q), %d providers", reg.path, first, count(t, watcher, "web"))
	}
	// A retried create of the very same name (reply lost) is recognised as ours.
	reg.path = ""
	now = func() time.Time { return reg.p.Timestamp }
	defer func() { now = time.Now }()
	if err := reg.ensure(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if reg.path != first || count(t, watcher, "web") != 1 {
		t.Fatalf("re-sent create: path %q (want %q), %d providers", reg.path, first, count(t, watcher, "web"))
	}
}

// The entry rule: a child whose name is a provider is listed as its name
// says even when its data is unreadable (a fields-only listing could not
// tell), with one warning; a child whose name is not a provider is skipped
// with one warning, by every listing and by Services.
func TestEntryRuleIsTheSameForEveryListing(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	logs := &testenv.Buffer{}
	r := open(t, zkc.ConnString(), root, 2*time.Second, logs)
	if _, err := r.Register(ctxT(t), web("good", 80)); err != nil {
		t.Fatal(err)
	}
	unreadable := root + "/services/web/bad:81@1700000000000"
	notProvider := root + "/services/web/bad:82"
	for _, path := range []string{unreadable, notProvider} {
		if _, err := r.conn.Create(path, []byte("{not json"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	for _, fieldsOnly := range []bool{true, false} {
		before := logs.String()
		ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: fieldsOnly})
		registry.Sort(ps)
		if err != nil || len(ps) != 2 || ps[0].Addr() != "bad:81" || ps[1].Host != "good" ||
			ps[0].Weight != registry.DefaultWeight || ps[0].ID != "web-bad-81" {
			t.Fatalf("fieldsOnly=%v: Providers = %+v, %v", fieldsOnly, ps, err)
		}
		wantUnreadable := 0
		if !fieldsOnly {
			wantUnreadable = 1
		}
		logged := strings.TrimPrefix(logs.String(), before)
		if got := strings.Count(logged, unreadable); got != wantUnreadable {
			t.Errorf("fieldsOnly=%v: warning naming %s logged %d times:\n%s", fieldsOnly, unreadable, got, logged)
		}
		if got := strings.Count(logged, notProvider); got != 1 {
			t.Errorf("fieldsOnly=%v: warning naming %s logged %d times:\n%s", fieldsOnly, notProvider, got, logged)
		}
	}
	svcs, err := r.Services(ctxT(t))
	if err != nil || len(svcs) != 1 || svcs[0].Providers != 2 {
		t.Errorf("Services = %+v, %v; want web with 2", svcs, err)
	}
}

func TestUnreachableNamesServersWithinTimeout(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testzk.FreePort())
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Open(ctx, Options{Servers: []string{addr}, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	if exitcode.Of(err) != exitcode.Unreachable || !errors.Is(err, registry.ErrUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q (exit %d): want exit 4 naming %s", err, exitcode.Of(err), addr)
	}
	// go-zookeeper retries a closed port for ever: only the deadline ends
	// Open, and the error says so.
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q does not wrap the deadline", err)
	}
}

func TestMissingChroot(t *testing.T) {
	zkc := testzk.Shared(t)
	ctx := ctxT(t)
	chroot := "/missing" + testzk.Root(t)
	_, err := Open(ctx, Options{Servers: []string{zkc.Servers[0].Addr()}, Chroot: chroot, Logger: slog.New(slog.DiscardHandler)})
	if exitcode.Of(err) != exitcode.Unreachable || !strings.Contains(err.Error(), "svcdisco chroot prime "+chroot) {
		t.Fatalf("error %v (exit %d): want exit 4 with a prime hint", err, exitcode.Of(err))
	}
	r, err := Open(ctx, Options{Servers: []string{zkc.Servers[0].Addr()}, Chroot: chroot, CreateChroot: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	reg, err := r.Register(ctx, web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := r.conn.Exists(chroot + "/svcdisco/services/web/" + reg.Provider().Name); !ok {
		t.Error("provider not under the chroot")
	}
}

func TestWatchSignalsChanges(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 2*time.Second, nil)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	ch, err := r.Watch(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	full := func() []registry.Provider {
		ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{IncludeMaintenance: true})
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	// A consumer re-lists on every signal: it must reach the state after
	// each change through signals alone (no polling, no sleeps).
	until := func(what string, cond func([]registry.Provider) bool) {
		t.Helper()
		for {
			select {
			case <-ch:
			case <-time.After(10 * time.Second):
				t.Fatalf("no watch signal while waiting for %s", what)
			}
			if cond(full()) {
				return
			}
		}
	}
	reg, err := r.Register(ctx, web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	until("register (service did not exist before)", func(ps []registry.Provider) bool { return len(ps) == 1 })
	p := reg.Provider()
	if _, err := r.conn.Set(root+"/services/web/"+p.Name, []byte(`{"host":"h1","port":80,"status":"maintenance"}`), -1); err != nil {
		t.Fatal(err)
	}
	until("data change", func(ps []registry.Provider) bool {
		return len(ps) == 1 && ps[0].Status == registry.StatusMaintenance
	})
	if err := reg.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	until("deregister", func(ps []registry.Provider) bool { return len(ps) == 0 })
	cancel()
	testenv.WaitFor(t, "channel close", 5*time.Second, func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	})
}

func TestRegisterGivenUpLeavesNoZnode(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	r := open(t, proxy.Addr(), root, 5*time.Second, nil)
	if _, err := r.Register(ctxT(t), web("h0", 80)); err != nil { // creates the service dir
		t.Fatal(err)
	}
	_, dir, err := r.conn.Exists(root + "/services/web")
	if err != nil {
		t.Fatal(err)
	}
	// The link is frozen while the create is on the wire, and the caller
	// gives up. Thawed within the session timeout, the server then creates
	// the znode: it must not stay (a retrying caller would be listed twice).
	// The proxy holds the bytes, so the create cannot be served early.
	proxy.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = r.Register(ctx, web("h1", 80))
	cancel()
	proxy.Thaw()
	if err == nil {
		t.Fatal("Register succeeded across a frozen link")
	}
	testenv.WaitFor(t, "the late create and its clean-up", 10*time.Second, func() bool {
		_, st, err := r.conn.Exists(root + "/services/web")
		return err == nil && st.Cversion >= dir.Cversion+2
	})
	ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil || len(ps) != 1 || ps[0].Host != "h0" {
		t.Fatalf("after a given-up Register: %+v, %v", ps, err)
	}
}
