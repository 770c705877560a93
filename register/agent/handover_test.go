package agent

import (
	"context"
	"fmt"
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
	consulreg "github.com/svcdisco/svcdisco/registry/consul"
)

// sampler lists a service after every change the registry signals and
// records every listing, until stopped.
type sampler struct {
	mu       sync.Mutex
	listings [][]string // host:port of each listing
	cancel   context.CancelFunc
	done     chan struct{}
}

func sample(t *testing.T, r registry.Registry, service string) *sampler {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := r.Watch(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	s := &sampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for range ch {
			ps, err := r.Providers(ctx, service, registry.ListOptions{FieldsOnly: true})
			if err != nil {
				continue
			}
			var addrs []string
			for _, p := range ps {
				addrs = append(addrs, p.Addr())
			}
			s.mu.Lock()
			s.listings = append(s.listings, addrs)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *sampler) stop() {
	s.cancel()
	<-s.done
}

// The reproduction: a provider file rewritten in place by a slow
// writer ("service: agc / port: 80", a pause, then "01 / host: c1") must
// never be advertised half-written (as THIS-HOST:80).
func TestSlowRewriteIsNotAdvertised(t *testing.T) {
	root := testzk.Root(t)
	reg, watcher := openZK(t, root), openZK(t, root)
	dir := t.TempDir()
	path := filepath.Join(dir, "c1.yaml")
	write(t, dir, "c1.yaml", "service: agc\nport: 8001\nhost: c1\n")
	a := &Agent{Dir: dir, Registry: reg, Timeout: 5 * time.Second, Defaults: Defaults{Host: "vm", Address: "10.0.0.9"},
		Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx, nil) }()
	defer func() { cancel(); <-ran }()
	listed := func(want string) func() bool {
		return func() bool {
			ps, _ := watcher.Providers(context.Background(), "agc", registry.ListOptions{})
			return len(ps) == 1 && ps[0].Addr()+" v="+ps[0].Attributes["v"] == want
		}
	}
	testenv.WaitFor(t, "c1:8001", 20*time.Second, listed("c1:8001 v="))
	s := sample(t, watcher, "agc")

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("service: agc\nport: 80"); err != nil {
		t.Fatal(err)
	}
	// The writer's own pause (the reproduction's `sleep`), not a wait for
	// the agent: the file stays half-written for this long.
	time.Sleep(500 * time.Millisecond)
	if _, err := f.WriteString("01\nhost: c1\nattributes: {v: '2'}\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	testenv.WaitFor(t, "the rewritten file", 20*time.Second, listed("c1:8001 v=2"))
	s.stop()
	for _, l := range s.listings {
		for _, addr := range l {
			if addr != "c1:8001" {
				t.Fatalf("advertised %s from a half-written file (listings %v)", addr, s.listings)
			}
		}
	}
}

// countingRegistry counts the registrations a Registry holds and records
// the lowest count after the first registration.
type countingRegistry struct {
	registry.Registry
	mu       sync.Mutex
	live     int
	min      int
	ever     bool
	sequence []string
}

type countedRegistration struct {
	registry.Registration
	c *countingRegistry
}

func (c *countingRegistry) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	r, err := c.Registry.Register(ctx, p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live++
	c.sequence = append(c.sequence, "+"+r.Provider().Attributes["v"])
	if !c.ever {
		c.ever, c.min = true, c.live
	}
	return countedRegistration{r, c}, nil
}

func (r countedRegistration) Deregister(ctx context.Context) error {
	r.c.mu.Lock()
	r.c.live--
	r.c.min = min(r.c.min, r.c.live)
	r.c.sequence = append(r.c.sequence, "-"+r.Provider().Attributes["v"])
	r.c.mu.Unlock()
	return r.Registration.Deregister(ctx)
}

// Editing a single-provider service's file registers the new version
// before removing the old, so the service never has zero providers: not
// in the order of registry calls, and not in what a watcher lists. A
// field the previous version set and the new one leaves to a default is
// logged.
func TestMakeBeforeBreak(t *testing.T) {
	t.Run("zookeeper", func(t *testing.T) {
		root := testzk.Root(t)
		makeBeforeBreak(t, openZK(t, root), openZK(t, root))
	})
	t.Run("consul", func(t *testing.T) {
		// Same id: the new version replaces the old in place, and the
		// old one's deregistration leaves the new one alone.
		a, root := testconsul.Shared(t), testzk.Root(t)
		open := func() registry.Registry {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := consulreg.Open(ctx, consulreg.Options{Address: a.Addr(), Root: root, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return r
		}
		makeBeforeBreak(t, open(), open())
	})
}

func makeBeforeBreak(t *testing.T, reg, watcher registry.Registry) {
	counted := &countingRegistry{Registry: reg}
	dir := t.TempDir()
	write(t, dir, "web.yaml", "service: web\nport: 8080\nhost: n1\nattributes: {v: '0'}\n")
	var logs testenv.Buffer
	a := &Agent{Dir: dir, Registry: counted, Timeout: 5 * time.Second, Defaults: Defaults{Host: "vm", Address: "10.0.0.9"},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	defer a.StopAll()
	if _, err := a.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web", func() bool {
		ps, _ := watcher.Providers(context.Background(), "web", registry.ListOptions{FieldsOnly: true})
		return len(ps) == 1
	})
	s := sample(t, watcher, "web")
	for i := 1; i <= 6; i++ {
		write(t, dir, "web.yaml", fmt.Sprintf("service: web\nport: 8080\nhost: n1\nattributes: {v: '%d'}\n", i))
		if res, err := a.Reconcile(context.Background()); err != nil || len(res.Changed) != 1 {
			t.Fatalf("edit %d: %+v %v", i, res, err)
		}
	}
	waitFor(t, "version 6 alone", func() bool {
		ps, _ := watcher.Providers(context.Background(), "web", registry.ListOptions{})
		return len(ps) == 1 && ps[0].Attributes["v"] == "6"
	})
	s.stop()
	counted.mu.Lock()
	if counted.min < 1 {
		t.Errorf("registrations dropped to %d; sequence %v", counted.min, counted.sequence)
	}
	counted.mu.Unlock()
	for _, l := range s.listings {
		if len(l) == 0 {
			t.Fatalf("a watcher listed 0 providers (listings %v)", s.listings)
		}
	}
	if len(s.listings) == 0 {
		t.Fatal("the watcher saw no change at all")
	}

	write(t, dir, "web.yaml", "service: web\nport: 8080\n")
	if _, err := a.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "no longer sets a field") || !strings.Contains(logs.String(), "field=host was=n1 now=vm") {
		t.Errorf("host falling back to the default was not logged:\n%s", logs.String())
	}
}

// A new version whose check never passes does not keep the old version
// advertised for ever: after one registration timeout plus the check's
// rise, the old one goes.
func TestHandoverIsBounded(t *testing.T) {
	root := testzk.Root(t)
	reg, watcher := openZK(t, root), openZK(t, root)
	dir := t.TempDir()
	write(t, dir, "web.yaml", "service: web\nport: 8080\nhost: n1\n")
	var logs testenv.Buffer
	a := &Agent{Dir: dir, Registry: reg, Timeout: 300 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	defer a.StopAll()
	if _, err := a.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web", func() bool {
		ps, _ := watcher.Providers(context.Background(), "web", registry.ListOptions{FieldsOnly: true})
		return len(ps) == 1
	})
	write(t, dir, "web.yaml", "service: web\nport: 8080\nhost: n1\ncheck: 'exec:false'\ncheck_interval: 100ms\ncheck_timeout: 100ms\nrise: 1\n")
	if res, err := a.Reconcile(context.Background()); err != nil || len(res.Changed) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.Contains(logs.String(), "new version not registered in time") {
		t.Errorf("no warning:\n%s", logs.String())
	}
	waitFor(t, "the old version gone", func() bool {
		ps, _ := watcher.Providers(context.Background(), "web", registry.ListOptions{FieldsOnly: true})
		return len(ps) == 0
	})
}
