package chef

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	sdregistry "github.com/svcdisco/svcdisco/registry"
)

// TestOutageDrill is the outage drill: a 3-node ZooKeeper ensemble with
// providers of web, a converge that fills the answer cache, then EVERY
// member of the ensemble stopped and a converge with stale_ok that still
// succeeds from the cache (the same answers, with warnings naming their
// age and the failure), then the ensemble restarted and a converge that
// gets fresh answers again — including a provider registered after the
// restart — with no step in between.
func TestOutageDrill(t *testing.T) {
	chefSolo(t) // before starting servers: a missing Chef ends the test first
	zk := testzk.Start(t, 3)
	root := testzk.Root(t)
	url := zk.URL("")
	register := func(host, addr string, port int, zone string) {
		startRegister(t, []string{"register", "web", "--port", strconv.Itoa(port), "--host", host,
			"--address", addr, "--attr", "zone=" + zone, "--registry", url, "--root", root, "--session-timeout", "4s"})
	}
	register("web1.example.com", "10.0.0.1", 8080, "a")
	waitProviders(t, url, root, 1)
	register("web2.example.com", "10.0.0.2", 8081, "a")
	waitProviders(t, url, root, 2)

	k := newKitchen(t, map[string]string{})
	drill := k.path("drill")
	attrs := map[string]any{
		"svcdisco": map[string]any{
			"bin":      binary,
			"registry": url,
			"stale_ok": "1h",
			"config":   map[string]any{"root": root, "timeout": "3s", "answer_cache": k.path("answers")},
		},
		"svcdisco_test": map[string]any{"dir": drill},
	}
	conv := converge{env: "production", attrs: attrs, runList: []string{"recipe[svcdisco_test::outage_drill]"}}
	want := map[string]string{
		"drill/backends.txt": "10.0.0.1:8080\n10.0.0.2:8081",
		"drill/newest.txt":   "web2.example.com",
		"drill/web.conf":     "web1.example.com:8080\nweb2.example.com:8081\n",
	}
	files := func(t *testing.T, phase string, want map[string]string) {
		t.Helper()
		for f, w := range want {
			if got := k.readFile(f); got != w {
				t.Errorf("%s: %s = %q, want %q", phase, f, got, w)
			}
		}
	}

	out, err := k.run(conv)
	if err != nil {
		t.Fatalf("converge with the ensemble up: %v\n%s", err, out)
	}
	files(t, "ensemble up", want)
	if got := k.readFile("drill/stale.txt"); got != "" || strings.Contains(out, "stale answer") {
		t.Fatalf("ensemble up: stale warnings %q\n%s", got, out)
	}

	for _, s := range zk.Servers {
		s.Kill()
	}
	// The files are removed so that the converge must write them again,
	// from the cache: an unchanged file would prove nothing.
	for f := range want {
		k.write(f, "")
	}
	out, err = k.run(conv)
	if err != nil {
		t.Fatalf("converge with every member of the ensemble down: %v\n%s", err, out)
	}
	files(t, "ensemble down", want)
	warnings := k.readFile("drill/stale.txt")
	t.Logf("ensemble down: the library's warnings:\n%s", warnings)
	// Two library calls (all_providers_for_service, provider_for_service)
	// and the render each warn once, naming the age and the failure.
	if n := strings.Count(warnings, "stale answer for web"); n != 2 {
		t.Errorf("ensemble down: %d library warnings, want 2:\n%s", n, warnings)
	}
	for _, w := range []string{"WARN: svcdisco: stale answer for web from the answer cache", " old (fetched ",
		"stale answer for web from the answer cache", strings.Split(zk.ConnString(), ",")[0]} {
		if !strings.Contains(out, w) {
			t.Errorf("ensemble down: output lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(out, "written "+k.path("drill/web.conf")+" (stale answer for web") {
		t.Errorf("ensemble down: render did not report its stale answer:\n%s", out)
	}

	for _, s := range zk.Servers {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if err := zk.WaitServing(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	// A provider that registers after the outage shows the next answers
	// are fresh, not the cache's.
	register("web3.example.com", "10.0.0.3", 8082, "a")
	waitProviders(t, url, root, 3)
	out, err = k.run(conv)
	if err != nil {
		t.Fatalf("converge after the restart: %v\n%s", err, out)
	}
	// The providers re-registered after the outage (their sessions
	// expired), so their order is the order they came back in: what a
	// fresh query answers now is what the converge must have seen.
	fresh := queryLines(t, url, root, "{{.Address}}:{{.Port}}")
	hosts := strings.Split(queryLines(t, url, root, "{{.Host}}"), "\n")
	files(t, "ensemble back", map[string]string{
		"drill/backends.txt": fresh,
		"drill/newest.txt":   hosts[len(hosts)-1], // every provider is in zone a
		"drill/web.conf":     queryLines(t, url, root, "{{.Host}}:{{.Port}}") + "\n",
	})
	if !strings.Contains(fresh, "10.0.0.3:8082") || strings.Count(fresh, "\n") != 2 {
		t.Errorf("fresh answer %q lacks the provider registered after the outage", fresh)
	}
	if got := k.readFile("drill/stale.txt"); got != "" || strings.Contains(out, "stale answer") {
		t.Errorf("ensemble back: stale warnings %q\n%s", got, out)
	}
}

// queryLines is a fresh answer for web, one line per provider in format.
func queryLines(t *testing.T, url, root, format string) string {
	t.Helper()
	cmd := exec.Command(binary, "query", "web", "-o", "json", "--registry", url, "--root", root, "--answer-cache", t.TempDir())
	cmd.Env = testenv.CleanEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var ps []sdregistry.Provider
	if err := json.Unmarshal(out, &ps); err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.New("").Parse(format))
	lines := make([]string, len(ps))
	for i, p := range ps {
		var b strings.Builder
		if err := tmpl.Execute(&b, p); err != nil {
			t.Fatal(err)
		}
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}

// waitProviders waits until web has n providers under root, queried as a
// converge would (which also fills no cache: it uses a cache of its own).
func waitProviders(t *testing.T, url, root string, n int) {
	t.Helper()
	cache := t.TempDir()
	testenv.WaitFor(t, "web to have "+strconv.Itoa(n)+" providers", 2*time.Minute, func() bool {
		cmd := exec.Command(binary, "query", "web", "-o", "lines", "--registry", url, "--root", root,
			"--answer-cache", cache)
		cmd.Env = testenv.CleanEnv()
		out, err := cmd.Output()
		return err == nil && strings.Count(string(out), "\n") >= n
	})
}
