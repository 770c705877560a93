package consul

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/check"
	"github.com/svcdisco/svcdisco/registry"
)

// healthCheck returns the state and output of the provider's health check
// as Consul's own health API shows it ("" when there is none).
func healthCheck(t *testing.T, c *api.Client, svc, id string) (status, output string) {
	t.Helper()
	checks, _, err := c.Health().Checks(svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, hc := range checks {
		if hc.CheckID == "svcdisco-check:"+id {
			return hc.Status, hc.Output
		}
	}
	return "", ""
}

// TestFailingCheckIsCriticalInConsul: on Consul a failing --check is not a
// deregistration but a critical check with the probe's output, which
// Consul's health API (and so its UI and alerting) shows; svcdisco's
// listings hide the instance as they hide one that is not registered, and
// list it again, with a new timestamp, once the check passes.
func TestFailingCheckIsCriticalInConsul(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	other := open(t, Options{Address: a.Addr(), Root: r.opts.Root}, nil)
	var up atomic.Bool
	up.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p := registry.Provider{Service: "health-web", ID: "health-web-" + strings.TrimPrefix(r.opts.Root, "/"), Host: "h1", Port: 80}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- register.Keep(ctx, register.KeepInput{Registry: r, Provider: p, Timeout: 5 * time.Second,
			Check: &check.Config{Target: srv.URL, Interval: 30 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2}})
	}()
	defer func() { cancel(); <-done }()
	c := r.Client()
	testenv.WaitFor(t, "the provider listed once its check passes", 10*time.Second, func() bool { return len(providers(t, other, "health-web")) == 1 })
	first := providers(t, other, "health-web")[0].Timestamp
	if st, out := healthCheck(t, c, "health-web", p.ID); st != api.HealthPassing || !strings.Contains(out, "passing") {
		t.Fatalf("health check while up: %s %q, want passing", st, out)
	}

	up.Store(false)
	testenv.WaitFor(t, "Consul to show the check critical", 10*time.Second, func() bool {
		st, _ := healthCheck(t, c, "health-web", p.ID)
		return st == api.HealthCritical
	})
	if _, out := healthCheck(t, c, "health-web", p.ID); !strings.Contains(out, "503") {
		t.Errorf("critical check output %q: want the probe's answer (HTTP 503)", out)
	}
	if ps := providers(t, other, "health-web"); len(ps) != 0 {
		t.Errorf("a critical provider is listed: %+v", ps)
	}
	all, err := other.Providers(ctxT(t), "health-web", registry.ListOptions{IncludeMaintenance: true})
	if err != nil || len(all) != 0 {
		t.Errorf("--include-maintenance lists a critical provider: %+v, %v", all, err)
	}
	if svcs, _, err := c.Catalog().Service("health-web", "", nil); err != nil || len(svcs) != 1 {
		t.Fatalf("catalog while the check fails: %d instances, %v; want it still registered", len(svcs), err)
	}

	up.Store(true)
	testenv.WaitFor(t, "the provider listed again with a new timestamp", 10*time.Second, func() bool {
		ps := providers(t, other, "health-web")
		return len(ps) == 1 && ps[0].Timestamp.After(first)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	if svcs, _, err := c.Catalog().Service("health-web", "", nil); err != nil || len(svcs) != 0 {
		t.Errorf("catalog after Keep stopped: %d instances, %v", len(svcs), err)
	}
}

// TestNeverPassingCheckIsNotAnnounced: a provider whose check never passes
// is in Consul's catalog, critical with the probe's output, but Keep does
// not announce it as registered (the agent's make-before-break waits for
// that announcement before it removes the old version of a provider).
func TestNeverPassingCheckIsNotAnnounced(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	p := registry.Provider{Service: "never-web", ID: "never-web-" + strings.TrimPrefix(r.opts.Root, "/"), Host: "h1", Port: 80}
	var announced atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- register.Keep(ctx, register.KeepInput{Registry: r, Provider: p, Timeout: 5 * time.Second,
			Check:    &check.Config{Target: "exec:echo not ready; exit 1", Interval: 30 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1},
			OnChange: func(up bool, _ registry.Provider) { announced.Store(announced.Load() || up) }})
	}()
	defer func() { cancel(); <-done }()
	testenv.WaitFor(t, "Consul to show the probe's output on a critical check", 10*time.Second, func() bool {
		st, out := healthCheck(t, r.Client(), "never-web", p.ID)
		return st == api.HealthCritical && strings.Contains(out, "not ready")
	})
	if announced.Load() {
		t.Error("a provider whose check never passed was announced as registered")
	}
	if ps := providers(t, r, "never-web"); len(ps) != 0 {
		t.Errorf("listed: %+v", ps)
	}
}
