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

// sessionTTL is the registrants' crash-detection time in the settle tests.
const sessionTTL = 2 * time.Second

func dialURL(t *testing.T, url, root string) registry.Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := dial.Open(ctx, dial.Options{URL: url, Root: root, SessionTimeout: sessionTTL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// TestSettleNoShrunkenFileAfterRestart: a forced restart that loses every
// registration (a dev Consul agent restarted; ZooKeeper frozen for longer
// than the session timeout, so every session expires) makes the providers
// vanish and come back one by one as their registrants notice. render
// --watch must never write the file with fewer providers than it had while
// they come back, and must still follow later changes.
func TestSettleNoShrunkenFileAfterRestart(t *testing.T) {
	cases := map[string]func(t *testing.T) (url string, restart func()){
		"consul": func(t *testing.T) (string, func()) {
			a := testconsul.Start(t, testconsul.Options{})
			return a.URL(), func() {
				if err := a.Restart(); err != nil {
					t.Fatal(err)
				}
			}
		},
		"zookeeper": func(t *testing.T) (string, func()) {
			c := testzk.Start(t, 1)
			return c.URL(""), func() {
				c.Servers[0].Pause()
				// The fault itself: frozen for longer than every session's
				// timeout, so all of them expire when it resumes.
				time.Sleep(3 * sessionTTL)
				c.Servers[0].Resume()
			}
		},
	}
	for name, start := range cases {
		t.Run(name, func(t *testing.T) {
			url, restart := start(t)
			testSettle(t, url, restart)
		})
	}
}

func testSettle(t *testing.T, url string, restart func()) {
	const n = 4
	root := testzk.Root(t)
	registrant := dialURL(t, url, root)
	ctx := context.Background()
	for i := range n {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := registrant.Register(rctx, registry.Provider{Service: "web", Host: fmt.Sprintf("w%d", i), Port: 80})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
	if err := os.WriteFile(src, []byte("{{ range providers \"web\" }}{{ .Host }}\n{{ end }}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := Load(Spec{Source: src, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var writes []int // lines in the file after each write
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		done <- Watch(wctx, Options{Templates: []*Template{tm}, Settle: 30 * time.Second,
			Open: func(ctx context.Context) (registry.Registry, error) { return dialURL(t, url, root), nil },
			OnResult: func(r Result) {
				if r.Status == StatusWritten {
					b, _ := os.ReadFile(dest)
					mu.Lock()
					writes = append(writes, strings.Count(string(b), "\n"))
					mu.Unlock()
				}
			}})
	}()
	defer func() { cancel(); <-done }()
	lines := func() int { b, _ := os.ReadFile(dest); return strings.Count(string(b), "\n") }
	testenv.WaitFor(t, "all providers in the file", 20*time.Second, func() bool { return lines() == n })
	mu.Lock()
	before := len(writes)
	mu.Unlock()

	restart()
	// Providers come back through their registrants; then a new one is
	// added, which the file must show: the watch recovered.
	testenv.WaitFor(t, "the providers re-registered", 60*time.Second, func() bool {
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		defer lcancel()
		ps, err := registrant.Providers(lctx, "web", registry.ListOptions{})
		return err == nil && len(ps) == n
	})
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	if _, err := registrant.Register(rctx, registry.Provider{Service: "web", Host: "late", Port: 80}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the provider added after the restart in the file", 60*time.Second, func() bool { return lines() == n+1 })
	mu.Lock()
	defer mu.Unlock()
	for _, l := range writes[before:] {
		if l < n {
			t.Fatalf("after the restart the file was written with %d providers (writes: %v), never fewer than %d wanted", l, writes[before:], n)
		}
	}
	t.Logf("writes after the restart: %v", writes[before:])
}
