package chef

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
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
	waitListed(t, url, root, "web1.example.com:8080")
	register("web2.example.com", "10.0.0.2", 8081, "a")
	waitListed(t, url, root, "web2.example.com:8081")

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
	// The files are emptied so that the converge must write them again,
	// from the cache: an unchanged file would prove nothing.
	for f := range want {
		k.write(f, "")
	}
	// Never stale unless asked: the same converge without stale_ok fails
	// at its first lookup, as it did before there was an answer cache.
	strict := converge{env: conv.env, runList: conv.runList, attrs: map[string]any{
		"svcdisco":      withoutKey(attrs["svcdisco"].(map[string]any), "stale_ok"),
		"svcdisco_test": attrs["svcdisco_test"],
	}}
	if out, err := k.run(strict); err == nil || !strings.Contains(out, "Svcdisco::UnreachableError") ||
		k.readFile("drill/backends.txt") != "" {
		t.Fatalf("ensemble down, no stale_ok: %v, want the converge to fail with UnreachableError\n%s", err, out)
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
	waitListed(t, url, root, "web3.example.com:8082")
	out, err = k.run(conv)
	if err != nil {
		t.Fatalf("converge after the restart: %v\n%s", err, out)
	}
	// The providers re-register after the outage in whatever order they
	// notice it, and a node of a session from before the outage may still
	// be listed until the restarted ensemble expires it: so the converge's
	// answers are checked as sets of known providers, which must include
	// web3 — registered after the restart, unknown to any cache then.
	known := map[string]bool{
		"10.0.0.1:8080": true, "10.0.0.2:8081": true, "10.0.0.3:8082": true,
		"web1.example.com:8080": true, "web2.example.com:8081": true, "web3.example.com:8082": true,
		"web1.example.com": true, "web2.example.com": true, "web3.example.com": true,
	}
	for f, mustHave := range map[string]string{
		"drill/backends.txt": "10.0.0.3:8082", "drill/web.conf": "web3.example.com:8082", "drill/newest.txt": "",
	} {
		got := k.readFile(f)
		lines := strings.Fields(got)
		if len(lines) == 0 || (mustHave != "" && !strings.Contains(got, mustHave)) {
			t.Errorf("ensemble back: %s = %q, want fresh answers including %q", f, got, mustHave)
		}
		for _, l := range lines {
			if !known[l] {
				t.Errorf("ensemble back: %s lists %q", f, l)
			}
		}
	}
	if got := k.readFile("drill/stale.txt"); got != "" || strings.Contains(out, "stale answer") {
		t.Errorf("ensemble back: stale warnings %q\n%s", got, out)
	}
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// waitListed waits until web lists addr (host:port) under root, queried
// as a converge would (with a cache of its own, not the converge's).
func waitListed(t *testing.T, url, root, addr string) {
	t.Helper()
	cache := t.TempDir()
	testenv.WaitFor(t, addr+" listed", 2*time.Minute, func() bool {
		cmd := exec.Command(binary, "query", "web", "-o", "lines", "--registry", url, "--root", root,
			"--answer-cache", cache)
		cmd.Env = testenv.CleanEnv()
		out, err := cmd.Output()
		return err == nil && strings.Contains("\n"+string(out), "\n"+addr+"\n")
	})
}
