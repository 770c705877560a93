package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

// TestRegisterCheckOnConsul runs the real `svcdisco register --check`
// against a real Consul agent: while the check fails the instance is in
// Consul's catalog with a critical check carrying the probe's output (what
// Consul's UI and alerting read), `query` does not list it and `register`
// has not announced it; once the check passes it is announced and listed;
// SIGTERM removes it from the catalog.
func TestRegisterCheckOnConsul(t *testing.T) {
	agent := testconsul.Start(t, testconsul.Options{})
	e := env{registry: agent.URL(), root: "/checks"}
	flag := filepath.Join(t.TempDir(), "healthy")
	p := start(t, e.args("register", "web", "--port", "8080", "--host", "h1", "--address", "127.0.0.1",
		"--check", "exec:test -f "+flag+" || { echo backend down; exit 1; }", "--check-interval", "50ms", "--rise", "1", "--fall", "1")...)
	client, err := api.NewClient(&api.Config{Address: agent.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	check := func() (status, output string) {
		checks, _, err := client.Health().Checks("web", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range checks {
			if strings.HasPrefix(c.CheckID, "svcdisco-check:") {
				return c.Status, c.Output
			}
		}
		return "", ""
	}
	testenv.WaitFor(t, "Consul to show the failing check critical with its output", 20*time.Second, func() bool {
		st, out := check()
		return st == api.HealthCritical && strings.Contains(out, "backend down")
	})
	if ps := e.providers(t, "web"); len(ps) != 0 {
		t.Errorf("query lists a provider whose check is critical: %+v", ps)
	}
	p.mu.Lock()
	out := p.stdout.String()
	p.mu.Unlock()
	if strings.Contains(out, "registered") {
		t.Errorf("announced as registered while critical: %q", out)
	}

	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, "registered web provider")
	if ps := e.providers(t, "web"); len(ps) != 1 || ps[0].Address != "127.0.0.1" {
		t.Fatalf("query once the check passes: %+v", ps)
	}
	if st, _ := check(); st != api.HealthPassing {
		t.Errorf("check %s once passing", st)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM: %s", code, p.Stderr())
	}
	if svcs, _, err := client.Catalog().Service("web", "", nil); err != nil || len(svcs) != 0 {
		t.Errorf("catalog after SIGTERM: %d instances, %v", len(svcs), err)
	}
}
