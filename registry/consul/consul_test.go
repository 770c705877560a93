package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
)

// The behaviour svcdisco promises on every backend is tested by the
// conformance suite (registry/registrytest). These tests cover what only
// Consul has: native visibility, ACL tokens, Consul's environment, the
// agent losing or replacing a service, and Consul's maintenance mode.

func TestMain(m *testing.M) { testconsul.Main(m) }

var roots struct {
	sync.Mutex
	n int
}

func uniqueRoot() string {
	roots.Lock()
	defer roots.Unlock()
	roots.n++
	return fmt.Sprintf("/t%d", roots.n)
}

func open(t *testing.T, o Options, logs *testenv.Buffer) *Registry {
	t.Helper()
	if o.Root == "" {
		o.Root = uniqueRoot()
	}
	o.Logger = slog.New(slog.DiscardHandler)
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := Open(ctxT(t), o)
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

func providers(t *testing.T, r *Registry, svc string) []registry.Provider {
	t.Helper()
	ps, err := r.Providers(ctxT(t), svc, registry.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestProviderIsNativeToConsul(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	reg, err := r.Register(ctxT(t), registry.Provider{Service: "native-web", Host: "h1.example.com", Address: "10.0.0.5",
		Port: 8080, Weight: 2, Attributes: map[string]string{"zone": "a"},
		Endpoints: map[string]registry.Endpoint{"admin": {Host: "h1.example.com", Port: 9090}}})
	if err != nil {
		t.Fatal(err)
	}
	// What Consul's own HTTP API (/v1/health/service/native-web?passing) says.
	entries, _, err := r.Client().Health().Service("native-web", "", true, nil)
	if err != nil || len(entries) != 1 {
		t.Fatalf("health: %+v, %v", entries, err)
	}
	s := entries[0].Service
	if s.ID != "native-web-h1.example.com-8080" || s.Address != "10.0.0.5" || s.Port != 8080 || s.Weights.Passing != 2 ||
		s.Meta["zone"] != "a" || s.Meta[MetaHost] != "h1.example.com" || s.Meta[MetaTimestamp] != reg.Provider().Timestamp.Format(registry.TimeFormat) ||
		s.TaggedAddresses["admin"] != (api.ServiceAddress{Address: "h1.example.com", Port: 9090}) {
		t.Errorf("Consul sees %+v", s)
	}
	if got := entries[0].Checks.AggregatedStatus(); got != api.HealthPassing {
		t.Errorf("checks %s, want passing", got)
	}
}

// A service registered natively (no svcdisco Meta) is listed with what
// Consul has: no timestamp, so after svcdisco's providers, by name.
func TestNativeServiceIsListed(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	agent := r.Client().Agent()
	for _, id := range []string{"legacy-b", "legacy-a"} {
		err := agent.ServiceRegister(&api.AgentServiceRegistration{ID: id, Name: "legacy", Port: 7000, Address: "192.0.2.7",
			Meta: map[string]string{"version": id}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = agent.ServiceDeregister(id) })
	}
	mine, err := r.Register(ctxT(t), registry.Provider{Service: "legacy", Host: "h9", Port: 7001})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := query.Run(ctxT(t), r, query.Options{Service: "legacy"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, " ") != mine.Provider().ID+" legacy-a legacy-b" {
		t.Fatalf("order %v: want svcdisco's provider first, then native ones by name", ids)
	}
	if !ps[1].Timestamp.IsZero() || ps[1].Host != "192.0.2.7" || ps[1].Port != 7000 || ps[1].Attributes["version"] != "legacy-a" {
		t.Errorf("native provider %+v", ps[1])
	}
	b, _ := json.Marshal(ps[1])
	if !strings.Contains(string(b), `"timestamp":""`) {
		t.Errorf("native provider JSON %s: want an empty timestamp", b)
	}
	ps, _ = query.Run(ctxT(t), r, query.Options{Service: "legacy", Where: []query.Filter{{Key: "version", Value: "legacy-b"}}})
	if len(ps) != 1 || ps[0].ID != "legacy-b" {
		t.Errorf("--where on native Meta: %+v", ps)
	}
}

func TestAttributeThatDoesNotFitIsUsageError(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	_, err := r.Register(ctxT(t), registry.Provider{Service: "fit", Host: "h1", Port: 80,
		Attributes: map[string]string{"app.version": "1"}})
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), `"app.version"`) {
		t.Fatalf("error %v (exit %d): want exit 2 naming the attribute", err, exitcode.Of(err))
	}
	if ps := providers(t, r, "fit"); len(ps) != 0 {
		t.Errorf("half-written: %+v", ps)
	}
}
