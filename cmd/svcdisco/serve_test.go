package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/nodecache"
)

// serveAgent starts `agent --serve` with no provider directory (a pure
// cache node) and waits for its socket to answer.
func serveAgent(t *testing.T, e env) (string, *proc) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	p := start(t, e.args("agent", "--serve", sock)...)
	c := nodecache.NewClient(sock)
	testenv.WaitFor(t, "the agent's socket to answer", time.Minute, func() bool {
		_, err := c.Ping(context.Background())
		return err == nil
	})
	return sock, p
}

// TestQueryThroughAgent: answers through the agent's socket are the
// registry's, cost the ensemble no write at all (no session is created or
// closed: each would bump the zxid), and a dead agent is fallen back from.
//
// It has a server of its own: on the package's shared one, the session of
// a process an earlier test killed can expire during the window counted
// here, and an expiry is a write (`make flake` saw that once in three
// runs).
func TestQueryThroughAgent(t *testing.T) {
	zkc := testzk.Start(t, 1)
	e := env{registry: zkc.URL(""), root: testzk.Root(t)}
	zkAddr := zkc.ConnString()
	start(t, e.args("register", "web", "--port", "8001", "--host", "h1", "--attr", "zone=a")...).waitLine(t, "registered")
	start(t, e.args("register", "web", "--port", "8002", "--host", "h2", "--attr", "zone=b")...).waitLine(t, "registered")
	sock, agent := serveAgent(t, e)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket: %v %v, want mode 0660", fi, err)
	}
	queries := [][]string{
		{"query", "web", "-o", "lines"},
		{"query", "web", "-o", "json", "--where", "zone=b"},
		{"query", "web", "--latest", "-o", "json"},
		{"query", "web", "--at-least", "2", "--wait", "30s", "-o", "lines"},
		{"query", "web", "--at-least", "3", "-o", "lines"},
		{"services", "-o", "json"},
	}
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "t.tmpl")
	os.WriteFile(tmpl, []byte(`{{ range providers "web" "zone=a" }}{{ .Host }}:{{ .Port }} {{ .ID }}
{{ end }}newest {{ (provider "web").Host }}; services {{ services }}
`), 0o644)
	renders := func(dest string) []string {
		return []string{"render", "--once", "--template", tmpl + ":" + filepath.Join(dir, dest)}
	}
	queries = append(queries, renders("direct.out"))
	want := make([]result, len(queries))
	for i, q := range queries {
		want[i] = run(t, e.args(q...)...)
	}
	queries[len(queries)-1] = renders("agent.out")
	// The first ask starts the agent's watch (reads only); after it, every
	// call is answered with no write on the ensemble.
	run(t, e.args("query", "web", "--agent-socket", sock)...)
	// Only the two registrants and the agent hold sessions now: every
	// command above closed its own (one left to expire would be a write
	// in the window).
	testenv.WaitFor(t, "the sessions of the registrants and the agent only", 60*time.Second, func() bool {
		m, err := testzk.Mntr(zkAddr)
		return err == nil && m["zk_global_sessions"] == 3
	})
	before, err := testzk.Zxid(zkAddr)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		for i, q := range queries {
			got := run(t, e.args(append(q, "--agent-socket", sock, "--log-level", "debug")...)...)
			if (got.stdout != want[i].stdout && q[0] != "render") || got.code != want[i].code {
				t.Errorf("%v through the agent: exit %d\n%s\nregistry: exit %d\n%s", q, got.code, got.stdout, want[i].code, want[i].stdout)
			}
			if strings.Contains(got.stderr, "node cache not used") {
				t.Errorf("%v fell back: %s", q, got.stderr)
			}
		}
	}
	// The same command lines run by the agent itself (what the Chef
	// library sends): the same output, the same exit code.
	for i, q := range queries {
		if q[0] != "query" {
			continue
		}
		out, err := nodecache.NewClient(sock).Query(context.Background(), append(q, "--stale-ok", "1h"))
		code := 0
		var qe *nodecache.QueryError
		if errors.As(err, &qe) {
			code = qe.Exit
		} else if err != nil {
			t.Fatalf("%v: %v", q, err)
		}
		if string(out) != want[i].stdout || code != want[i].code {
			t.Errorf("%v run by the agent: exit %d\n%s\ncommand: exit %d\n%s", q, code, out, want[i].code, want[i].stdout)
		}
	}
	if _, err := nodecache.NewClient(sock).Query(context.Background(), []string{"query", "bad name"}); !isExit(err, 2) {
		t.Errorf("bad service name run by the agent: %v, want exit 2", err)
	}
	after, err := testzk.Zxid(zkAddr)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := os.ReadFile(filepath.Join(dir, "direct.out"))
	through, _ := os.ReadFile(filepath.Join(dir, "agent.out"))
	if string(through) != string(direct) || !strings.Contains(string(direct), "h1:8001") {
		t.Errorf("render through the agent:\n%s\ndirectly:\n%s", through, direct)
	}
	if after != before {
		t.Errorf("calls through the agent cost %d ensemble writes (sessions), want 0", after-before)
	}

	agent.signal(15)
	agent.wait(t)
	got := run(t, e.args("query", "web", "-o", "lines", "--agent-socket", sock, "--log-level", "debug")...)
	if got.code != 0 || got.stdout != want[0].stdout || strings.Count(got.stderr, "node cache not used") != 1 {
		t.Errorf("agent gone: exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
	}
}

func isExit(err error, code int) bool {
	var qe *nodecache.QueryError
	return errors.As(err, &qe) && qe.Exit == code
}

// TestAgentAnswersFillTheAnswerCache: answers the agent gives on its socket
// (the Chef library's calls) are kept as last known good answers, so
// `--stale-ok` answers when neither the agent nor the ensemble can.
func TestAgentAnswersFillTheAnswerCache(t *testing.T) {
	e := newEnv(t)
	start(t, e.args("register", "web", "--port", "8001", "--host", "h1")...).waitLine(t, "registered")
	proxy := testzk.NewProxy(t, testzk.Shared(t).ConnString())
	behind := env{registry: "zk://" + proxy.Addr(), root: e.root}
	sock, _ := serveAgent(t, behind)
	out, err := nodecache.NewClient(sock).Query(context.Background(), []string{"query", "web", "-o", "lines"})
	if err != nil || string(out) != "h1:8001\n" {
		t.Fatalf("through the agent: %q %v", out, err)
	}
	proxy.Partition()
	got := run(t, behind.args("query", "web", "-o", "lines", "--timeout", "2s", "--stale-ok", "1h", "--agent-socket", sock)...)
	if got.code != 6 || got.stdout != "h1:8001\n" || !strings.Contains(got.stderr, "stale answer for web") {
		t.Errorf("ensemble and agent cut off: exit %d\n%s\n%s", got.code, got.stdout, got.stderr)
	}
}

func TestServeBadSocket(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	got := run(t, e.args("agent", "--serve", filepath.Join(dir, "s.sock"), "--serve-group", "no-such-group-svcdisco")...)
	if got.code != 2 || !strings.Contains(got.stderr, "no-such-group-svcdisco") {
		t.Errorf("unknown group: exit %d, %s", got.code, got.stderr)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep"), 0o644)
	got = run(t, e.args("agent", "--serve", file)...)
	if b, _ := os.ReadFile(file); got.code != 2 || !strings.Contains(got.stderr, "not a socket") || string(b) != "keep" {
		t.Errorf("a regular file as the socket: exit %d, %s", got.code, got.stderr)
	}
	got = run(t, e.args("agent", "--serve", filepath.Join(dir, "x.sock"), "--serve-idle", "0s")...)
	if got.code != 2 || !strings.Contains(got.stderr, "serve_idle") {
		t.Errorf("--serve-idle 0: exit %d, %s", got.code, got.stderr)
	}
}
