package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testzk.StopShared()
	testconsul.StopShared()
	os.Exit(code)
}

func openZK(t *testing.T, root string) *zkreg.Registry {
	t.Helper()
	zkc := testzk.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zkreg.Open(ctx, zkreg.Options{Servers: []string{zkc.Servers[0].Addr()}, Root: root,
		SessionTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 20*time.Second, cond)
}

// czxids maps service/id to the creating zxid of its znode: a provider
// that was not touched keeps its czxid.
func czxids(t *testing.T, r *zkreg.Registry, root string, services ...string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, svc := range services {
		ps, err := r.Providers(context.Background(), svc, registry.ListOptions{IncludeMaintenance: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			_, st, err := r.Conn().Exists(root + "/services/" + svc + "/" + p.Name)
			if err != nil {
				t.Fatal(err)
			}
			out[svc+"/"+p.ID] = st.Czxid
		}
	}
	return out
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	d := Defaults{Host: "node1.example.com", Address: "10.0.0.1"}
	write(t, dir, "web.yaml", "service: web\nport: 8080\nattributes: {zone: a}\nendpoints: {admin: 'h:9090'}\ncheck: tcp://127.0.0.1:8080\nrise: 1\n")
	write(t, dir, "db.json", `{"service":"db","port":5432,"host":"db1","maintenance":true}`)
	spec, err := LoadFile(filepath.Join(dir, "web.yaml"), d)
	if err != nil {
		t.Fatal(err)
	}
	if p := spec.Provider; p.Host != d.Host || p.Address != d.Address || p.Attributes["zone"] != "a" ||
		p.Endpoints["admin"].Port != 9090 || p.Weight != 1 || p.Status != registry.StatusUp {
		t.Errorf("web: %+v", p)
	}
	if c := spec.Check; c == nil || c.Rise != 1 || c.Fall != 3 || c.Interval != 2*time.Second {
		t.Errorf("web check: %+v", c)
	}
	spec, err = LoadFile(filepath.Join(dir, "db.json"), d)
	if err != nil || spec.Provider.Host != "db1" || spec.Provider.Status != registry.StatusMaintenance || spec.Check != nil {
		t.Errorf("db: %+v, %v", spec, err)
	}
	for body, reason := range map[string]string{
		"port: 80\n":                                 "service is required",
		"service: web\n":                             "port is required",
		"service: web\nport: 80\nprot: 1\n":          "prot",
		"service: 'bad name'\nport: 80\n":            "invalid service name",
		"service: web\nport: 80\nrise: 2\n":          "need a check",
		"service: web\nport: 80\ncheck: x\n":         "invalid check",
		"{not yaml":                                  "parse",
		"service: web\nport: 99999\n":                "invalid port",
		"service: web\nport: 80\naddress: notanip\n": "invalid address",
		"service: web\nport: 80\nid: a/b\n":          "invalid id",
		"service: web\nport: 80\nattributes: {a: " + strings.Repeat("x", 1000*1000) + "}\n":   "bytes as JSON",
		"service: web\nport: 80\ncheck_interval: 2s\ncheck: tcp://h:1\ncheck_timeout: soon\n": "check_timeout",
	} {
		write(t, dir, "bad.yaml", body)
		if _, err := LoadFile(filepath.Join(dir, "bad.yaml"), d); err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("%q: error %v, want one mentioning %q", body, err, reason)
		}
	}
}

func TestReconcile(t *testing.T) {
	root := testzk.Root(t)
	reg, watcher := openZK(t, root), openZK(t, root)
	dir := t.TempDir()
	write(t, dir, "web.yaml", "service: web\nport: 8080\nhost: n1\n")
	write(t, dir, "db.json", `{"service":"db","port":5432,"host":"n1"}`)
	write(t, dir, "api.yaml", "service: api\nport: 9000\nhost: n1\n")
	write(t, dir, "README.txt", "not a provider file")
	a := &Agent{Dir: dir, Registry: reg, Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	defer a.StopAll()
	res, err := a.Reconcile(context.Background())
	if err != nil || len(res.Added) != 3 || len(res.Invalid) != 0 {
		t.Fatalf("first reconcile: %+v, %v", res, err)
	}
	all := func() map[string]int64 { return czxids(t, watcher, root, "web", "db", "api", "cache") }
	waitFor(t, "three providers", func() bool { return len(all()) == 3 })
	before := all()

	// Nothing changed: nothing touched.
	if res, _ := a.Reconcile(context.Background()); len(res.Unchanged) != 3 {
		t.Errorf("idle reconcile: %+v", res)
	}
	// Add one, remove one, change one, break one.
	write(t, dir, "cache.yaml", "service: cache\nport: 6379\nhost: n1\n")
	os.Remove(filepath.Join(dir, "api.yaml"))
	write(t, dir, "web.yaml", "service: web\nport: 8080\nhost: n1\nattributes: {version: '2'}\n")
	write(t, dir, "db.json", `{"service":"db","port":"five"}`)
	res, err = a.Reconcile(context.Background())
	if err != nil || strings.Join(base(res.Added), ",") != "cache.yaml" || strings.Join(base(res.Removed), ",") != "api.yaml" ||
		strings.Join(base(res.Changed), ",") != "web.yaml" || len(res.Invalid) != 1 || !strings.HasSuffix(res.Invalid[0].File, "db.json") {
		t.Fatalf("reconcile: %+v, %v", res, err)
	}
	waitFor(t, "web, db, cache", func() bool {
		m := all()
		_, api := m["api/api-n1-9000"]
		_, cache := m["cache/cache-n1-6379"]
		return len(m) == 3 && !api && cache && m["web/web-n1-8080"] != before["web/web-n1-8080"]
	})
	after := all()
	// The malformed file keeps its last good provider, untouched.
	if after["db/db-n1-5432"] != before["db/db-n1-5432"] {
		t.Errorf("db was touched: czxid %d -> %d", before["db/db-n1-5432"], after["db/db-n1-5432"])
	}
	ps, _ := watcher.Providers(context.Background(), "web", registry.ListOptions{})
	if len(ps) != 1 || ps[0].Attributes["version"] != "2" {
		t.Errorf("changed web: %+v", ps)
	}
	// Maintenance via the file: hidden, still registered.
	write(t, dir, "cache.yaml", "service: cache\nport: 6379\nhost: n1\nmaintenance: true\n")
	if _, err := a.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cache in maintenance", func() bool {
		ps, _ := watcher.Providers(context.Background(), "cache", registry.ListOptions{FieldsOnly: true})
		all, _ := watcher.Providers(context.Background(), "cache", registry.ListOptions{FieldsOnly: true, IncludeMaintenance: true})
		return len(ps) == 0 && len(all) == 1
	})
	a.StopAll()
	if m := all(); len(m) != 0 {
		t.Errorf("after StopAll: %v", m)
	}
}

func base(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func TestExamplesAreValid(t *testing.T) {
	specs, problems, err := LoadDir("../../examples/services.d", Defaults{Host: "n1", Address: "10.0.0.1"})
	if err != nil || len(problems) != 0 || len(specs) != 2 {
		t.Fatalf("examples/services.d: %d specs, problems %v, %v", len(specs), problems, err)
	}
}
