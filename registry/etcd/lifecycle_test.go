package etcd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testetcd.StopShared()
	os.Exit(code)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testRoot is the root of one run of a test: every registry the test
// opens shares it, and a later run (go test -count, make flake) gets its
// own, so keys an earlier run's etcdctl left behind until their lease
// expires never take part.
func testRoot(t *testing.T) string {
	if v, ok := testRoots.Load(t); ok {
		return v.(string)
	}
	v, loaded := testRoots.LoadOrStore(t, fmt.Sprintf("/t/%s/%d", t.Name(), testRootSeq.Add(1)))
	if !loaded {
		t.Cleanup(func() { testRoots.Delete(t) })
	}
	return v.(string)
}

var (
	testRoots   sync.Map // *testing.T → string
	testRootSeq atomic.Int64
)

// open connects to endpoints under the test's root (testRoot).
func open(t *testing.T, endpoints []string, ttl time.Duration, buf *testenv.Buffer) *Registry {
	t.Helper()
	var h slog.Handler = slog.DiscardHandler
	if buf != nil {
		h = slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	r, err := Open(ctxT(t), Options{Endpoints: endpoints, Root: testRoot(t), TTL: ttl, Logger: slog.New(h)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// keys lists every key under the service's prefix, markers included.
func keys(t *testing.T, c *clientv3.Client, r *Registry, service string) []string {
	t.Helper()
	resp, err := c.Get(ctxT(t), r.servicePrefix(service), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func provider(host string, port int) registry.Provider {
	return registry.Provider{Service: "web", Host: host, Port: port, Weight: 1}
}

// A lease lost behind the registrant's back (here revoked, as etcd does
// when the TTL runs out) is replaced by a new lease and a new key, and
// there is never more than one key for the registration.
func TestLeaseLostReRegistersOnce(t *testing.T) {
	c := testetcd.Shared(t)
	var logs testenv.Buffer
	r := open(t, c.Endpoints(), 5*time.Second, &logs)
	reg, err := r.Register(ctxT(t), provider("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	first := reg.(*registration)
	first.mu.Lock()
	oldKey, oldLease := first.key, first.lease
	first.mu.Unlock()
	if _, err := r.Client().Revoke(ctxT(t), oldLease); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "a new key on a new lease", 20*time.Second, func() bool {
		ks := keys(t, r.Client(), r, "web")
		if len(ks) > 2 {
			t.Fatalf("more than one registration's keys: %v", ks)
		}
		return len(ks) == 2 && ks[0] != oldKey
	})
	ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true, IncludeMaintenance: true})
	if err != nil || len(ps) != 1 || ps[0].Status != registry.StatusMaintenance {
		t.Fatalf("after re-registration: %+v, %v (maintenance must be kept)", ps, err)
	}
	if got := reg.Provider().Name; got == "" || r.servicePrefix("web")+got == oldKey {
		t.Errorf("Provider().Name = %q, still the old key", got)
	}
	if !strings.Contains(logs.String(), "re-registered provider") {
		t.Errorf("no re-registration logged:\n%s", logs.String())
	}
}

// A client cut off for longer than the TTL loses its lease (etcd deletes
// the key); once the network heals it registers again, on one key.
func TestPartitionPastTTL(t *testing.T) {
	c := testetcd.Shared(t)
	proxy := testzk.NewProxy(t, c.Endpoints()[0])
	r := open(t, []string{proxy.Addr()}, 2*time.Second, nil)
	observer := open(t, c.Endpoints(), 2*time.Second, nil)
	observer.opts.Root = r.opts.Root
	reg, err := r.Register(ctxT(t), provider("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	oldName := reg.Provider().Name
	proxy.Partition()
	testenv.WaitFor(t, "etcd to expire the partitioned lease", 30*time.Second, func() bool {
		return len(keys(t, observer.Client(), observer, "web")) == 0
	})
	proxy.Heal()
	testenv.WaitFor(t, "the provider registered again", 30*time.Second, func() bool {
		ks := keys(t, observer.Client(), observer, "web")
		if len(ks) > 1 {
			t.Fatalf("two keys for one registration: %v", ks)
		}
		return len(ks) == 1
	})
	if reg.Provider().Name == oldName {
		t.Errorf("re-registered under the old name %s", oldName)
	}
}

// A watch whose revision was compacted away is started again, and a signal
// is sent since changes may have been missed.
func TestWatchAfterCompaction(t *testing.T) {
	c := testetcd.Shared(t)
	r := open(t, c.Endpoints(), 10*time.Second, nil)
	start, err := r.revision(ctxT(t), r.servicePrefix("web"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := r.Register(ctxT(t), provider("h1", 80))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	now, err := r.revision(ctxT(t), r.servicePrefix("web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Client().Compact(ctxT(t), now); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan struct{}, 1)
	go r.watchLoop(ctx, "web", r.servicePrefix("web"), start, out)
	expect := func(what string) {
		t.Helper()
		select {
		case _, ok := <-out:
			if !ok {
				t.Fatalf("watch closed (%s)", what)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no signal: %s", what)
		}
	}
	expect("after the compaction")
	if _, err := r.Register(ctxT(t), provider("h2", 81)); err != nil {
		t.Fatal(err)
	}
	expect("a registration after the watch was re-established")
}

// A watcher cut off from etcd while a provider registers is told of it
// once the network heals: the client resumes the watch from the last
// revision it saw.
func TestWatchSurvivesPartition(t *testing.T) {
	c := testetcd.Shared(t)
	proxy := testzk.NewProxy(t, c.Endpoints()[0])
	watcher := open(t, []string{proxy.Addr()}, 5*time.Second, nil)
	r := open(t, c.Endpoints(), 5*time.Second, nil)
	r.opts.Root = watcher.opts.Root
	changes, err := watcher.Watch(ctxT(t), "web")
	if err != nil {
		t.Fatal(err)
	}
	proxy.Partition()
	if _, err := r.Register(ctxT(t), provider("h1", 80)); err != nil {
		t.Fatal(err)
	}
	proxy.Heal()
	select {
	case _, ok := <-changes:
		if !ok {
			t.Fatal("watch closed")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no signal for a registration made while the watcher was cut off")
	}
}
