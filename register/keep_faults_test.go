package register

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// TestStopWhileRegistryDown: asked to stop while the registry is down,
// Keep cannot deregister; it says so (not "deregistered") and returns nil,
// so `register` exits 0 on SIGTERM as documented — on both backends.
func TestStopWhileRegistryDown(t *testing.T) {
	for name, start := range map[string]func(t *testing.T) (url string, kill func()){
		"zookeeper": func(t *testing.T) (string, func()) {
			c := testzk.Start(t, 1)
			return c.URL(""), c.Servers[0].Kill
		},
		"consul": func(t *testing.T) (string, func()) {
			a := testconsul.Start(t, testconsul.Options{})
			return a.URL(), a.Kill
		},
	} {
		t.Run(name, func(t *testing.T) {
			url, kill := start(t)
			logs := &testenv.Buffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			octx, ocancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer ocancel()
			reg, err := dial.Open(octx, dial.Options{URL: url, Root: "/stopdown", SessionTimeout: 2 * time.Second, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			var registered, deregistered atomic.Int32
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- Keep(ctx, KeepInput{Registry: reg, Timeout: 2 * time.Second, Logger: log,
					Provider: registry.Provider{Service: "web", Host: "h1", Port: 80},
					OnChange: func(up bool, _ registry.Provider) {
						if up {
							registered.Add(1)
						} else {
							deregistered.Add(1)
						}
					}})
			}()
			testenv.WaitFor(t, "the registration", 20*time.Second, func() bool { return registered.Load() == 1 })
			kill()
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Keep = %v, want nil (a stop asked for and done)", err)
			}
			if n := deregistered.Load(); n != 0 {
				t.Errorf("told of %d deregistrations that did not happen", n)
			}
			if !strings.Contains(logs.String(), "stopping without deregistering") {
				t.Errorf("no warning that the provider was not deregistered:\n%s", logs.String())
			}
		})
	}
}
