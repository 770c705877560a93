package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testmetrics"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// metricsAddr is a free 127.0.0.1 port for --metrics-addr.
func metricsAddr(t *testing.T) string {
	t.Helper()
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", ports[0])
}

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitMetric scrapes until cond holds for the metric's value.
func waitMetric(t *testing.T, addr, what, name string, labels map[string]string, cond func(float64) bool) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, func() bool {
		f, err := testmetrics.Scrape(addr)
		return err == nil && cond(f.Get(name, labels))
	})
}

// TestAgentUnderSystemd: the agent sends READY=1 only once its providers
// are registered (they are listed the moment it arrives), exposes its
// registrations, checks and session on --metrics-addr, logs JSON lines with
// --log-format json, and sends STOPPING=1 on SIGTERM before it exits 0.
func TestAgentUnderSystemd(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer health.Close()
	writeFile(t, dir, "web.yaml", "service: web\nport: 8080\nhost: h1.example.com\n")
	writeFile(t, dir, "api.yaml", "service: api\nport: 9090\nhost: h1.example.com\ncheck: "+health.URL+"\ncheck_interval: 100ms\nrise: 1\n")
	sock := testenv.ListenNotify(t, true)
	addr := metricsAddr(t)
	p := startEnv(t, []string{sock.Env()}, e.args("agent", "--config-dir", dir, "--metrics-addr", addr, "--log-format", "json")...)

	sock.Expect(t, "READY=1")
	if ps := e.providers(t, "web"); len(ps) != 1 {
		t.Fatalf("READY=1 sent while web has %d providers, want 1", len(ps))
	}
	m := testmetrics.MustScrape(t, addr)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"svcdisco_providers_registered", map[string]string{"service": "web", "state": "up"}, 1},
		{"svcdisco_registrations_total", map[string]string{"service": "web"}, 1},
		{"svcdisco_session_state", map[string]string{"state": "connected"}, 1},
		{"svcdisco_session_state", map[string]string{"state": "expired"}, 0},
	} {
		if got, ok := m.Value(c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	waitMetric(t, addr, "passing checks of api counted", "svcdisco_check_results_total",
		map[string]string{"service": "api", "result": "pass"}, func(v float64) bool { return v >= 2 })
	waitMetric(t, addr, "api registered once its check passed", "svcdisco_providers_registered",
		map[string]string{"service": "api", "state": "up"}, func(v float64) bool { return v == 1 })
	if n := testmetrics.MustScrape(t, addr).Get("svcdisco_check_duration_seconds", map[string]string{"service": "api"}); n < 2 {
		t.Errorf("check latency histogram has %v samples, want >= 2", n)
	}

	p.signal(syscall.SIGTERM)
	sock.Expect(t, "STOPPING=1")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM; stderr:\n%s", code, p.Stderr())
	}
	checkJSONLog(t, p.Stderr(), "reconciled")
}

// checkJSONLog: every stderr line is a JSON object with time, level and
// msg, and one has msg want.
func checkJSONLog(t *testing.T, stderr, want string) {
	t.Helper()
	found := false
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("log line without %q: %q", k, line)
			}
		}
		found = found || rec["msg"] == want
	}
	if !found {
		t.Fatalf("no log record with msg %q in:\n%s", want, stderr)
	}
}

// TestAgentSessionMetrics: a partition longer than the session timeout
// shows in svcdisco_session_state and svcdisco_session_expiries_total, and
// the providers registered again on the new session in
// svcdisco_reregistrations_total.
func TestAgentSessionMetrics(t *testing.T) {
	zkc := testzk.Shared(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	e := env{registry: "zk://" + proxy.Addr(), root: testzk.Root(t)}
	dir := t.TempDir()
	writeFile(t, dir, "web.yaml", "service: web\nport: 8080\nhost: h1.example.com\n")
	sock := testenv.ListenNotify(t, false)
	addr := metricsAddr(t)
	startEnv(t, []string{sock.Env()}, e.args("agent", "--config-dir", dir, "--metrics-addr", addr, "--session-timeout", "2s")...)
	sock.Expect(t, "READY=1")
	before := testmetrics.MustScrape(t, addr)
	if v := before.Get("svcdisco_session_expiries_total", nil); v != 0 {
		t.Fatalf("svcdisco_session_expiries_total = %v before any partition", v)
	}

	proxy.Partition()
	waitMetric(t, addr, "the session presumed lost", "svcdisco_session_state",
		map[string]string{"state": "presumed-lost"}, func(v float64) bool { return v == 1 })
	if v := testmetrics.MustScrape(t, addr).Get("svcdisco_session_expiries_total", nil); v != 1 {
		t.Fatalf("svcdisco_session_expiries_total = %v, want 1", v)
	}
	proxy.Heal()
	waitMetric(t, addr, "web re-registered on a new session", "svcdisco_reregistrations_total",
		map[string]string{"service": "web"}, func(v float64) bool { return v >= 1 })
	waitMetric(t, addr, "the session connected again", "svcdisco_session_state",
		map[string]string{"state": "connected"}, func(v float64) bool { return v == 1 })
}

// TestRegisterUnderSystemd: register sends READY=1 once registered (the
// provider is listed when it arrives), serves its registration on
// --metrics-addr, and sends STOPPING=1 on SIGTERM.
func TestRegisterUnderSystemd(t *testing.T) {
	e := newEnv(t)
	sock := testenv.ListenNotify(t, false)
	addr := metricsAddr(t)
	p := startEnv(t, []string{sock.Env()}, e.args("register", "db", "--port", "5432", "--host", "db1", "--metrics-addr", addr)...)
	sock.Expect(t, "READY=1")
	if ps := e.providers(t, "db"); len(ps) != 1 {
		t.Fatalf("READY=1 sent while db has %d providers, want 1", len(ps))
	}
	if v := testmetrics.MustScrape(t, addr).Get("svcdisco_providers_registered", map[string]string{"service": "db", "state": "up"}); v != 1 {
		t.Fatalf("svcdisco_providers_registered{db, up} = %v, want 1", v)
	}
	p.signal(syscall.SIGTERM)
	sock.Expect(t, "STOPPING=1")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
	}
}

// TestUnconfiguredRegistryHint: with no registry configured and nothing
// on 127.0.0.1:2181, the exit-4 error says what to configure.
func TestUnconfiguredRegistryHint(t *testing.T) {
	// The default registry is 127.0.0.1:2181: the test needs it unanswered
	// (Missing fails under SVCDISCO_REQUIRE_INTEGRATION=1).
	if c, err := net.Dial("tcp", "127.0.0.1:2181"); err == nil {
		c.Close()
		testenv.Missing(t, "a free 127.0.0.1:2181 (the default registry must not answer)", errors.New("something listens on 127.0.0.1:2181"))
	}
	cfg := filepath.Join(t.TempDir(), "svcdisco.yaml") // nothing from /etc/svcdisco
	writeFile(t, filepath.Dir(cfg), "svcdisco.yaml", "log_level: info\n")
	res := run(t, "query", "web", "--timeout", "200ms", "--config", cfg)
	if res.code != 4 || !strings.Contains(res.stderr, "hint: no registry configured") || !strings.Contains(res.stderr, "make demo") {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	res = run(t, "query", "web", "--timeout", "200ms", "--registry", "zk://127.0.0.1:1") // configured: no hint
	if res.code != 4 || strings.Contains(res.stderr, "hint") {
		t.Fatalf("configured registry: exit %d, stderr %q", res.code, res.stderr)
	}
}

// TestAgentSessionMetricsThroughExhibitor: an exhibitor:// registry
// reports the session of the ZooKeeper ensemble it found.
func TestAgentSessionMetricsThroughExhibitor(t *testing.T) {
	zkc := testzk.Shared(t)
	ex := testexhibitor.Start(t)
	ex.JSON(zkc.Servers[0].ClientPort, "127.0.0.1")
	e := env{registry: "exhibitor://" + ex.Host(), root: testzk.Root(t)}
	dir := t.TempDir()
	writeFile(t, dir, "web.yaml", "service: web\nport: 8080\nhost: h1.example.com\n")
	sock := testenv.ListenNotify(t, false)
	addr := metricsAddr(t)
	startEnv(t, []string{sock.Env()}, e.args("agent", "--config-dir", dir, "--metrics-addr", addr,
		"--ensemble-cache", filepath.Join(t.TempDir(), "cache"))...)
	sock.Expect(t, "READY=1")
	waitMetric(t, addr, "the session reported connected", "svcdisco_session_state",
		map[string]string{"state": "connected"}, func(v float64) bool { return v == 1 })
}

// TestElectUnderSystemd: elect sends READY=1 once its candidacy stands
// (it has printed its first change line), and STOPPING=1 on SIGTERM.
func TestElectUnderSystemd(t *testing.T) {
	e := newEnv(t)
	sock := testenv.ListenNotify(t, false)
	p := startEnv(t, []string{sock.Env()}, e.args("elect", "sched", "--host", "h1", "--port", "7000")...)
	sock.Expect(t, "READY=1")
	p.waitLine(t, `"id"`)
	p.signal(syscall.SIGTERM)
	sock.Expect(t, "STOPPING=1")
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
	}
}
