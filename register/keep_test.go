package register

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/register/check"
	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

// health is an HTTP health endpoint driven by a script: each probe takes
// the next scripted answer, then the default. Tests reason in probes, not
// in time.
type health struct {
	mu     sync.Mutex
	script []bool
	def    bool
	probes int
}

func (h *health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	up := h.def
	if len(h.script) > 0 {
		up, h.script = h.script[0], h.script[1:]
	}
	h.probes++
	h.mu.Unlock()
	if !up {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (h *health) set(def bool, script ...bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.def, h.script = def, script
}

// drained reports whether the script is used up and n more probes ran.
func (h *health) after(n int) func() bool {
	h.mu.Lock()
	start := h.probes + len(h.script)
	h.mu.Unlock()
	return func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.script) == 0 && h.probes >= start+n
	}
}

func openZK(t *testing.T, root string) *zkreg.Registry {
	t.Helper()
	zkc := testzk.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zkreg.Open(ctx, zkreg.Options{Servers: []string{zkc.Servers[0].Addr()}, Root: root,
		SessionTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 20*time.Second, cond)
}

func providers(t *testing.T, r registry.Registry) []registry.Provider {
	t.Helper()
	ps, err := r.Providers(context.Background(), "web", registry.ListOptions{IncludeMaintenance: true})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestKeepFollowsCheckWithRiseAndFall(t *testing.T) {
	root := testzk.Root(t)
	holder, watcher := openZK(t, root), openZK(t, root)
	h := &health{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	h.set(true)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Keep(ctx, KeepInput{
			Registry: holder,
			Provider: registry.Provider{Service: "web", Host: "h1", Port: 80},
			Check:    &check.Config{Target: srv.URL, Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 3},
			Timeout:  5 * time.Second, RetryEvery: 20 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	waitFor(t, "registration", func() bool { return len(providers(t, watcher)) == 1 })
	first := providers(t, watcher)[0]
	znode := root + "/services/web/" + first.Name
	_, before, err := watcher.Conn().Exists(znode)
	if err != nil {
		t.Fatal(err)
	}
	_, dirBefore, _ := watcher.Conn().Exists(root + "/services/web")

	// Flapping under the thresholds (never 3 failures in a row): no write.
	f, p := false, true
	h.set(true, f, f, p, f, p, f, f, p, f, f)
	waitFor(t, "the flapping probes", h.after(2))
	ok, after, err := watcher.Conn().Exists(znode)
	_, dirAfter, _ := watcher.Conn().Exists(root + "/services/web")
	if err != nil || !ok || after.Czxid != before.Czxid || after.Mzxid != before.Mzxid || after.Version != before.Version ||
		dirAfter.Cversion != dirBefore.Cversion {
		t.Fatalf("flapping wrote to ZooKeeper: node %+v -> %+v (%v), children version %d -> %d",
			before, after, err, dirBefore.Cversion, dirAfter.Cversion)
	}

	// Down for good: the provider vanishes.
	h.set(false)
	waitFor(t, "the provider to vanish", func() bool { return len(providers(t, watcher)) == 0 })
	// Rising under the threshold (one pass at a time) does not re-register.
	h.set(false, p, f, p, f, p, f)
	waitFor(t, "the rising-flapping probes", h.after(2))
	_, dirDown, _ := watcher.Conn().Exists(root + "/services/web")
	if n := len(providers(t, watcher)); n != 0 {
		t.Fatalf("single passes re-registered the provider (%d listed)", n)
	}
	// Up again: re-created with a new timestamp.
	h.set(true)
	waitFor(t, "the provider to come back", func() bool { return len(providers(t, watcher)) == 1 })
	again := providers(t, watcher)[0]
	if !again.Timestamp.After(first.Timestamp) || again.Name == first.Name {
		t.Errorf("came back as %s (%v), first was %s (%v): want a new timestamp", again.Name, again.Timestamp, first.Name, first.Timestamp)
	}
	_, dirUp, _ := watcher.Conn().Exists(root + "/services/web")
	if dirUp.Cversion != dirDown.Cversion+1 {
		t.Errorf("children version %d -> %d: want exactly one create", dirDown.Cversion, dirUp.Cversion)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(providers(t, watcher)); n != 0 {
		t.Errorf("%d providers after Keep returned", n)
	}
}

func TestKeepCarriesMaintenanceAcrossCheckFlaps(t *testing.T) {
	root := testzk.Root(t)
	holder, watcher := openZK(t, root), openZK(t, root)
	h := &health{}
	h.set(true)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Keep(ctx, KeepInput{ //nolint:errcheck // ends with ctx
		Registry: holder, Provider: registry.Provider{Service: "web", Host: "h1", Port: 80},
		Check:  &check.Config{Target: srv.URL, Interval: 20 * time.Millisecond, Rise: 1, Fall: 1},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RetryEvery: 20 * time.Millisecond,
	})
	waitFor(t, "registration", func() bool { return len(providers(t, watcher)) == 1 })
	if err := watcher.SetStatus(context.Background(), providers(t, watcher)[0], registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	hidden := func() bool {
		ps, err := watcher.Providers(context.Background(), "web", registry.ListOptions{FieldsOnly: true})
		return err == nil && len(ps) == 0 && len(providers(t, watcher)) == 1
	}
	waitFor(t, "maintenance to hide it", hidden)
	h.set(false)
	waitFor(t, "the provider to vanish", func() bool { return len(providers(t, watcher)) == 0 })
	h.set(true)
	waitFor(t, "the provider to come back, still in maintenance", hidden)
	if ps := providers(t, watcher); ps[0].Status != registry.StatusMaintenance {
		t.Errorf("status after the flap: %q", ps[0].Status)
	}
}
