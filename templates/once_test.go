package templates

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// TestOnceDeadlineWhileFetching: the registry answers the connection, then
// goes silent. At the deadline the template missing data is refused
// (exit 4) naming the services not fetched, and its file is untouched; a
// template that needs no registry data is still written.
func TestOnceDeadlineWhileFetching(t *testing.T) {
	c := testzk.Shared(t)
	proxy := testzk.NewProxy(t, c.Servers[0].Addr())
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	needs := write("needs.tmpl", `{{ providers "web" }}{{ providers "db" }}`)
	static := write("static.tmpl", `static {{ env "SVCDISCO_TEST_VALUE" }}`)
	t.Setenv("SVCDISCO_TEST_VALUE", "ok")
	dest1, dest2 := write("needs.out", "keep me\n"), filepath.Join(dir, "static.out")
	var ts []*Template
	for _, sp := range []Spec{{Source: needs, Destination: dest1}, {Source: static, Destination: dest2}} {
		tm, err := Load(sp)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tm)
	}
	open := func(ctx context.Context) (registry.Registry, error) {
		reg, err := dial.Open(ctx, dial.Options{URL: "zk://" + proxy.Addr(), Root: testzk.Root(t),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil {
			proxy.Partition()
		}
		return reg, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	results, err := Once(ctx, Options{Templates: ts, Open: open})
	if exitcode.Of(err) != exitcode.Unreachable || !strings.Contains(err.Error(), "not fetched: db, web") {
		t.Fatalf("error %v, want exit 4 naming db and web", err)
	}
	if r := results[0]; r.Status != StatusRefused || r.Reason != "deadline passed; not fetched: db, web" {
		t.Errorf("needs: %+v", r)
	}
	if r := results[1]; r.Status != StatusWritten {
		t.Errorf("static: %+v", r)
	}
	if b, _ := os.ReadFile(dest1); string(b) != "keep me\n" {
		t.Errorf("refused destination changed: %q", b)
	}
	if b, _ := os.ReadFile(dest2); string(b) != "static ok" {
		t.Errorf("static destination: %q", b)
	}
}

// TestOnceRidesOutAHiccup: a connection lost mid-fetch that comes back
// before the deadline still renders (the fetch is retried, not abandoned).
func TestOnceRidesOutAHiccup(t *testing.T) {
	c := testzk.Shared(t)
	root := testzk.Root(t)
	reg := openZK(t, root)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, err := reg.Register(rctx, registry.Provider{Service: "web", Host: "web1", Port: 80}); err != nil {
		t.Fatal(err)
	}
	proxy := testzk.NewProxy(t, c.Servers[0].Addr())
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
	if err := os.WriteFile(src, []byte(`{{ range providers "web" }}{{ .Host }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := Load(Spec{Source: src, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context) (registry.Registry, error) {
		reg, err := dial.Open(ctx, dial.Options{URL: "zk://" + proxy.Addr(), Root: root,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil {
			proxy.Partition()
			time.AfterFunc(300*time.Millisecond, proxy.Heal)
		}
		return reg, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	results, err := Once(ctx, Options{Templates: []*Template{tm}, Open: open})
	if err != nil || results[0].Status != StatusWritten {
		t.Fatalf("err %v, results %+v", err, results)
	}
	if b, _ := os.ReadFile(dest); string(b) != "web1" {
		t.Fatalf("rendered %q", b)
	}
}
