package zk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// TestThousandProvidersSurviveFiveExpiries: one client holding 1,000
// providers (each with the data watch that follows its maintenance status,
// every tenth in maintenance) loses its session five times; after each
// expiry exactly 1,000 are listed again, all on the new session. An expiry
// pushes one EventNotWatching per watch through go-zookeeper; none of them
// may crowd out the session events that trigger re-registration.
func TestThousandProvidersSurviveFiveExpiries(t *testing.T) {
	const n = 1000
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	// 3s: short enough for five expiries, long enough that a loaded
	// machine does not lose the session by itself.
	r := open(t, proxy.Addr(), root, 3*time.Second, nil)
	watcher := open(t, zkc.ConnString(), root, 10*time.Second, nil)
	registerMany(t, r, n)

	all := func() []registry.Provider {
		ps, err := watcher.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true, IncludeMaintenance: true})
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	if got := len(all()); got != n {
		t.Fatalf("%d listed after registering, want %d", got, n)
	}
	for i := 1; i <= 5; i++ {
		sid := r.conn.SessionID()
		proxy.Partition()
		testenv.WaitFor(t, fmt.Sprintf("expiry %d on the server", i), 30*time.Second, func() bool { return len(all()) == 0 })
		proxy.Heal()
		// Every provider back with its marker, on the new session; the
		// reconcile that did it has finished.
		testenv.WaitFor(t, fmt.Sprintf("all %d back after expiry %d", n, i), 120*time.Second, func() bool {
			children, _, err := watcher.conn.Children(root + "/services/web")
			markers, _, merr := watcher.conn.Children(root + "/maintenance/web")
			return r.conn.SessionID() != sid && err == nil && merr == nil && len(children) == n && len(markers) == n/10 && len(all()) == n
		})
		// Nothing more appears: a further reconcile pass finds every
		// provider in place.
		done := r.session.reconciles.Load()
		notify(r.session.kick)
		testenv.WaitFor(t, "a further reconcile pass", 120*time.Second, func() bool { return r.session.reconciles.Load() > done })
		if ps := all(); len(ps) != n {
			t.Fatalf("expiry %d: %d listed, want exactly %d", i, len(ps), n)
		}
	}
}

// registerMany registers n providers of "web" on r, every tenth in
// maintenance, 20 at a time.
func registerMany(t *testing.T, r *Registry, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 20)
	for i := 0; i < n; i++ {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p := web(fmt.Sprintf("h%04d", i), 80)
			if i%10 == 0 {
				p.Status = registry.StatusMaintenance
			}
			// A loaded machine may drop the connection under a burst:
			// retry what was unreachable, as a registrant would.
			var err error
			for try := 0; try < 5; try++ {
				if _, err = r.Register(ctxT(t), p); !errors.Is(err, registry.ErrUnreachable) {
					break
				}
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestDeregisterHonoursContext: a Deregister waiting behind a call stuck on
// a frozen connection gives up when its context ends.
func TestDeregisterHonoursContext(t *testing.T) {
	zkc := testzk.Shared(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	r := open(t, proxy.Addr(), testzk.Root(t), 30*time.Second, nil)
	reg, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	proxy.Freeze()
	defer proxy.Thaw()
	z := reg.(*registration)
	go z.ensure(ctxT(t)) // stuck on the frozen link, holding the registration
	testenv.WaitFor(t, "ensure to hold the registration", 10*time.Second, func() bool { return len(z.op) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = reg.Deregister(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, registry.ErrUnreachable) {
		t.Fatalf("Deregister behind a stuck call: %v; want the deadline, as unreachable", err)
	}
}

// TestCloseHonoursTimeout: Close gives up deregistering after CloseTimeout
// (the CLI's --timeout) when the server does not answer.
func TestCloseHonoursTimeout(t *testing.T) {
	zkc := testzk.Shared(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	ctx := ctxT(t)
	r, err := Open(ctx, Options{Servers: []string{proxy.Addr()}, Root: testzk.Root(t), SessionTimeout: 30 * time.Second,
		CloseTimeout: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(ctx, web("h1", 80)); err != nil {
		t.Fatal(err)
	}
	proxy.Freeze()
	defer proxy.Thaw()
	if err := r.Close(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close against a frozen server: %v; want the close timeout", err)
	}
}

// TestDeregisterDeletesMarkerInOneMulti: a provider in maintenance goes with
// its marker in one request.
func TestDeregisterDeletesMarkerInOneMulti(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	r := open(t, proxy.Addr(), root, 5*time.Second, nil)
	p := web("h1", 80)
	p.Status = registry.StatusMaintenance
	reg, err := r.Register(ctxT(t), p)
	if err != nil {
		t.Fatal(err)
	}
	proxy.ResetOps()
	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ops := proxy.Ops()
	if ops[testzk.OpMulti] != 1 || ops[testzk.OpDelete] != 0 {
		t.Errorf("deregistration ops %v: want one multi and no plain delete", ops)
	}
	children, _, err := r.conn.Children(root + "/services/web")
	if err != nil || len(children) != 0 {
		t.Errorf("children after Deregister: %v, %v", children, err)
	}
}

// TestSessionObservable: the negotiated timeout (the server raises a
// request below its minimum, 2 ticks), the session ID, and the events of a
// disconnect and reconnect, in order.
func TestSessionObservable(t *testing.T) {
	zkc := testzk.Shared(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	r := open(t, proxy.Addr(), testzk.Root(t), 50*time.Millisecond, nil)
	s := r.Session()
	if s.Timeout != 2*testzk.TickTime || s.ID != r.conn.SessionID() || !s.Connected {
		t.Fatalf("Session() = %+v; want the negotiated timeout %v and session %x", s, 2*testzk.TickTime, r.conn.SessionID())
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	events := r.SessionEvents(ctx)
	next := func() SessionEvent {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(20 * time.Second):
			t.Fatal("no session event")
		}
		return SessionEvent{}
	}
	if ev := next(); ev.State != SessionConnected || ev.Session.ID != s.ID {
		t.Fatalf("first event %+v, want the current state", ev)
	}
	proxy.Partition()
	var seen []string
	ev := next()
	for ; ev.State != SessionConnected; ev = next() {
		seen = append(seen, ev.State.String())
		if ev.State == SessionPresumedLost {
			proxy.Heal()
		}
	}
	// Whether the server expired the session before the client came back
	// depends on timing; either way the order is fixed.
	switch got := strings.Join(seen, ","); got {
	case "disconnected,presumed-lost":
		if ev.Session.ID != s.ID {
			t.Errorf("new session %x without an expired event", ev.Session.ID)
		}
	case "disconnected,presumed-lost,expired":
		if ev.Session.ID == s.ID {
			t.Errorf("expired, yet the session is the same")
		}
	default:
		t.Errorf("events %v, want disconnected, presumed-lost (and expired) before the reconnect", got)
	}
	r.Close()
	for ev := range events {
		if ev.State == SessionClosed {
			return
		}
	}
	t.Error("no closed event")
}

// TestDataWipeStartsFreshConnection: the server is rebuilt empty at the
// same address. It refuses the client's session (the client has seen a
// newer zxid than the server has) while it is up; the client notices,
// starts a fresh connection, re-registers, and logs why.
func TestDataWipeStartsFreshConnection(t *testing.T) {
	zkc := testzk.Start(t, 1)
	root := testzk.Root(t)
	logs := &testenv.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			out := logs.String()
			t.Logf("client log (tail):\n%s", out[max(0, len(out)-6000):])
		}
	})
	r := open(t, zkc.ConnString(), root, time.Second, logs)
	reg, err := r.Register(ctxT(t), web("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	// Move the client's last-seen zxid well past what the rebuilt server
	// will reach during the test.
	znode := root + "/services/web/" + reg.Provider().Name
	for i := 0; i < 100; i++ {
		if err := reg.SetStatus(ctxT(t), []string{registry.StatusMaintenance, registry.StatusUp}[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	oldSID := r.conn.SessionID()

	if err := zkc.Servers[0].Wipe(); err != nil {
		t.Fatal(err)
	}
	watcher := open(t, zkc.ConnString(), root, 5*time.Second, nil)
	testenv.WaitFor(t, "re-registration on the rebuilt server", 60*time.Second, func() bool {
		return count(t, watcher, "web") == 1
	})
	if sid := r.conn.SessionID(); sid == oldSID || sid == 0 {
		t.Errorf("session %x after the wipe, want a new one (was %x)", sid, oldSID)
	}
	if ok, _, _ := watcher.conn.Exists(znode); ok {
		t.Errorf("the old znode %s exists on a wiped server", znode)
	}
	if !strings.Contains(logs.String(), "may have lost its data") {
		t.Errorf("the log does not say why a fresh connection was started:\n%s", logs)
	}
}
