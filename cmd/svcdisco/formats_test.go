package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testforeign"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// zkConn is a plain client for writing malformed entries by hand.
func zkConn(t *testing.T) *gozk.Conn {
	t.Helper()
	conn, _, err := gozk.Connect([]string{testzk.Shared(t).Servers[0].Addr()}, 10*time.Second, gozk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func mustCreate(t *testing.T, conn *gozk.Conn, path, data string) {
	t.Helper()
	if _, err := conn.Create(path, []byte(data), gozk.FlagEphemeral, gozk.WorldACL(gozk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
}

// warnings counts the warnings naming znode in a command's stderr.
func warnings(stderr, znode string) int {
	return strings.Count(stderr, "znode="+znode+" ") + strings.Count(stderr, "znode=\""+znode+"\"")
}

// readAll runs query -o json, query -o lines and render --once with args
// and checks they agree; it returns the JSON providers and the three
// results (for their warnings).
func readAll(t *testing.T, e env, service string, args ...string) ([]registry.Provider, []result) {
	t.Helper()
	q := func(more ...string) result {
		return run(t, e.args(append(append([]string{"query", service}, args...), more...)...)...)
	}
	js, lines := q("-o", "json"), q("-o", "lines")
	var ps []registry.Provider
	if err := json.Unmarshal([]byte(js.stdout), &ps); js.code != 0 || err != nil {
		t.Fatalf("query -o json: exit %d, %v\n%s%s", js.code, err, js.stdout, js.stderr)
	}
	var want strings.Builder
	for _, p := range ps {
		want.WriteString(p.Addr() + "\n")
	}
	if lines.code != 0 || lines.stdout != want.String() {
		t.Errorf("query -o lines: exit %d\n%s, want\n%s%s", lines.code, lines.stdout, want.String(), lines.stderr)
	}
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
	tmpl := `{{ range providers "` + service + `" }}{{ .Host }}:{{ .Port }}{{ end }}`
	if err := os.WriteFile(src, []byte(strings.ReplaceAll(tmpl, "{{ end }}", "\n{{ end }}")), 0o644); err != nil {
		t.Fatal(err)
	}
	ren := run(t, e.args(append([]string{"render", "--once", "--template", src + ":" + dest}, args...)...)...)
	if got, err := os.ReadFile(dest); ren.code != 0 || err != nil || string(got) != want.String() {
		t.Errorf("render: exit %d, %q (%v), want %q\n%s", ren.code, got, err, want.String(), ren.stderr)
	}
	return ps, []result{js, lines, ren}
}

func addrs(ps []registry.Provider) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Addr())
	}
	return out
}

// TestCuratorInstancesAreProviders: instances registered by the real
// Curator ServiceDiscovery are listed by query -o json, -o lines and render
// with --format curator, mapped field by field; a disabled one is in
// maintenance; a malformed one is skipped with one warning per command.
func TestCuratorInstancesAreProviders(t *testing.T) {
	e := newEnv(t)
	base := e.root + "/curator"
	before := time.Now().Add(-time.Second)
	c := testforeign.StartCurator(t, testzk.Shared(t).ConnString(), base)
	c.Register(t, testforeign.Instance{Name: "web", ID: "a1", Address: "10.0.0.5", Port: 8080, SSLPort: 8443, Payload: map[string]string{"zone": "a"}})
	c.Register(t, testforeign.Instance{Name: "web", ID: "b2", Address: "web2.example.com", Port: 8081, Disabled: true})
	c.Register(t, testforeign.Instance{Name: "web", ID: "c3", Address: "web3.example.com", Port: 8082})
	bad := base + "/web/bad"
	mustCreate(t, zkConn(t), bad, `{"name":"web","id":"bad","address":"h","port":1}`) // no registrationTimeUTC
	after := time.Now().Add(time.Second)

	args := []string{"--format", "curator", "--path", base + "/{service}"}
	ps, results := readAll(t, e, "web", args...)
	if got := addrs(ps); !slices.Equal(got, []string{"10.0.0.5:8080", "web3.example.com:8082"}) {
		t.Fatalf("providers %v, want a1 and c3 (b2 is disabled)", got)
	}
	a := ps[0]
	if a.Service != "web" || a.ID != "a1" || a.Address != "10.0.0.5" || a.Weight != 1 || a.Status != registry.StatusUp ||
		a.Endpoints["ssl"] != (registry.Endpoint{Host: "10.0.0.5", Port: 8443}) || a.Attributes["zone"] != "a" ||
		len(a.Attributes) != 1 || a.Timestamp.Before(before) || a.Timestamp.After(after) {
		t.Errorf("a1 mapped as %+v", a)
	}
	if ps[1].ID != "c3" || ps[1].Address != "" || ps[1].Timestamp.Before(a.Timestamp) {
		t.Errorf("c3 mapped as %+v", ps[1])
	}
	for _, r := range results {
		if n := warnings(r.stderr, bad); n != 1 {
			t.Errorf("%d warnings about %s, want 1:\n%s", n, bad, r.stderr)
		}
	}
	all := e.providers(t, "web", append(args, "--include-maintenance")...)
	if len(all) != 3 || all[1].ID != "b2" || all[1].Status != registry.StatusMaintenance {
		t.Errorf("--include-maintenance: %+v, want b2 in maintenance second", all)
	}
	// Curator's close unregisters: the providers are gone.
	c.Close(t)
	if got := e.providers(t, "web", args...); len(got) != 0 {
		t.Errorf("after Curator closed: %v", addrs(got))
	}
}

// TestServerSetAndNerveEntriesAreProviders: member_ nodes and Nerve entries
// written by kazoo exactly as those systems write them are listed with
// their znode's ctime as registration time; malformed entries, and
// children that are not members, are skipped with one warning each.
func TestServerSetAndNerveEntriesAreProviders(t *testing.T) {
	e := newEnv(t)
	k := testforeign.StartKazoo(t, testzk.Shared(t).ConnString())
	ssPath := e.root + "/twitter/service/web/prod"
	m1 := k.ServerSetMember(t, ssPath, `{"serviceEndpoint":{"host":"10.1.0.1","port":31000},"additionalEndpoints":{"admin":{"host":"10.1.0.1","port":31001}},"status":"ALIVE","shard":0}`)
	m2 := k.ServerSetMember(t, ssPath, `{"serviceEndpoint":{"host":"10.1.0.2","port":31000},"additionalEndpoints":{},"status":"STOPPING","shard":1}`)
	m3 := k.ServerSetMember(t, ssPath, `{"additionalEndpoints":{},"status":"ALIVE"}`)
	m4 := k.ServerSetMember(t, ssPath, `{"serviceEndpoint":{"host":"10.1.0.4","port":31000},"status":"ALIVE","shard":3}`)
	notMember := ssPath + "/lock"
	mustCreate(t, zkConn(t), notMember, `{"serviceEndpoint":{"host":"10.1.0.9","port":1}}`)

	ps, results := readAll(t, e, "web", "--format", "serverset", "--path", e.root+"/twitter/service/{service}/prod")
	if got := addrs(ps); !slices.Equal(got, []string{"10.1.0.1:31000", "10.1.0.4:31000"}) {
		t.Fatalf("serverset providers %v (%s and %s, not %s)", got, m1, m4, m2)
	}
	if p := ps[0]; p.Endpoints["admin"] != (registry.Endpoint{Host: "10.1.0.1", Port: 31001}) || p.Attributes["shard"] != "0" ||
		p.Address != "10.1.0.1" || p.ID != "web-10.1.0.1-31000" || p.Timestamp.After(ps[1].Timestamp) {
		t.Errorf("member mapped as %+v", p)
	}
	for _, r := range results {
		if warnings(r.stderr, m3) != 1 || warnings(r.stderr, notMember) != 1 {
			t.Errorf("want one warning each about %s and %s:\n%s", m3, notMember, r.stderr)
		}
	}

	nervePath := e.root + "/nerve/services/web/services"
	n1 := k.NerveEntry(t, nervePath, "i-0a1", `{"host":"10.2.0.1","port":8080,"name":"i-0a1","weight":3,"labels":{"az":"us-east-1a"}}`, false)
	n2 := k.NerveEntry(t, nervePath, "i-0b2", `{"host":"10.2.0.2","port":8080,"name":"i-0b2","haproxy_server_options":"backup"}`, true)
	n3 := k.NerveEntry(t, nervePath, "i-0c3", `{"host":"10.2.0.3","name":"i-0c3"}`, false)
	ps, results = readAll(t, e, "web", "--format", "nerve", "--path", e.root+"/nerve/services/{service}/services")
	if got := addrs(ps); !slices.Equal(got, []string{"10.2.0.1:8080", "10.2.0.2:8080"}) {
		t.Fatalf("nerve providers %v (%s and %s)", got, n1, n2)
	}
	if !strings.Contains(n2, "_base64_") {
		t.Errorf("Nerve's path encoding not used: %s", n2)
	}
	if p := ps[0]; p.ID != "i-0a1" || p.Weight != 3 || p.Attributes["az"] != "us-east-1a" || p.Status != registry.StatusUp {
		t.Errorf("nerve entry mapped as %+v", p)
	}
	if p := ps[1]; p.ID != "i-0b2" || p.Weight != 1 || p.Attributes["haproxy_server_options"] != "backup" {
		t.Errorf("path-encoded nerve entry mapped as %+v", p)
	}
	for _, r := range results {
		if n := warnings(r.stderr, n3); n != 1 {
			t.Errorf("%d warnings about %s, want 1:\n%s", n, n3, r.stderr)
		}
	}
	k.Close(t)
}

// TestAutoReadsMixedEntries: one service znode holding svcdisco's own
// registration, a Curator instance (Curator's basePath is svcdisco's
// <root>/services), a ServerSet member and a Nerve entry: --format auto
// lists all four, the default lists svcdisco's own and warns about each
// of the others once, and a format key in the config file does what the
// flag does.
func TestAutoReadsMixedEntries(t *testing.T) {
	e := newEnv(t)
	reg := start(t, e.args("register", "web", "--port", "8080", "--host", "mine")...)
	reg.waitLine(t, "registered")
	dir := e.root + "/services/web"
	c := testforeign.StartCurator(t, testzk.Shared(t).ConnString(), e.root+"/services")
	c.Register(t, testforeign.Instance{Name: "web", ID: "cur1", Address: "cur", Port: 1})
	k := testforeign.StartKazoo(t, testzk.Shared(t).ConnString())
	member := k.ServerSetMember(t, dir, `{"serviceEndpoint":{"host":"ss","port":2},"status":"ALIVE"}`)
	nerve := k.NerveEntry(t, dir, "i-1", `{"host":"nv","port":3,"name":"i-1"}`, false)

	ps, _ := readAll(t, e, "web", "--format", "auto")
	got := addrs(ps)
	slices.Sort(got)
	if !slices.Equal(got, []string{"cur:1", "mine:8080", "nv:3", "ss:2"}) {
		t.Errorf("auto lists %v", got)
	}
	own := run(t, e.args("query", "web", "-o", "lines")...)
	if own.code != 0 || own.stdout != "mine:8080\n" {
		t.Errorf("default format: exit %d %q, want only svcdisco's own", own.code, own.stdout)
	}
	for _, z := range []string{dir + "/cur1", member, nerve} {
		if n := warnings(own.stderr, z); n != 1 {
			t.Errorf("default format: %d warnings about %s, want 1:\n%s", n, z, own.stderr)
		}
	}
	cfg := filepath.Join(t.TempDir(), "svcdisco.yaml")
	if err := os.WriteFile(cfg, []byte("format: serverset\nformat_path: "+e.root+"/services/{service}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := run(t, e.args("query", "web", "-o", "lines", "--config", cfg)...)
	if fromFile.code != 0 || fromFile.stdout != "ss:2\n" {
		t.Errorf("format from the config file: exit %d %q, want the ServerSet member\n%s", fromFile.code, fromFile.stdout, fromFile.stderr)
	}
	bad := run(t, e.args("query", "web", "--format", "finagle")...)
	if bad.code != 2 || !strings.Contains(bad.stderr, `"finagle"`) {
		t.Errorf("--format finagle: exit %d %s, want 2 naming it", bad.code, bad.stderr)
	}
	c.Close(t)
	k.Close(t)
}

// TestRenderWatchFollowsServerSet: render --watch --format serverset
// re-renders when a member joins and when its session ends.
func TestRenderWatchFollowsServerSet(t *testing.T) {
	e := newEnv(t)
	ssPath := e.root + "/ss/web"
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
	if err := os.WriteFile(src, []byte(`{{ range providers "web" }}{{ .Host }}:{{ .Port }} {{ index .Endpoints "admin" }}{{ "\n" }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	w := start(t, e.args("render", "--watch", "--template", src+":"+dest, "--format", "serverset", "--path", e.root+"/ss/{service}")...)
	fileIs := func(want string) func() bool {
		return func() bool { b, err := os.ReadFile(dest); return err == nil && string(b) == want }
	}
	k := testforeign.StartKazoo(t, testzk.Shared(t).ConnString())
	k.ServerSetMember(t, ssPath, `{"serviceEndpoint":{"host":"10.3.0.1","port":9000},"additionalEndpoints":{"admin":{"host":"10.3.0.1","port":9001}},"status":"ALIVE"}`)
	testenv.WaitFor(t, "the member rendered", time.Minute, fileIs("10.3.0.1:9000 {10.3.0.1 9001}\n"))
	k.Close(t) // the session ends: the member is gone
	testenv.WaitFor(t, "the member gone from the file", time.Minute, fileIs(""))
	w.signal(syscall.SIGTERM)
	if code := w.wait(t); code != 0 {
		t.Errorf("render --watch exit %d\n%s", code, w.Stderr())
	}
}

// TestTemplateStanzaSources: a stanza's sources read one service from
// ServerSet members while the same template reads another from svcdisco's
// own entries; stanzas that disagree about a service are exit 2.
func TestTemplateStanzaSources(t *testing.T) {
	e := newEnv(t)
	start(t, e.args("register", "api", "--port", "7000", "--host", "api1")...).waitLine(t, "registered")
	k := testforeign.StartKazoo(t, testzk.Shared(t).ConnString())
	k.ServerSetMember(t, e.root+"/ss/web", `{"serviceEndpoint":{"host":"web1","port":80},"status":"ALIVE"}`)
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
	tmpl := `{{ range providers "web" }}web {{ .Addr }}{{ "\n" }}{{ end }}{{ range providers "api" }}api {{ .Addr }}{{ "\n" }}{{ end }}`
	tmpl = strings.ReplaceAll(tmpl, ".Addr", `.Host }}:{{ .Port`)
	if err := os.WriteFile(src, []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	stanza := func(dest, format string) string {
		return fmt.Sprintf("  - source: %s\n    destination: %s\n    sources:\n      web: {format: %s, path: '%s/ss/{service}'}\n", src, dest, format, e.root)
	}
	cfg := filepath.Join(dir, "render.yaml")
	if err := os.WriteFile(cfg, []byte("templates:\n"+stanza(dest, "serverset")), 0o600); err != nil {
		t.Fatal(err)
	}
	res := run(t, e.args("render", "--once", "--config", cfg)...)
	if got, err := os.ReadFile(dest); res.code != 0 || err != nil || string(got) != "web web1:80\napi api1:7000\n" {
		t.Errorf("render: exit %d, %q (%v)\n%s", res.code, got, err, res.stderr)
	}
	if err := os.WriteFile(cfg, []byte("templates:\n"+stanza(dest, "serverset")+stanza(dest+"2", "nerve")), 0o600); err != nil {
		t.Fatal(err)
	}
	res = run(t, e.args("render", "--once", "--config", cfg)...)
	if res.code != 2 || !strings.Contains(res.stderr, "sources web") {
		t.Errorf("disagreeing stanzas: exit %d, want 2 naming the service\n%s", res.code, res.stderr)
	}
	k.Close(t)
}
