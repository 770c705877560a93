package templates

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// The observer route of a move to another ensemble (README, "Moving to
// another ensemble through observers"): the servers a fleet talks to are
// wiped and rejoined to the new ensemble, so the same addresses start
// answering as a DIFFERENT ensemble and refuse every session. Here one
// standalone server is wiped and restarted empty on the same port, which
// is what every client sees of that switch.

// observerSwitch is what one run of the switch showed.
type observerSwitch struct {
	writes []int         // lines in the file after each write after the switch
	shrunk time.Duration // how long the file listed fewer providers than before
	// How long a reader polling every 50 ms (what `svcdisco query` does)
	// got a smaller answer, and how long it got no answer at all.
	readerSmaller, readerFailed time.Duration
}

// pollReader lists web every 50 ms from its own session until ctx ends,
// adding up how long the answers were smaller than n, or failed.
func pollReader(ctx context.Context, reg registry.Registry, n int, res *observerSwitch, mu *sync.Mutex) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ps, err := reg.Providers(lctx, "web", registry.ListOptions{})
		cancel()
		now := time.Now()
		mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			res.readerFailed += now.Sub(last)
		case len(ps) < n:
			res.readerSmaller += now.Sub(last)
		}
		mu.Unlock()
		last = now
	}
}

func runObserverSwitch(t *testing.T, settle time.Duration) observerSwitch {
	const n = 6
	c := testzk.Start(t, 1)
	url, root := c.URL(""), testzk.Root(t)
	// One session per registrant, as on a fleet: each notices the switch
	// and re-registers on its own.
	registrants := make([]registry.Registry, n)
	for i := range registrants {
		registrants[i] = dialURL(t, url, root)
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := registrants[i].Register(rctx, registry.Provider{Service: "web", Host: fmt.Sprintf("w%d", i), Port: 80})
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
	var switched, shrankAt time.Time
	var res observerSwitch
	onWrite := func(lines int) {
		mu.Lock()
		defer mu.Unlock()
		if switched.IsZero() {
			return
		}
		res.writes = append(res.writes, lines)
		switch {
		case lines < n && shrankAt.IsZero():
			shrankAt = time.Now()
		case lines >= n && !shrankAt.IsZero():
			res.shrunk += time.Since(shrankAt)
			shrankAt = time.Time{}
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Watch(wctx, Options{Templates: []*Template{tm}, Settle: settle,
			Open: func(ctx context.Context) (registry.Registry, error) { return dialURL(t, url, root), nil },
			OnResult: func(r Result) {
				if r.Status == StatusWritten {
					b, _ := os.ReadFile(dest)
					onWrite(strings.Count(string(b), "\n"))
				}
			}})
	}()
	defer func() { cancel(); <-done }()
	lines := func() int { b, _ := os.ReadFile(dest); return strings.Count(string(b), "\n") }
	testenv.WaitFor(t, "all providers in the file", 20*time.Second, func() bool { return lines() == n })

	reader := dialURL(t, url, root)
	pctx, pcancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() { defer close(polled); pollReader(pctx, reader, n, &res, &mu) }()
	defer func() { pcancel(); <-polled }()
	mu.Lock()
	switched = time.Now()
	mu.Unlock()
	if err := c.Servers[0].Wipe(); err != nil {
		t.Fatal(err)
	}
	// Every registrant re-registers on the "new ensemble", and the watch
	// follows it: a provider added afterwards shows in the file.
	testenv.WaitFor(t, "every provider re-registered", 60*time.Second, func() bool {
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer lcancel()
		ps, err := registrants[0].Providers(lctx, "web", registry.ListOptions{})
		return err == nil && len(ps) == n
	})
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	if _, err := registrants[0].Register(rctx, registry.Provider{Service: "web", Host: "late", Port: 80}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the provider added after the switch in the file", 60*time.Second, func() bool { return lines() == n+1 })
	pcancel()
	<-polled
	mu.Lock()
	defer mu.Unlock()
	return res
}

// TestObserverSwitchSettles: after the switch, render --watch with its
// settle window never writes the file with fewer providers than it had;
// every provider is re-registered and the watch works on the new
// ensemble. The same switch without the window is run for comparison:
// how long the file then listed fewer providers is logged (it depends on
// when each registrant noticed, so it is a figure, not an assertion).
func TestObserverSwitchSettles(t *testing.T) {
	with := runObserverSwitch(t, 10*sessionTTL)
	for _, l := range with.writes {
		if l < 6 {
			t.Fatalf("with the settle window the file was written with %d providers after the switch (writes %v)", l, with.writes)
		}
	}
	without := runObserverSwitch(t, 0)
	for name, r := range map[string]observerSwitch{"with the settle window": with, "without": without} {
		t.Logf("%s: file shorter than before the switch for %v (writes %v); a reader polling every 50 ms got a smaller list for %v and no answer for %v",
			name, r.shrunk.Round(time.Millisecond), r.writes, r.readerSmaller.Round(time.Millisecond), r.readerFailed.Round(time.Millisecond))
	}
}
