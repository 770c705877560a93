package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// TestQueryStaleWhileEnsembleDown: with its ZooKeeper stopped, `query
// --stale-ok` prints exactly what the same query printed while it was up
// (filters applied to the cached, unfiltered answer), one warning line
// naming the age and the failure, and exits 6; without --stale-ok, or with
// a cached answer older than allowed, it is the usual exit 4.
func TestQueryStaleWhileEnsembleDown(t *testing.T) {
	zk := testzk.Start(t, 1)
	url, root, cache := zk.URL(""), testzk.Root(t), t.TempDir()
	run := func(args ...string) (string, string, int) {
		all := append([]string{"query", "--registry", url, "--root", root, "--answer-cache", cache, "--timeout", "2s"}, args...)
		c := exec.Command(bin, all...)
		c.Env = testenv.CleanEnv()
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		_ = c.Run()
		return out.String(), errOut.String(), c.ProcessState.ExitCode()
	}
	for _, p := range []struct{ host, port, zone string }{{"h1", "8080", "a"}, {"h2", "8081", "b"}, {"h3", "8082", "a"}} {
		c := exec.Command(bin, "register", "web", "--port", p.port, "--host", p.host, "--attr", "zone="+p.zone,
			"--registry", url, "--root", root)
		c.Env = testenv.CleanEnv()
		stdout, _ := (&env{t: t}).start(c)
		waitFor(t, p.host+" registered", func() bool { return strings.Contains(stdout.String(), "registered") })
	}
	queries := [][]string{
		{"web", "-o", "json"},
		{"web", "-o", "lines"},
		{"web", "-o", "json", "--where", "zone=a", "--latest"},
		{"web", "-o", "lines", "--where", "zone!=a"},
		{"web", "-o", "json", "--at-least", "3"},
	}
	// One fresh query fills the cache; every other answer is derived from
	// it by filters, and must equal the fresh answer to the same query.
	fresh := map[int]string{}
	for i, q := range queries {
		out, errOut, code := run(q...)
		if code != 0 {
			t.Fatalf("fresh %v: exit %d: %s", q, code, errOut)
		}
		fresh[i] = out
	}
	ents, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if fi, err := os.Stat(filepath.Join(cache, e.Name())); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("cache file %s: %v %v, want mode 0600", e.Name(), fi.Mode(), err)
		}
	}
	zk.Servers[0].Kill()

	if _, errOut, code := run("web", "-o", "json"); code != 4 {
		t.Errorf("without --stale-ok: exit %d, want 4: %s", code, errOut)
	}
	for i, q := range queries {
		out, errOut, code := run(append(q, "--stale-ok", "1h")...)
		if code != 6 || out != fresh[i] {
			t.Errorf("stale %v: exit %d, stdout %q; want exit 6 and %q", q, code, out, fresh[i])
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "svcdisco: stale answer for web from the answer cache, ") ||
			!strings.Contains(lines[0], " old (fetched ") || !strings.Contains(lines[0], zk.Servers[0].Addr()) {
			t.Errorf("stale %v: stderr %q, want one warning line naming the age and the failure", q, errOut)
		}
	}
	if _, errOut, code := run("web", "-o", "json", "--at-least", "4", "--stale-ok", "1h"); code != 3 ||
		!strings.Contains(errOut, "stale answer") {
		t.Errorf("stale --at-least 4 of 3: exit %d %q, want 3 saying the answer was stale", code, errOut)
	}
	// Older than allowed: the original failure. (1ms: the answer is older.)
	if out, errOut, code := run("web", "-o", "json", "--stale-ok", "1ms"); code != 4 || out != "" ||
		!strings.Contains(errOut, "no stale answer") {
		t.Errorf("too old: exit %d stdout %q stderr %q, want exit 4 and nothing printed", code, out, errOut)
	}
	if _, errOut, code := run("api", "-o", "json", "--stale-ok", "1h"); code != 4 {
		t.Errorf("never asked before: exit %d %q, want 4", code, errOut)
	}
	// SVCDISCO_STALE_OK is the same setting.
	c := exec.Command(bin, "--registry", url, "--root", root, "--answer-cache", cache, "--timeout", "2s", "query", "web", "-o", "lines")
	c.Env = append(testenv.CleanEnv(), "SVCDISCO_STALE_OK=1h")
	if out, _ := c.Output(); c.ProcessState.ExitCode() != 6 || string(out) != fresh[1] {
		t.Errorf("SVCDISCO_STALE_OK: exit %d %q", c.ProcessState.ExitCode(), out)
	}
}
