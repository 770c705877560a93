package consul

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
)

// recoveryBound bounds the wait for a watch to recover after an agent
// restart. It is far below maxWait (5m), the blindness this guards
// against, and far above what recovery takes (a few retries).
const recoveryBound = 60 * time.Second

// TestWatchSeesChangesRightAfterAgentRestart: a dev agent restarted loses
// its state and starts its Raft index over, below the index the watch
// was blocking on. The watch must notice the restart and signal both the
// providers that vanished with it and a provider registered afterwards,
// without waiting out a blocking query's maxWait.
func TestWatchSeesChangesRightAfterAgentRestart(t *testing.T) {
	a := testconsul.Start(t, testconsul.Options{})
	r := open(t, Options{Address: a.Addr()}, nil)
	ctx := ctxT(t)
	if _, err := r.Register(ctx, registry.Provider{Service: "web", Host: "old", Port: 80}); err != nil {
		t.Fatal(err)
	}
	agent := r.Client().Agent()
	for i := range 30 { // push web's index (Consul keeps one per service) well above where a fresh agent starts
		id := fmt.Sprintf("bump-%d", i)
		if err := agent.ServiceRegister(&api.AgentServiceRegistration{ID: id, Name: "web", Port: 1}); err != nil {
			t.Fatal(err)
		}
		if err := agent.ServiceDeregister(id); err != nil {
			t.Fatal(err)
		}
	}
	_, before, err := r.Client().Health().Service("web", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	t.Cleanup(wcancel)
	changes, err := r.Watch(wctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Restart(); err != nil {
		t.Fatal(err)
	}
	// Register from a second connection that holds nothing, so the only
	// change is this new provider; the old one was lost with the agent's
	// state (and will come back through its heartbeat, which we stop).
	r.Close()
	r2 := open(t, Options{Address: a.Addr(), Root: r.opts.Root}, nil)
	if _, err := r2.Register(ctxT(t), registry.Provider{Service: "web", Host: "new", Port: 80}); err != nil {
		t.Fatal(err)
	}
	_, after, err := r2.Client().Health().Service("web", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastIndex >= before.LastIndex {
		t.Fatalf("index after restart %d not below %d: the test does not reproduce a restart", after.LastIndex, before.LastIndex)
	}
	hasHost := func(host string) bool {
		for _, p := range providers(t, r2, "web") {
			if p.Host == host {
				return true
			}
		}
		return false
	}
	testenv.WaitFor(t, "a watch signal listing the provider registered after the restart", recoveryBound, func() bool {
		select {
		case <-changes:
			return hasHost("new")
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	// And the watch blocks on the new index: a later change is signalled.
	for len(changes) > 0 {
		<-changes
	}
	restarted := time.Now()
	if _, err := r2.Register(ctxT(t), registry.Provider{Service: "web", Host: "late", Port: 80}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, changes, "a signal for a provider registered once the watch recovered")
	if !hasHost("late") {
		t.Fatal("signalled, but the late provider is not listed")
	}
	t.Logf("recovered: the late provider was signalled %s after its registration", time.Since(restarted).Round(time.Millisecond))
}

func waitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(recoveryBound):
		t.Fatalf("timed out after %s waiting for %s", recoveryBound, what)
	}
}

// TestNodeMaintenance: while the agent's node is in maintenance, its
// providers are listed as in maintenance (so `svcdisco maintenance` finds
// them), hidden from plain listings, and their own status can still be
// switched, with a warning that the node keeps them out of rotation.
func TestNodeMaintenance(t *testing.T) {
	a := testconsul.Start(t, testconsul.Options{})
	logs := &testenv.Buffer{}
	r := open(t, Options{Address: a.Addr()}, logs)
	ctx := ctxT(t)
	if _, err := r.Register(ctx, registry.Provider{Service: "wh", ID: "wh-w1-1", Host: "w1", Port: 80}); err != nil {
		t.Fatal(err)
	}
	if err := r.Client().Agent().EnableNodeMaintenance("test"); err != nil {
		t.Fatal(err)
	}
	other := open(t, Options{Address: a.Addr(), Root: r.opts.Root}, logs)
	ps, err := other.Providers(ctx, "wh", registry.ListOptions{IncludeMaintenance: true})
	if err != nil || len(ps) != 1 || ps[0].ID != "wh-w1-1" || ps[0].Status != registry.StatusMaintenance {
		t.Fatalf("IncludeMaintenance during node maintenance: %+v, %v", ps, err)
	}
	if n := len(providers(t, other, "wh")); n != 0 {
		t.Fatalf("%d providers listed plainly during node maintenance", n)
	}
	if err := other.SetStatus(ctx, ps[0], registry.StatusUp); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "node is in maintenance") {
		t.Errorf("no warning that the node keeps it out of rotation:\n%s", logs.String())
	}
}

// TestNativeWithoutPortSkipped: a native instance registered with port 0
// is not a provider: it is skipped with a warning, and not counted.
func TestNativeWithoutPortSkipped(t *testing.T) {
	a := testconsul.Shared(t)
	logs := &testenv.Buffer{}
	r := open(t, Options{Address: a.Addr()}, logs)
	agent := r.Client().Agent()
	if err := agent.ServiceRegister(&api.AgentServiceRegistration{ID: "noport-1", Name: "noport", Address: "10.9.9.15"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.ServiceDeregister("noport-1") })
	if _, err := r.Register(ctxT(t), registry.Provider{Service: "noport", Host: "h1", Port: 81}); err != nil {
		t.Fatal(err)
	}
	ps := providers(t, r, "noport")
	if len(ps) != 1 || ps[0].Port != 81 {
		t.Fatalf("providers %+v, want only h1:81", ps)
	}
	if !strings.Contains(logs.String(), "noport-1") || !strings.Contains(logs.String(), "port 0") {
		t.Errorf("no warning naming the skipped instance:\n%s", logs.String())
	}
	svcs, err := r.Services(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range svcs {
		if c.Service == "noport" && c.Providers != 1 {
			t.Errorf("services counts %d noport providers, want 1", c.Providers)
		}
	}
}

// TestMaintenanceSurvivesAgentRestart: maintenance switched on by another
// client is kept when the agent restarts without its state and the
// registrant registers the provider again.
func TestMaintenanceSurvivesAgentRestart(t *testing.T) {
	a := testconsul.Start(t, testconsul.Options{})
	logs := &testenv.Buffer{}
	r := open(t, Options{Address: a.Addr(), TTL: 2 * time.Second}, logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registrant's log:\n%s", logs.String())
		}
	})
	reg, err := r.Register(ctxT(t), registry.Provider{Service: "mweb", Host: "h1", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	other := open(t, Options{Address: a.Addr(), Root: r.opts.Root}, nil)
	if err := other.SetStatus(ctxT(t), reg.Provider(), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the registrant to adopt the status", recoveryBound, func() bool {
		return reg.Provider().Status == registry.StatusMaintenance
	})
	first := reg.Provider().Timestamp
	if err := a.RestartWithoutState(); err != nil {
		t.Fatal(err)
	}
	var ps []registry.Provider
	testenv.WaitFor(t, "the provider registered again", recoveryBound, func() bool {
		ps, err = other.Providers(ctxT(t), "mweb", registry.ListOptions{IncludeMaintenance: true})
		return err == nil && len(ps) == 1 && ps[0].Timestamp.After(first)
	})
	if ps[0].Status != registry.StatusMaintenance {
		t.Fatalf("status after the agent restart: %s, want maintenance", ps[0].Status)
	}
	if n := len(providers(t, other, "mweb")); n != 0 {
		t.Fatalf("%d providers listed plainly, want none in maintenance", n)
	}
}

// TestQueryWaitOutlastsAgentRestart: `query --at-least 1 --wait` keeps
// waiting through an agent restart (the watch signals the outage; the
// failed re-list is retried) and returns the provider registered after.
func TestQueryWaitOutlastsAgentRestart(t *testing.T) {
	a := testconsul.Start(t, testconsul.Options{})
	r := open(t, Options{Address: a.Addr()}, nil)
	type answer struct {
		ps  []registry.Provider
		err error
	}
	done := make(chan answer, 1)
	waiting := &watchStarted{Registry: r, started: make(chan struct{})}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*recoveryBound)
		defer cancel()
		ps, err := query.Run(ctx, waiting, query.Options{Service: "qweb", AtLeast: 1, Wait: recoveryBound})
		done <- answer{ps, err}
	}()
	<-waiting.started // the first listing is done: query is waiting
	if err := a.Restart(); err != nil {
		t.Fatal(err)
	}
	r2 := open(t, Options{Address: a.Addr(), Root: r.opts.Root}, nil)
	if _, err := r2.Register(ctxT(t), registry.Provider{Service: "qweb", Host: "h1", Port: 80}); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil || len(got.ps) != 1 {
		t.Fatalf("query --at-least 1 --wait across a restart: %+v, %v", got.ps, got.err)
	}
}

// watchStarted closes started once query is waiting: its watch is set
// and its first listing has returned (query.Run watches, then lists).
type watchStarted struct {
	*Registry
	started chan struct{}
	once    sync.Once
}

func (w *watchStarted) Providers(ctx context.Context, svc string, o registry.ListOptions) ([]registry.Provider, error) {
	defer w.once.Do(func() { close(w.started) })
	return w.Registry.Providers(ctx, svc, o)
}
