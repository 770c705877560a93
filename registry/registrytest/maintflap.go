package registrytest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/check"
	"github.com/svcdisco/svcdisco/registry"
)

// capturing hands out the Registrations made through it, so a test can
// wait for a registrant to have adopted a status set by another client.
type capturing struct {
	registry.Registry
	mu   sync.Mutex
	last registry.Registration
}

func (c *capturing) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	reg, err := c.Registry.Register(ctx, p)
	if err == nil {
		c.mu.Lock()
		c.last = reg
		c.mu.Unlock()
	}
	return reg, err
}

func (c *capturing) status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		return ""
	}
	return c.last.Provider().Status
}

// testMaintenanceSurvivesCheckFlap: a status set by another client
// (`svcdisco maintenance`) is kept when the provider's health check fails
// and passes again and it is registered anew — both ways: maintenance set
// on an up provider, and an up status set on one registered in
// maintenance.
func (s *suite) testMaintenanceSurvivesCheckFlap(t *testing.T) {
	for _, tc := range []struct{ initial, set string }{
		{registry.StatusUp, registry.StatusMaintenance},
		{registry.StatusMaintenance, registry.StatusUp},
	} {
		t.Run(tc.initial+"-to-"+tc.set, func(t *testing.T) {
			root := s.root(t)
			r := &capturing{Registry: s.openTTL(t, root, CrashTTL, nil)}
			other := s.open(t, root, nil)
			var up atomic.Bool
			up.Store(true)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if !up.Load() {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			defer srv.Close()
			p := web("h1", 80)
			p.Status = tc.initial
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- register.Keep(ctx, register.KeepInput{Registry: r, Provider: p, Timeout: 5 * time.Second,
					Check: &check.Config{Target: srv.URL, Interval: 30 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2}})
			}()
			defer func() { cancel(); <-done }()
			all := func() []registry.Provider {
				ps, err := other.Providers(ctxT(t), "web", registry.ListOptions{IncludeMaintenance: true})
				if err != nil {
					t.Fatal(err)
				}
				return ps
			}
			testenv.WaitFor(t, "the provider registered", 10*time.Second, func() bool { return len(all()) == 1 })
			listed := all()[0]
			if err := other.SetStatus(ctxT(t), listed, tc.set); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "the registrant to adopt the status", 20*time.Second, func() bool { return r.status() == tc.set })

			up.Store(false)
			testenv.WaitFor(t, "the provider gone when its check fails", 10*time.Second, func() bool { return len(all()) == 0 })
			up.Store(true)
			testenv.WaitFor(t, "the provider back", 10*time.Second, func() bool {
				ps := all()
				return len(ps) == 1 && ps[0].Timestamp.After(listed.Timestamp)
			})
			if got := all()[0].Status; got != tc.set {
				t.Fatalf("status after the check flapped: %s, want %s", got, tc.set)
			}
			wantPlain := 1
			if tc.set == registry.StatusMaintenance {
				wantPlain = 0
			}
			if n := len(list(t, other, "web")); n != wantPlain {
				t.Fatalf("plain listing has %d providers, want %d", n, wantPlain)
			}
		})
	}
}
