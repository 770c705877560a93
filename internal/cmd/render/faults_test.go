package render_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
)

// TestWatchBadRegistryURLIsUsageError: a registry URL no retry can fix
// ends --watch at once with exit 2, as --once does (an unknown parameter,
// an unknown scheme).
func TestWatchBadRegistryURLIsUsageError(t *testing.T) {
	e := &env{t: t, root: "/faults", dir: t.TempDir()}
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	for _, url := range []string{"consul://127.0.0.1:1?bogus=1", "bogus://127.0.0.1:1"} {
		e.url = url
		for _, mode := range []string{"--once", "--watch"} {
			d := e.start("render", mode, "--template", src+":"+dest)
			select {
			case <-d.done:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s %s still running after 30s; stderr:\n%s", url, mode, d.stderr.String())
			}
			d.done <- nil // for the cleanup
			if code := d.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(d.stderr.String(), "bogus") {
				t.Errorf("%s %s: exit %d, want 2 naming the parameter; stderr:\n%s", url, mode, code, d.stderr.String())
			}
		}
	}
}

// TestReportJSONAlwaysHasTemplates: a run asked for a JSON report prints
// one with a templates array even when it fails before rendering.
func TestReportJSONAlwaysHasTemplates(t *testing.T) {
	e := &env{t: t, url: "consul://127.0.0.1:1?bogus=1", root: "/faults", dir: t.TempDir()}
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	cases := map[string][]string{
		"bad registry URL":        {"--template", src + ":" + dest},
		"missing template source": {"--template", filepath.Join(e.dir, "nope.tmpl") + ":" + dest},
	}
	for name, args := range cases {
		out, errOut, code := e.run(append([]string{"render", "--once", "--report", "json"}, args...)...)
		var rep struct {
			Templates *[]json.RawMessage `json:"templates"`
			Code      int                `json:"code"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Errorf("%s: stdout %q is not a report (%v); stderr %s", name, out, err, errOut)
			continue
		}
		if rep.Templates == nil || len(*rep.Templates) != 0 || rep.Code != 2 || code != 2 {
			t.Errorf("%s: exit %d, report %s; want templates [] and code 2", name, code, out)
		}
	}
}

// TestWatchLogsConsulOutageOnce: while the Consul agent is down, render
// --watch says so once at Warn, and once when it is back, with the
// outage's length; the file is not touched, and follows changes after.
func TestWatchLogsConsulOutageOnce(t *testing.T) {
	a := testconsul.Start(t, testconsul.Options{})
	e := newConsulEnv(t, a)
	e.register(e.registry(), "web", "web1", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	d := e.start("render", "--watch", "--timeout", "2s", "--template", src+":"+dest)
	waitFor(t, "web1 in the file", func() bool { return e.read(dest) == "server web1:8080\n" })

	a.Kill()
	waitFor(t, "the outage logged", func() bool {
		return strings.Contains(d.stderr.String(), "level=WARN msg=\"registry unreachable")
	})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the end of the outage logged", func() bool {
		return strings.Contains(d.stderr.String(), "registry reachable again")
	})
	e.register(e.registry(), "web", "web2", 8080, nil)
	waitFor(t, "web2 in the file after the agent came back", func() bool {
		return strings.Contains(e.read(dest), "server web2:8080\n")
	})
	logs := d.stderr.String()
	if n := strings.Count(logs, "msg=\"registry unreachable"); n != 1 {
		t.Errorf("outage start logged %d times, want once:\n%s", n, logs)
	}
	if n := strings.Count(logs, "registry reachable again"); n != 1 || !strings.Contains(logs, "outage=") {
		t.Errorf("outage end logged %d times (want once, with its length):\n%s", n, logs)
	}
	if code := d.stop(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}

// TestRenderRefusesWhatACLsEmptied: with ACLs on and default deny, the
// anonymous token gets every listing empty and Consul does not say so;
// render must not write a file from that, and must say why.
func TestRenderRefusesWhatACLsEmptied(t *testing.T) {
	a := testconsul.Start(t, testconsul.Options{ACL: true})
	e := newConsulEnv(t, a)
	t.Setenv("CONSUL_HTTP_TOKEN", testconsul.ManagementToken) // never in the URL
	e.register(e.registry(), "web", "web1", 8080, nil)
	// The anonymous token from here on.
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	t.Setenv("CONSUL_HTTP_TOKEN", "")
	out, errOut, code := e.run("render", "--once", "--timeout", "2s", "--template", src+":"+dest)
	t.Logf("exit %d, stdout %q, stderr %q", code, out, errOut)
	if code == 0 || !strings.Contains(errOut, "ACL") || fileExists(dest) {
		t.Fatalf("exit %d, stdout %q, stderr %q, file written: %v; want a refusal naming ACLs and no file", code, out, errOut, fileExists(dest))
	}
}
