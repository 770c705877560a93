package templates

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testzk.StopShared()
	testconsul.StopShared()
	os.Exit(code)
}

// countingRegistry counts Watch calls per service.
type countingRegistry struct {
	registry.Registry
	mu      sync.Mutex
	watches map[string]int
}

func (c *countingRegistry) Watch(ctx context.Context, svc string) (<-chan struct{}, error) {
	c.mu.Lock()
	c.watches[svc]++
	c.mu.Unlock()
	return c.Registry.Watch(ctx, svc)
}

func openZK(t *testing.T, root string) registry.Registry {
	t.Helper()
	c := testzk.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := dial.Open(ctx, dial.Options{URL: "zk://" + c.Servers[0].Addr(), Root: root,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// TestWatchSharesOneWatch: three templates reading the same service cause
// one registry watch, and all three follow a registration.
func TestWatchSharesOneWatch(t *testing.T) {
	root := testzk.Root(t)
	reg := openZK(t, root)
	counting := &countingRegistry{Registry: openZK(t, root), watches: map[string]int{}}
	dir := t.TempDir()
	src := filepath.Join(dir, "t.tmpl")
	if err := os.WriteFile(src, []byte(`{{ range providers "web" }}{{ .Host }} {{ end }}{{ len (providers "db") }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var ts []*Template
	for _, name := range []string{"a", "b", "c"} {
		tm, err := Load(Spec{Source: src, Destination: filepath.Join(dir, name)})
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tm)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Watch(ctx, Options{Templates: ts, Open: func(context.Context) (registry.Registry, error) { return counting, nil }})
	}()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if _, err := reg.Register(rctx, registry.Provider{Service: "web", Host: "web1", Port: 80}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		p := filepath.Join(dir, name)
		testenv.WaitFor(t, name+" to list web1", 20*time.Second, func() bool {
			b, _ := os.ReadFile(p)
			return strings.HasPrefix(string(b), "web1 0")
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	counting.mu.Lock()
	defer counting.mu.Unlock()
	if counting.watches["web"] != 1 || counting.watches["db"] != 1 || len(counting.watches) != 2 {
		t.Fatalf("watches %v, want one each for web and db", counting.watches)
	}
}

// waitFile polls p until it holds want.
func waitFile(t *testing.T, p, want string) {
	t.Helper()
	testenv.WaitFor(t, fmt.Sprintf("%s to hold %q", p, want), 20*time.Second, func() bool {
		b, _ := os.ReadFile(p)
		return string(b) == want
	})
}

// TestWatchServices: a template ranging over `services` picks up a new
// service (through the catalog poll) and then follows its providers.
func TestWatchServices(t *testing.T) {
	root := testzk.Root(t)
	reg := openZK(t, root)
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
	if err := os.WriteFile(src, []byte(`{{ range services }}{{ . }}={{ len (providers .) }} {{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := Load(Spec{Source: src, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Watch(ctx, Options{Templates: []*Template{tm}, CatalogInterval: 100 * time.Millisecond,
			Open: func(context.Context) (registry.Registry, error) { return openZK(t, root), nil }})
	}()
	defer func() { cancel(); <-done }()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	register := func(svc, host string) {
		if _, err := reg.Register(rctx, registry.Provider{Service: svc, Host: host, Port: 80}); err != nil {
			t.Fatal(err)
		}
	}
	register("api", "a1")
	waitFile(t, dest, "api=1 ")
	register("web", "w1")
	waitFile(t, dest, "api=1 web=1 ")
	register("web", "w2")
	waitFile(t, dest, "api=1 web=2 ")
}
