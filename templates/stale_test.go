package templates

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/query/answercache"
	"github.com/svcdisco/svcdisco/registry"
)

// fixedRegistry answers every listing from a map.
type fixedRegistry struct {
	registry.Registry
	ps map[string][]registry.Provider
}

func (f *fixedRegistry) Providers(_ context.Context, svc string, _ registry.ListOptions) ([]registry.Provider, error) {
	return append([]registry.Provider(nil), f.ps[svc]...), nil
}

func (f *fixedRegistry) Close() error { return nil }

// TestOnceStale: render --once fills the cache while the registry answers;
// while it cannot be reached, --stale-ok renders from the cache (exit 6,
// the result marked stale), min_providers still applies to the cached
// answer, a service never cached is refused as before (exit 4), and
// without --stale-ok nothing is rendered from the cache.
func TestOnceStale(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)
	reg := &fixedRegistry{ps: map[string][]registry.Provider{
		"web": {{Service: "web", Host: "w1", Port: 1, Name: "w1", Timestamp: t0}, {Service: "web", Host: "w2", Port: 2, Name: "w2", Timestamp: t0.Add(time.Second)}},
		"db":  {{Service: "db", Host: "d1", Port: 3, Name: "d1", Timestamp: t0}},
	}}
	load := func(name, body string, min map[string]int) *Template {
		src := filepath.Join(dir, name+".tmpl")
		if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		tm, err := Load(Spec{Source: src, Destination: filepath.Join(dir, name+".out"), MinProviders: min})
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	web := load("web", `{{ range providers "web" }}{{ .Host }}:{{ .Port }} {{ end }}`, map[string]int{"web": 2})
	db := load("db", `{{ range providers "db" }}{{ .Host }}{{ end }}`, map[string]int{"db": 2})
	api := load("api", `{{ range providers "api" }}{{ .Host }}{{ end }}`, nil)
	answers := &query.Answers{Cache: answercache.New(filepath.Join(dir, "cache")), Registry: "zk://h:2181", Root: "/svcdisco", StaleOK: time.Hour}
	up := func(context.Context) (registry.Registry, error) { return reg, nil }
	down := func(context.Context) (registry.Registry, error) {
		return nil, exitcode.Unreachablef("connect zk://h:2181: no server answered")
	}

	res, err := Once(context.Background(), Options{Templates: []*Template{web}, Open: up, Answers: answers})
	if err != nil || res[0].Status != StatusWritten || res[0].Stale {
		t.Fatalf("registry up: %+v %v", res, err)
	}
	if err := os.Remove(web.Destination); err != nil {
		t.Fatal(err)
	}
	if _, err := Once(context.Background(), Options{Templates: []*Template{db}, Open: up, Answers: answers}); exitcode.Of(err) != exitcode.NotEnough {
		t.Fatalf("db below min_providers while up: %v", err)
	}

	res, err = Once(context.Background(), Options{Templates: []*Template{web}, Open: down, Answers: answers})
	if exitcode.Of(err) != exitcode.Stale || !strings.Contains(err.Error(), "stale answer for web") {
		t.Errorf("registry down, stale ok: %v, want exit 6 naming web", err)
	}
	if r := res[0]; r.Status != StatusWritten || !r.Stale || r.Code != exitcode.Stale || !strings.Contains(r.Reason, "no server answered") {
		t.Errorf("web result %+v", r)
	}
	if b, _ := os.ReadFile(web.Destination); string(b) != "w1:1 w2:2 " {
		t.Errorf("web rendered from the cache: %q", b)
	}

	res, err = Once(context.Background(), Options{Templates: []*Template{web, db, api}, Open: down, Answers: answers})
	if exitcode.Of(err) != exitcode.NotEnough {
		t.Errorf("down, db below min_providers in the cache: %v, want exit 3 (a failure outranks a stale answer)", err)
	}
	if res[0].Status != StatusUnchanged || res[0].Code != exitcode.Stale || res[1].Code != exitcode.NotEnough ||
		res[2].Code != exitcode.Unreachable || res[2].Status != StatusRefused {
		t.Errorf("results %+v", res)
	}

	never := *answers
	never.StaleOK = 0
	res, err = Once(context.Background(), Options{Templates: []*Template{web}, Open: down, Answers: &never})
	if exitcode.Of(err) != exitcode.Unreachable || res[0].Status != StatusRefused || res[0].Stale {
		t.Errorf("down without stale_ok: %+v %v, want refused, exit 4", res, err)
	}
}
