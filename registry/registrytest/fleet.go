package registrytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/agent"
	"github.com/svcdisco/svcdisco/register/check"
)

// testHealthChecked: register.Keep lists the provider exactly while its
// HTTP check is up, and re-registers it with a new timestamp when the
// check comes back — on every backend.
func (s *suite) testHealthChecked(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	other := s.open(t, root, nil)
	var up atomic.Bool
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- register.Keep(ctx, register.KeepInput{
			Registry: r, Provider: web("h1", 80), Timeout: 5 * time.Second,
			Check: &check.Config{Target: srv.URL, Interval: 30 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2},
		})
	}()
	testenv.WaitFor(t, "the provider registered once its check is up", 10*time.Second, func() bool { return len(list(t, other, "web")) == 1 })
	first := list(t, other, "web")[0].Timestamp

	up.Store(false)
	testenv.WaitFor(t, "the provider gone when its check fails", 10*time.Second, func() bool { return len(list(t, other, "web")) == 0 })
	up.Store(true)
	testenv.WaitFor(t, "the provider back with a new timestamp", 10*time.Second, func() bool {
		ps := list(t, other, "web")
		return len(ps) == 1 && ps[0].Timestamp.After(first)
	})

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Keep: %v", err)
	}
	if n := len(list(t, other, "web")); n != 0 {
		t.Errorf("%d providers after Keep stopped", n)
	}
}

// testAgent: the boot-hook agent registers one provider per services.d
// file and follows additions and removals — on every backend.
func (s *suite) testAgent(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	other := s.open(t, root, nil)
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.yaml", "service: web\nport: 8080\nhost: n1\n")
	write("db.json", `{"service":"db","port":5432,"host":"n1","attributes":{"role":"primary"}}`)
	a := &agent.Agent{Dir: dir, Registry: r, Timeout: 5 * time.Second}
	defer a.StopAll()
	if res, err := a.Reconcile(ctxT(t)); err != nil || len(res.Added) != 2 {
		t.Fatalf("reconcile: %+v, %v", res, err)
	}
	testenv.WaitFor(t, "both providers", 10*time.Second, func() bool {
		db := list(t, other, "db")
		return len(list(t, other, "web")) == 1 && len(db) == 1 && db[0].Attributes["role"] == "primary"
	})
	if err := os.Remove(filepath.Join(dir, "db.json")); err != nil {
		t.Fatal(err)
	}
	if res, err := a.Reconcile(ctxT(t)); err != nil || len(res.Removed) != 1 || len(res.Unchanged) != 1 {
		t.Fatalf("reconcile after removal: %+v, %v", res, err)
	}
	testenv.WaitFor(t, "db deregistered, web kept", 10*time.Second, func() bool {
		return len(list(t, other, "db")) == 0 && len(list(t, other, "web")) == 1
	})
}
