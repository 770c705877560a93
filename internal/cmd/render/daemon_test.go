package render_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testmetrics"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// startEnv is e.start with env added to the daemon's environment.
func (e *env) startEnv(env []string, args ...string) *daemon {
	e.t.Helper()
	d := &daemon{stderr: &testenv.Buffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, append(e.globalArgs(), args...)...)
	d.cmd.Env = append(testenv.CleanEnv(), env...)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	e.t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.done
		if e.t.Failed() {
			e.t.Logf("svcdisco stderr:\n%s", d.stderr.String())
		}
	})
	return d
}

// TestWatchUnderSystemd: render --watch sends READY=1 once every template
// had its first pass (the file is there when it arrives), counts renders,
// failures by reason, watch events and the last good render on
// --metrics-addr as providers change, and sends STOPPING=1 on SIGTERM.
func TestWatchUnderSystemd(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	reg := e.registry()
	e.register(reg, "web", "web1", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	good := filepath.Join(e.dir, "web.conf")
	picky := filepath.Join(e.dir, "picky.conf") // its check refuses web2
	cfg := e.file("svcdisco.yaml", fmt.Sprintf(`templates:
  - {source: %s, destination: %s}
  - source: %s
    destination: %s
    check_command: "! grep -q web2 {{.}}"
`, src, good, src, picky), 0o644)
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	sock := testenv.ListenNotify(t, false)
	d := e.startEnv([]string{sock.Env()}, "render", "--watch", "--config", cfg, "--metrics-addr", addr)

	sock.Expect(t, "READY=1")
	if got := e.read(good); got != "server web1:8080\n" {
		t.Fatalf("READY=1 sent with %s = %q", good, got)
	}
	m := testmetrics.MustScrape(t, addr)
	written := m.Get("svcdisco_renders_total", map[string]string{"destination": good, "status": "written"})
	last := m.Get("svcdisco_last_successful_render_timestamp_seconds", map[string]string{"destination": good})
	if written != 1 || last <= 0 {
		t.Fatalf("after the first render: renders_total{written} = %v, last render time %v", written, last)
	}
	events := m.Get("svcdisco_watch_events_total", map[string]string{"service": "web"})

	e.register(reg, "web", "web2", 8080, nil)
	testenv.WaitFor(t, "the check command's refusal counted", 30*time.Second, func() bool {
		f, err := testmetrics.Scrape(addr)
		return err == nil && f.Get("svcdisco_render_failures_total", map[string]string{"destination": picky, "reason": "check_command"}) >= 1
	})
	testenv.WaitFor(t, "web2 in "+good, 30*time.Second, func() bool { return e.read(good) == "server web1:8080\nserver web2:8080\n" })
	testenv.WaitFor(t, "the second write counted", 30*time.Second, func() bool {
		f, err := testmetrics.Scrape(addr)
		return err == nil && f.Get("svcdisco_renders_total", map[string]string{"destination": good, "status": "written"}) == 2
	})
	m = testmetrics.MustScrape(t, addr)
	if v := m.Get("svcdisco_watch_events_total", map[string]string{"service": "web"}); v <= events {
		t.Errorf("svcdisco_watch_events_total{web} = %v, was %v before web2 registered", v, events)
	}
	if v := m.Get("svcdisco_last_successful_render_timestamp_seconds", map[string]string{"destination": good}); v < last {
		t.Errorf("last render time went back: %v < %v", v, last)
	}
	refused := m.Get("svcdisco_renders_total", map[string]string{"destination": picky, "status": "refused"})
	failed := m.Get("svcdisco_render_failures_total", map[string]string{"destination": picky, "reason": "check_command"})
	if refused < 1 || failed < 1 {
		t.Errorf("%s: %v passes refused, %v failures by its check command; want at least 1 each", picky, refused, failed)
	}
	if v := m.Get("svcdisco_render_failures_total", map[string]string{"destination": good}); v != 0 {
		t.Errorf("failures counted for %s: %v", good, v)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sock.Expect(t, "STOPPING=1")
	if code := d.stop(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}

// TestMetricsAddrNeedsWatch: a once run serves nothing, so asking it to is
// a usage error.
func TestMetricsAddrNeedsWatch(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	src := e.file("web.tmpl", webTmpl, 0o644)
	_, stderr, code := e.run("render", "--once", "--template", src+":"+filepath.Join(e.dir, "out"), "--metrics-addr", "127.0.0.1:9464")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
	}
}
