package templates

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixture is a registry snapshot: web with three providers (one without an
// address), api with providers in two zones, one in maintenance.
func fixture() *Store {
	s := NewStore(func() (string, error) { return "zk1:2181,zk2:2181/prod", nil })
	at := func(sec int) time.Time { return time.Date(2026, 11, 22, 10, 0, sec, 123e6, time.UTC) }
	p := func(svc, host, addr string, port, weight int, sec int, attrs map[string]string) registry.Provider {
		return registry.Provider{Service: svc, ID: registry.DefaultID(svc, host, port), Host: host, Address: addr,
			Port: port, Weight: weight, Status: registry.StatusUp, Attributes: attrs, Timestamp: at(sec)}
	}
	web := []registry.Provider{
		p("web", "web1.example.com", "10.0.0.5", 8080, 1, 1, nil),
		p("web", "web2.example.com", "", 8080, 2, 2, nil),
		p("web", "web3.example.com", "10.0.0.7", 8081, 1, 3, nil),
	}
	api := []registry.Provider{
		p("api", "api1.example.com", "10.0.1.1", 9000, 1, 1, map[string]string{"zone": "us-east-1a", "version": "1.4.2"}),
		p("api", "api2.example.com", "10.0.1.2", 9000, 1, 2, map[string]string{"zone": "us-east-1b", "version": "1.4.2"}),
		p("api", "api3.example.com", "10.0.1.3", 9000, 3, 3, map[string]string{"zone": "us-east-1a"}),
	}
	api[2].Status = registry.StatusMaintenance
	s.SetProviders("web", web)
	s.SetProviders("api", api)
	s.SetServices([]string{"api", "web"})
	return s
}

// TestExamples renders the shipped examples against the fixture and
// compares them with their checked-in output (go test -update rewrites it).
func TestExamples(t *testing.T) {
	for _, name := range []string{"haproxy.cfg", "nginx-upstream.conf"} {
		t.Run(name, func(t *testing.T) {
			tm, err := Load(Spec{Source: filepath.Join("examples", name+".tmpl"), Destination: "unused"})
			if err != nil {
				t.Fatal(err)
			}
			ex, err := tm.Execute(fixture())
			if err != nil {
				t.Fatal(err)
			}
			if !ex.Complete {
				t.Fatalf("incomplete: missing %v", ex.Missing)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, ex.Contents, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(ex.Contents) != string(want) {
				t.Errorf("%s rendered:\n%s\nwant (%s):\n%s", name, ex.Contents, golden, want)
			}
		})
	}
}

// TestExamplesEmpty: with no providers both examples render (a service
// without providers is an empty list, and `provider` is nil), so
// min_providers, not an error, is what guards a file.
func TestExamplesEmpty(t *testing.T) {
	s := NewStore(nil)
	s.SetProviders("web", nil)
	s.SetProviders("api", nil)
	for _, name := range []string{"haproxy.cfg", "nginx-upstream.conf"} {
		tm, err := Load(Spec{Source: filepath.Join("examples", name+".tmpl"), Destination: "unused"})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := tm.Execute(s)
		if err != nil || !ex.Complete {
			t.Fatalf("%s with no providers: %v %+v", name, err, ex)
		}
		if !strings.Contains(string(ex.Contents), "no providers of") {
			t.Errorf("%s with no providers:\n%s", name, ex.Contents)
		}
	}
}

// TestMaintenanceFunctions: providers and provider leave out providers in
// maintenance, providersAll lists them, min_providers does not count them,
// and withTag filters on tags.
func TestMaintenanceFunctions(t *testing.T) {
	s := fixture() // api3 is in maintenance
	api, _ := s.Providers("api")
	api[0].Tags = []string{"primary", "v2"}
	api[2].Tags = []string{"v2"}
	src := filepath.Join(t.TempDir(), "t.tmpl")
	body := `{{ len (providers "api") }} {{ len (providersAll "api") }} {{ (provider "api").ID }}` +
		` {{ range providersAll "api" | withTag "v2" }}{{ .ID }},{{ end }} {{ with provider "none" }}x{{ else }}nil{{ end }}`
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s.SetProviders("none", nil)
	tm, err := Load(Spec{Source: src, Destination: "unused", MinProviders: map[string]int{"api": 3}})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := tm.Execute(s)
	if err != nil || !ex.Complete {
		t.Fatalf("execute: %v %+v", err, ex)
	}
	want := "2 3 api-api2.example.com-9000 api-api1.example.com-9000,api-api3.example.com-9000, nil"
	if string(ex.Contents) != want {
		t.Errorf("rendered %q, want %q", ex.Contents, want)
	}
	if err := tm.guard(s); err == nil || !strings.Contains(err.Error(), "has 2 provider(s), min_providers is 3") {
		t.Errorf("guard with one of 3 providers in maintenance: %v", err)
	}
}
