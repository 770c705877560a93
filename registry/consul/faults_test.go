package consul

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
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
	kv := r.Client().KV()
	for i := range 60 { // push the index well above where a fresh agent starts
		if _, err := kv.Put(&api.KVPair{Key: fmt.Sprintf("bump/%d", i), Value: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, before, err := r.Client().Health().Service("web", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := r.Watch(ctx, "web")
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
	if _, err := r2.Register(ctx, registry.Provider{Service: "web", Host: "new", Port: 80}); err != nil {
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
	if _, err := r2.Register(ctx, registry.Provider{Service: "web", Host: "late", Port: 80}); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, changes, "a signal for a provider registered once the watch recovered")
	if !hasHost("late") {
		t.Fatal("signalled, but the late provider is not listed")
	}
}

func waitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(recoveryBound):
		t.Fatalf("timed out after %s waiting for %s", recoveryBound, what)
	}
}
