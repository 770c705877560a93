package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

func ids(ps []registry.Provider) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.ID)
	}
	return strings.Join(s, ",")
}

func TestQueryOptions(t *testing.T) {
	e := newEnv(t)
	reg := func(id, port string, attrs ...string) {
		args := []string{"register", "web", "--port", port, "--host", "h-" + id, "--id", id}
		for _, a := range attrs {
			args = append(args, "--attr", a)
		}
		start(t, e.args(args...)...).waitLine(t, "registered")
		// Distinct registration times (millisecond resolution): the next
		// registrant starts once the clock has passed this one's.
		var at time.Time
		for _, p := range e.providers(t, "web") {
			if p.ID == id {
				at = p.Timestamp
			}
		}
		if at.IsZero() {
			t.Fatalf("%s not listed after registering", id)
		}
		testenv.WaitFor(t, "the clock past "+id+"'s registration", 5*time.Second, func() bool {
			return time.Now().Truncate(time.Millisecond).After(at)
		})
	}
	reg("p1", "8001", "zone=a", "v=1")
	reg("p2", "8002", "zone=b", "v=2")
	reg("p3", "8003", "zone=a", "v=2")

	all := e.providers(t, "web")
	if got := ids(all); got != "p1,p2,p3" {
		t.Fatalf("order %q, want oldest first p1,p2,p3", got)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--where", "zone=a"}, "p1,p3"},
		{[]string{"--where", "zone=a", "--where", "v!=1"}, "p3"},
		{[]string{"--where", "missing!=x"}, "p1,p2,p3"},
		{[]string{"--latest"}, "p3"},
		{[]string{"--where", "zone=a", "--latest"}, "p3"},
		{[]string{"--since", all[1].Timestamp.Format(time.RFC3339Nano)}, "p2,p3"},
		{[]string{"--within-last", "1h"}, "p1,p2,p3"},
		{[]string{"--within-last", "1ms"}, ""},
		{[]string{"--at-least", "3"}, "p1,p2,p3"},
	}
	for _, tt := range tests {
		if got := ids(e.providers(t, "web", tt.args...)); got != tt.want {
			t.Errorf("query %v = %q, want %q", tt.args, got, tt.want)
		}
	}

	lines := run(t, e.args("query", "web", "-o", "lines")...)
	if lines.code != 0 || lines.stdout != "h-p1:8001\nh-p2:8002\nh-p3:8003\n" {
		t.Errorf("lines: %d %q %s", lines.code, lines.stdout, lines.stderr)
	}
	lines = run(t, e.args("query", "web", "-o", "lines", "--where", "zone=b")...)
	if lines.stdout != "h-p2:8002\n" {
		t.Errorf("lines with filter: %q", lines.stdout)
	}
	table := run(t, e.args("query", "web")...)
	for _, want := range []string{"HOST", "PORT", "AGE", "ATTRIBUTES", "h-p2", "8002", "v=2,zone=b"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, table.stdout)
		}
	}

	short := run(t, e.args("query", "web", "--at-least", "4")...)
	if short.code != 3 || !strings.Contains(short.stderr, "3 provider(s) found, at least 4 required") {
		t.Errorf("--at-least 4: exit %d, stderr %q", short.code, short.stderr)
	}

	// --wait: a fourth provider arrives while the query waits.
	dir := e.root + "/services/web"
	watching := watchers(t, dir)
	done := make(chan result, 1)
	go func() { done <- run(t, e.args("query", "web", "--at-least", "4", "--wait", "20s", "-o", "json")...) }()
	testenv.WaitFor(t, "the query to watch the providers", 20*time.Second, func() bool { return watchers(t, dir) > watching })
	reg("p4", "8004")
	res := <-done
	var ps []registry.Provider
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &ps) != nil || ids(ps) != "p1,p2,p3,p4" {
		t.Errorf("--at-least 4 --wait: exit %d, %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	short = run(t, e.args("query", "web", "--at-least", "9", "--wait", "300ms")...)
	if short.code != 3 || !strings.Contains(short.stderr, "4 provider(s) found, at least 9 required (waited 300ms)") {
		t.Errorf("--wait timeout: exit %d, stderr %q", short.code, short.stderr)
	}
}

func TestFieldsOnlyQueryIsOneGetChildren(t *testing.T) {
	zkc := testzk.Shared(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	// Registrants talk to the server directly (they keep watches of their
	// own); only the query goes through the counting proxy.
	direct := env{registry: zkc.URL(""), root: testzk.Root(t)}
	e := env{registry: "zk://" + proxy.Addr(), root: direct.root}
	for i := range 5 {
		start(t, direct.args("register", "web", "--port", fmt.Sprint(9000+i), "--host", "h")...).waitLine(t, "registered")
	}
	proxy.ResetOps()
	res := run(t, e.args("query", "web", "-o", "lines")...)
	if res.code != 0 || strings.Count(res.stdout, "\n") != 5 {
		t.Fatalf("query: %d %q %s", res.code, res.stdout, res.stderr)
	}
	// Two getChildren, sent together (pipelined, one round trip): the
	// service directory and its maintenance markers (README "Maintenance").
	ops := proxy.Ops()
	children := ops[testzk.OpGetChildren] + ops[testzk.OpGetChildren2]
	if children != 2 || ops[testzk.OpGetData] != 0 || ops[testzk.OpExists] != 0 {
		t.Errorf("-o lines sent %v: want exactly two getChildren and no reads", ops)
	}

	proxy.ResetOps()
	if res := run(t, e.args("query", "web", "-o", "json")...); res.code != 0 {
		t.Fatal(res.stderr)
	}
	ops = proxy.Ops()
	if ops[testzk.OpGetChildren]+ops[testzk.OpGetChildren2] != 2 || ops[testzk.OpGetData] != 5 {
		t.Errorf("-o json sent %v: want two getChildren and 5 getData", ops)
	}
}

func TestServices(t *testing.T) {
	e := newEnv(t)
	start(t, e.args("register", "web", "--port", "80", "--host", "a")...).waitLine(t, "registered")
	start(t, e.args("register", "web", "--port", "81", "--host", "a")...).waitLine(t, "registered")
	start(t, e.args("register", "db", "--port", "5432", "--host", "a")...).waitLine(t, "registered")
	res := run(t, e.args("services", "-o", "json")...)
	var counts []registry.ServiceCount
	if err := json.Unmarshal([]byte(res.stdout), &counts); err != nil || res.code != 0 {
		t.Fatalf("services: %v %d %s", err, res.code, res.stdout)
	}
	if fmt.Sprint(counts) != "[{db 1} {web 2}]" {
		t.Errorf("services = %v", counts)
	}
	table := run(t, e.args("services")...)
	if !strings.Contains(table.stdout, "SERVICE") || !strings.Contains(table.stdout, "web") {
		t.Errorf("table:\n%s", table.stdout)
	}
	empty := run(t, "--registry", e.registry, "--root", testzk.Root(t), "services", "-o", "json")
	if strings.TrimSpace(empty.stdout) != "[]" {
		t.Errorf("empty services: %q", empty.stdout)
	}
}

func TestQueryTimesOutOnSilentServer(t *testing.T) {
	// A server that accepts connections but never answers: the deadline,
	// not the server, ends the query.
	zkc := testzk.Shared(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	proxy.Partition()
	res := run(t, "--registry", "zk://"+proxy.Addr(), "--timeout", "1s", "query", "web")
	if res.code != 4 || !strings.Contains(res.stderr, proxy.Addr()) {
		t.Errorf("exit %d, stderr %q: want 4 naming %s", res.code, res.stderr, proxy.Addr())
	}
}

// watchers counts the data watches on the children of dir on the shared
// server (ZooKeeper's wchp: a path, then one session per line; child
// watches are not listed, but a watch sets one data watch per provider).
func watchers(t *testing.T, dir string) int {
	t.Helper()
	out, err := testzk.FourLetter(testzk.Shared(t).Servers[0].Addr(), "wchp", 5*time.Second)
	if err != nil {
		t.Fatalf("wchp: %v", err)
	}
	n, in := 0, false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "/"):
			in = strings.HasPrefix(l, dir+"/")
		case in && strings.TrimSpace(l) != "":
			n++
		}
	}
	return n
}
