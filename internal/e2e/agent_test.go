package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func provider(service string, port int) string {
	return fmt.Sprintf("service: %s\nport: %d\nhost: n1\n", service, port)
}

// one returns the single provider of service, or fails.
func (e *env) one(service string) registry.Provider {
	e.t.Helper()
	ps := e.list(service, true)
	if len(ps) != 1 {
		e.t.Fatalf("%d providers of %s, want 1: %+v", len(ps), service, ps)
	}
	return ps[0]
}

func TestAgentReconcilesOnFileChangeAndSIGHUP(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	outside := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.yaml"), provider("web", 8080))
	writeFile(t, filepath.Join(dir, "db.json"), `{"service":"db","port":5432,"host":"n1"}`)
	// api.yaml is a symlink to a file outside the directory: editing the
	// target makes no event in the directory, so only SIGHUP picks it up.
	writeFile(t, filepath.Join(outside, "api.yaml"), provider("api", 9000))
	if err := os.Symlink(filepath.Join(outside, "api.yaml"), filepath.Join(dir, "api.yaml")); err != nil {
		t.Fatal(err)
	}
	c := e.cmd(e.addr, "agent", "--config-dir", dir)
	_, stderr := e.start(c)
	waitFor(t, "three providers", func() bool {
		return len(e.list("web", true)) == 1 && len(e.list("db", true)) == 1 && len(e.list("api", true)) == 1
	})
	web := e.one("web")
	webZ := e.czxid(web)

	// Added without a signal: the file watch sees it.
	writeFile(t, filepath.Join(dir, "cache.yaml"), provider("cache", 6379))
	waitFor(t, "cache (file watch)", func() bool { return len(e.list("cache", true)) == 1 })
	// Malformed: reported by name and reason, the others keep running.
	writeFile(t, filepath.Join(dir, "broken.yaml"), "service: broken\nport: eighty\n")
	waitFor(t, "the malformed file to be reported", func() bool {
		return strings.Contains(stderr.String(), "broken.yaml") && strings.Contains(stderr.String(), "reason=")
	})
	// Changed through the symlink: nothing happens until SIGHUP.
	api := e.one("api")
	writeFile(t, filepath.Join(outside, "api.yaml"), provider("api", 9000)+"attributes: {version: '2'}\n")
	if err := c.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "api re-registered (SIGHUP)", func() bool {
		ps := e.list("api", true)
		return len(ps) == 1 && ps[0].Name != api.Name && ps[0].Attributes["version"] == "2"
	})
	// Removed without a signal.
	os.Remove(filepath.Join(dir, "db.json"))
	waitFor(t, "db deregistered (file watch)", func() bool { return len(e.list("db", true)) == 0 })

	// Untouched all along: the same znode.
	if got := e.one("web"); got.Name != web.Name || e.czxid(got) != webZ {
		t.Errorf("web was touched: %s czxid %d -> %s czxid %d", web.Name, webZ, got.Name, e.czxid(got))
	}
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, c); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	for _, svc := range []string{"web", "api", "cache"} {
		if n := len(e.list(svc, true)); n != 0 {
			t.Errorf("%s still listed after SIGTERM", svc)
		}
	}
}

func TestAgentOnceValidates(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.yaml"), provider("web", 8080))
	out, err := e.cmd("127.0.0.1:1", "agent", "--config-dir", dir, "--once").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1 provider files OK") {
		t.Fatalf("valid dir: %v: %s", err, out)
	}
	writeFile(t, filepath.Join(dir, "bad.json"), `{"service":"db"}`)
	c := e.cmd("127.0.0.1:1", "agent", "--config-dir", dir, "--once")
	out, _ = c.CombinedOutput()
	if c.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "bad.json: port is required") {
		t.Fatalf("bad file: exit %d: %s", c.ProcessState.ExitCode(), out)
	}
	if n := len(e.list("web", true)); n != 0 {
		t.Errorf("--once registered %d providers", n)
	}
}

func TestMaintenanceCommandHidesAndUnhides(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.yaml"), "service: web\nport: 8080\nhost: n1\nid: web-a\n")
	writeFile(t, filepath.Join(dir, "b.yaml"), "service: web\nport: 8081\nhost: n1\nid: web-b\n")
	e.start(e.cmd(e.addr, "agent", "--config-dir", dir))
	waitFor(t, "two providers", func() bool { return len(e.list("web", false)) == 2 })
	lines := func(extra ...string) string {
		out, err := e.cmd(e.addr, append([]string{"query", "web", "-o", "lines"}, extra...)...).Output()
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		// Order is by registration time, and the agent registers both at
		// once: compare as a set.
		l := strings.Fields(string(out))
		sort.Strings(l)
		return strings.Join(l, "\n")
	}
	if out, err := e.cmd(e.addr, "maintenance", "web", "on", "--id", "web-a").CombinedOutput(); err != nil {
		t.Fatalf("maintenance on: %v: %s", err, out)
	}
	waitFor(t, "web-a hidden", func() bool { return lines() == "n1:8081" })
	if got := lines("--include-maintenance"); got != "n1:8080\nn1:8081" {
		t.Errorf("--include-maintenance: %q", got)
	}
	out, _ := e.cmd(e.addr, "query", "web", "-o", "json", "--include-maintenance").Output()
	if !strings.Contains(string(out), `"status": "maintenance"`) {
		t.Errorf("json lacks the status: %s", out)
	}
	if out, err := e.cmd(e.addr, "maintenance", "web", "off", "--id", "web-a").CombinedOutput(); err != nil {
		t.Fatalf("maintenance off: %v: %s", err, out)
	}
	waitFor(t, "web-a listed again", func() bool { return lines() == "n1:8080\nn1:8081" })
	c := e.cmd(e.addr, "maintenance", "web", "on", "--id", "nosuch")
	if out, _ := c.CombinedOutput(); c.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "nosuch") {
		t.Errorf("unknown id: exit %d: %s", c.ProcessState.ExitCode(), out)
	}
}

// TestAgentSurvivesPartition cuts a running agent off from ZooKeeper for
// longer than its session timeout, then heals the link.
func TestAgentSurvivesPartition(t *testing.T) {
	e := newEnv(t)
	proxy := testzk.NewProxy(t, e.addr)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.yaml"), provider("web", 8080))
	writeFile(t, filepath.Join(dir, "db.yaml"), provider("db", 5432)+"maintenance: true\n")
	c := e.cmd(proxy.Addr(), "--session-timeout", "1s", "agent", "--config-dir", dir)
	_, stderr := e.start(c)
	waitFor(t, "registration", func() bool { return len(e.list("web", true)) == 1 && len(e.list("db", true)) == 1 })
	web := e.one("web")

	proxy.Partition()
	waitFor(t, "the agent to presume its registrations lost", func() bool { return strings.Contains(stderr.String(), "presumed lost") })
	waitFor(t, "the server to expire the session", func() bool { return len(e.list("web", true)) == 0 })
	proxy.Heal()
	waitFor(t, "re-registration", func() bool { return len(e.list("web", true)) == 1 && len(e.list("db", true)) == 1 })
	if got := e.one("web"); got.Name == web.Name {
		t.Errorf("web kept its old znode %s across session expiry", got.Name)
	}
	e.one("db")
	if ps := e.list("db", false); len(ps) != 0 {
		t.Errorf("db left maintenance across the partition: %+v", ps)
	}
	// Exactly one per provider, for good: every create after the first is
	// logged before it is sent, so the exited agent's complete log counts
	// them, duplicates that would surface later included.
	_ = c.Process.Signal(syscall.SIGTERM)
	if code := wait(t, c); code != 0 {
		t.Errorf("agent exit %d", code)
	}
	for _, svc := range []string{"web", "db"} {
		n := 0
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, "re-registering provider") && strings.Contains(l, "service="+svc+" ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s re-registered %d times, want exactly 1", svc, n)
		}
	}
}

// TestAgentMemory measures the agent's resident memory holding 100
// providers, each with a TCP health check, after a few check rounds. The
// figure is reported, not bounded: RSS depends on when the collector last
// ran, and a bound with a few MB of headroom flakes on a loaded machine.
func TestAgentMemory(t *testing.T) {
	e := newEnv(t)
	target, checks := countingListener(t)
	dir := t.TempDir()
	for i := 0; i < 100; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("svc%03d.yaml", i)),
			fmt.Sprintf("service: svc%03d\nport: %d\nhost: n1\ncheck: tcp://%s\ncheck_interval: 100ms\nrise: 1\n", i, 10000+i, target))
	}
	c := e.cmd(e.addr, "agent", "--config-dir", dir, "--log-level", "warn")
	e.start(c)
	waitFor(t, "100 providers", func() bool {
		ss, err := e.reg.Services(t.Context())
		return err == nil && len(ss) == 100
	})
	// The measuring window: three more check rounds of all 100.
	n := checks.Load()
	waitFor(t, "three check rounds", func() bool { return checks.Load() >= n+300 })
	rss := vmRSS(t, c.Process.Pid)
	t.Logf("agent RSS holding 100 providers with TCP checks: %.1f MB", float64(rss)/1024)
	// Still holding all 100 after the check rounds (a check that flaps
	// would drop some).
	ss, err := e.reg.Services(t.Context())
	total := 0
	for _, s := range ss {
		total += s.Providers
	}
	if err != nil || len(ss) != 100 || total != 100 {
		t.Fatalf("after the check rounds: %d services, %d providers, %v", len(ss), total, err)
	}
}

// countingListener accepts TCP connections (a check target) and counts them.
func countingListener(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

func vmRSS(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
