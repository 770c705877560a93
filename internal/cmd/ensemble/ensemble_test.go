package ensemble_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/cmd/ensemble"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ensembleJSON(t *testing.T, args ...string) (ensemble.Result, testcli.Result) {
	t.Helper()
	res := testcli.Run(ctxT(t), "", append([]string{"ensemble", "-o", "json", "--chroot"}, args...)...)
	var out ensemble.Result
	if res.Code == 0 {
		if err := json.Unmarshal([]byte(res.Out), &out); err != nil {
			t.Fatalf("ensemble -o json: %v\n%s", err, res.Out)
		}
	}
	return out, res
}

// The fallback chain end to end: Exhibitor → cache → backup → exit 4, with
// a real ZooKeeper behind every answer (`services` connects to it).
func TestFallbackChain(t *testing.T) {
	zkc := testzk.Shared(t)
	addr := zkc.Servers[0].Addr()
	ex := testexhibitor.Start(t)
	ex.Servers(addr)
	cache := filepath.Join(t.TempDir(), "ensemble.json")
	root := testzk.Root(t)
	withBackup := []string{"--registry", "exhibitor://" + ex.Host() + "/?backup=" + addr, "--ensemble-cache", cache, "--root", root}

	check := func(source string, args []string) {
		t.Helper()
		got, res := ensembleJSON(t, args...)
		if res.Code != 0 || got.Source != source || got.ConnectString != addr {
			t.Fatalf("ensemble: want source %s and %s, got %+v (exit %d: %v)\n%s", source, addr, got, res.Code, res.Error, res.Err)
		}
		if res := testcli.Run(ctxT(t), "", append([]string{"services"}, args...)...); res.Code != 0 {
			t.Fatalf("services through the %s answer: exit %d: %v", source, res.Code, res.Error)
		}
	}
	check("exhibitor", withBackup)
	if _, err := os.Stat(cache); err != nil {
		t.Fatalf("good answer not cached: %v", err)
	}

	ex.Close() // Exhibitor down: the cache
	check("cache", withBackup)

	if err := os.Remove(cache); err != nil { // cache gone: the backup
		t.Fatal(err)
	}
	check("backup", withBackup)

	// Nothing left: exit 4 naming every source, no localhost.
	_, res := ensembleJSON(t, "--registry", "exhibitor://"+ex.Host(), "--ensemble-cache", cache)
	if res.Code != exitcode.Unreachable {
		t.Fatalf("exit %d, want 4: %v", res.Code, res.Error)
	}
	for _, want := range []string{"Exhibitor: " + ex.Host(), "cache: " + cache, "no cached answer", "backup: none given"} {
		if !strings.Contains(res.Error.Error(), want) {
			t.Errorf("error lacks %q: %v", want, res.Error)
		}
	}
	if res.Out != "" {
		t.Errorf("printed %q on failure", res.Out)
	}
}

func TestEnsembleStaticAndSorted(t *testing.T) {
	res := testcli.Run(ctxT(t), "", "ensemble", "--registry", "zk://zk3:2181,zk1,zk2:2182/prod", "--chroot")
	if res.Code != 0 || res.Out != "zk1:2181,zk2:2182,zk3:2181/prod\n" {
		t.Fatalf("got %q exit %d %v", res.Out, res.Code, res.Error)
	}
	res = testcli.Run(ctxT(t), "", "ensemble", "--registry", "zk://zk3:2181,zk1/prod")
	if res.Out != "zk1:2181,zk3:2181\n" {
		t.Fatalf("without --chroot: %q", res.Out)
	}
	res = testcli.Run(ctxT(t), "", "ensemble", "--chroot=kafka")
	if res.Code != exitcode.Usage {
		t.Fatalf("relative --chroot: exit %d", res.Code)
	}
}

// A running `register` follows Exhibitor from ensemble A to ensemble B and
// ends up registered on B exactly once.
func TestRegisterFollowsTheEnsemble(t *testing.T) {
	a, b := testzk.Start(t, 1), testzk.Start(t, 1)
	ex := testexhibitor.Start(t)
	ex.Servers(a.Servers[0].Addr())
	root := testzk.Root(t)
	const poll, session = 300 * time.Millisecond, 2 * time.Second
	global := []string{"--root", root, "--session-timeout", session.String()}
	proc := testcli.Start(t, append([]string{"register", "web", "--port", "8080", "--host", "h1.example.com",
		"--registry", "exhibitor://" + ex.Host(), "--ensemble-cache", filepath.Join(t.TempDir(), "e.json"),
		"--exhibitor-poll", poll.String()}, global...)...)

	lines := func(c *testzk.Cluster) string {
		res := testcli.Run(ctxT(t), "", append([]string{"query", "web", "-o", "lines", "--registry", c.URL("")}, global...)...)
		if res.Code != 0 {
			t.Fatalf("query %s: %v", c.ConnString(), res.Error)
		}
		return res.Out
	}
	testenv.WaitFor(t, "registration on A", 10*time.Second, func() bool { return lines(a) == "h1.example.com:8080\n" })

	ex.Servers(b.Servers[0].Addr())
	// Poll interval + session timeout, plus slack for a loaded test machine.
	testenv.WaitFor(t, "registration on B", poll+session+5*time.Second, func() bool { return lines(b) != "" })
	if got := lines(b); got != "h1.example.com:8080\n" {
		t.Fatalf("on B: %q, want exactly one provider", got)
	}
	testenv.WaitFor(t, "deregistration from A", 5*time.Second, func() bool { return lines(a) == "" })
	select {
	case <-proc.Done():
		t.Fatalf("register exited: %v\n%s", proc.Stop(), proc.Err)
	default:
	}
	// Further polls (same answer) change nothing. Polls are sequential, so
	// the fourth request after now means three have been answered and acted on.
	n := ex.Requests()
	testenv.WaitFor(t, "three more polls", 20*time.Second, func() bool { return ex.Requests() >= n+4 })
	if got := lines(b); got != "h1.example.com:8080\n" {
		t.Fatalf("on B after more polls: %q", got)
	}
	if !strings.Contains(proc.Err.String(), "membership changed") {
		t.Errorf("move not logged:\n%s", proc.Err)
	}
	if err := proc.Stop(); err != nil {
		t.Fatalf("register: %v", err)
	}
	if got := lines(b); got != "" {
		t.Fatalf("still on B after stopping: %q", got)
	}
}

func TestMissingChrootHintAndCreate(t *testing.T) {
	zkc := testzk.Shared(t)
	ex := testexhibitor.Start(t)
	ex.Servers(zkc.Servers[0].Addr())
	chroot := testzk.Root(t)
	cache := filepath.Join(t.TempDir(), "e.json")
	for _, url := range []string{zkc.URL(chroot), "exhibitor://" + ex.Host() + chroot} {
		res := testcli.Run(ctxT(t), "", "services", "--registry", url, "--ensemble-cache", cache)
		if res.Code != exitcode.Unreachable || !strings.Contains(res.Error.Error(), "svcdisco chroot prime "+chroot) {
			t.Fatalf("%s: exit %d, %v; want 4 with the prime hint", url, res.Code, res.Error)
		}
	}
	res := testcli.Run(ctxT(t), "", "services", "--registry", "exhibitor://"+ex.Host()+chroot, "--ensemble-cache", cache, "--chroot-create")
	if res.Code != 0 {
		t.Fatalf("--chroot-create: exit %d, %v", res.Code, res.Error)
	}
	if res := testcli.Run(ctxT(t), "", "chroot", "check", chroot, "--registry", zkc.URL("")); res.Code != 0 {
		t.Fatalf("chroot check after --chroot-create: exit %d, %v", res.Code, res.Error)
	}
	// The chroot commands reach the ensemble through Exhibitor too.
	res = testcli.Run(ctxT(t), "", "chroot", "prime", "--registry", "exhibitor://"+ex.Host()+chroot+"/b", "--ensemble-cache", cache)
	if res.Code != 0 || !strings.HasSuffix(res.Out, "created "+chroot+"/b/svcdisco/services\n") {
		t.Fatalf("chroot prime through Exhibitor: exit %d, %v\n%s", res.Code, res.Error, res.Out)
	}
}
