package templates

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// backends opens a registry on each backend under a root of the test's.
var backends = map[string]func(t *testing.T, root string) registry.Registry{
	"zookeeper": openZK,
	"consul":    openConsul,
}

func openConsul(t *testing.T, root string) registry.Registry {
	t.Helper()
	a := testconsul.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := dial.Open(ctx, dial.Options{URL: a.URL(), Root: root, SessionTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// refusingRegistry refuses the first n watches, as Consul does for a
// token not created yet or a registry down at that moment.
type refusingRegistry struct {
	registry.Registry
	mu      sync.Mutex
	refuse  int
	refused int
}

func (r *refusingRegistry) Watch(ctx context.Context, svc string) (<-chan struct{}, error) {
	r.mu.Lock()
	if r.refused < r.refuse {
		r.refused++
		r.mu.Unlock()
		return nil, errors.New("403 (ACL not found)")
	}
	r.mu.Unlock()
	return r.Registry.Watch(ctx, svc)
}

// TestWatchRefusedIsRetried: a watch the registry refuses is retried until
// it is accepted, and the file then follows the service, on every backend.
func TestWatchRefusedIsRetried(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			root := testzk.Root(t)
			reg := open(t, root)
			refusing := &refusingRegistry{Registry: open(t, root), refuse: 3}
			dir := t.TempDir()
			src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
			if err := os.WriteFile(src, []byte(`{{ range providers "web" }}{{ .Host }} {{ end }}`), 0o644); err != nil {
				t.Fatal(err)
			}
			tm, err := Load(Spec{Source: src, Destination: dest})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() {
				done <- Watch(ctx, Options{Templates: []*Template{tm},
					Open: func(context.Context) (registry.Registry, error) { return refusing, nil }})
			}()
			defer func() { cancel(); <-done }()
			rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer rcancel()
			if _, err := reg.Register(rctx, registry.Provider{Service: "web", Host: "w1", Port: 80}); err != nil {
				t.Fatal(err)
			}
			waitFile(t, dest, "w1 ")
			if _, err := reg.Register(rctx, registry.Provider{Service: "web", Host: "w2", Port: 80}); err != nil {
				t.Fatal(err)
			}
			waitFile(t, dest, "w1 w2 ")
			refusing.mu.Lock()
			defer refusing.mu.Unlock()
			if refusing.refused != 3 {
				t.Fatalf("%d watches refused, want 3", refusing.refused)
			}
		})
	}
}
