package exhibitor

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openZK(root string) OpenFunc {
	return func(ctx context.Context, servers []string) (registry.Registry, error) {
		return zkreg.Open(ctx, zkreg.Options{Servers: servers, Root: root, SessionTimeout: 2 * time.Second, Logger: quiet()})
	}
}

func hosts(t *testing.T, r registry.Registry) []string {
	t.Helper()
	out, err := tryHosts(t, r)
	if err != nil {
		t.Fatalf("Providers: %v", err)
	}
	return out
}

// tryHosts lists the hosts of service web, sorted.
func tryHosts(t *testing.T, r registry.Registry) ([]string, error) {
	ps, err := r.Providers(ctx5(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range ps {
		out = append(out, p.Host)
	}
	slices.Sort(out)
	return out, nil
}

// hostsAre is a wait condition: a listing that fails (the connection is
// moving) is not the one awaited.
func hostsAre(t *testing.T, r registry.Registry, want ...string) func() bool {
	return func() bool {
		got, err := tryHosts(t, r)
		return err == nil && slices.Equal(got, want)
	}
}

// waitSignalled reads change signals until cond holds after one: the
// watch must keep signalling until the change it reports is visible.
func waitSignalled(t *testing.T, changes <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-changes:
			if !ok {
				t.Fatalf("watch closed while waiting for %s", what)
			}
			if cond() {
				return
			}
		case <-deadline:
			t.Fatalf("no watch signal showing %s within 20s", what)
		}
	}
}

// Moving to ANOTHER ensemble: the new servers reject the session, so the
// backend gets a new one there and re-registers (exactly once); the watch
// set up before the move follows the new ensemble; the abandoned session's
// entries vanish when the old ensemble expires it; a registration handed
// out before the move still deregisters.
func TestMoveKeepsRegistrationsAndWatches(t *testing.T) {
	a, b := testzk.Start(t, 1), testzk.Start(t, 1)
	ex := testexhibitor.Start(t)
	ex.Servers(a.Servers[0].Addr())
	root := "/svcdisco"
	res := resolver(t, "exhibitor://"+ex.Host(), Options{CachePath: filepath.Join(t.TempDir(), "c.json")})
	w, err := OpenRegistry(ctx5(t), RegistryOptions{Resolver: res, Open: openZK(root), Poll: 100 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	onA, err := openZK(root)(ctx5(t), []string{a.Servers[0].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer onA.Close()
	onB, err := openZK(root)(ctx5(t), []string{b.Servers[0].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer onB.Close()

	reg, err := w.Register(ctx5(t), registry.Provider{Service: "web", Host: "h1", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, err := w.Watch(wctx, "web")
	if err != nil {
		t.Fatal(err)
	}

	ex.Servers(b.Servers[0].Addr())
	testenv.WaitFor(t, "the registry to follow Exhibitor to B", 20*time.Second, func() bool {
		return w.Ensemble().Servers[0] == b.Servers[0].Addr()
	})
	waitSignalled(t, changes, "h1 on B", hostsAre(t, w, "h1"))
	if got := hosts(t, onB); !slices.Equal(got, []string{"h1"}) {
		t.Fatalf("on B after the move: %q, want exactly [h1]", got)
	}
	testenv.WaitFor(t, "A to expire the abandoned session", 20*time.Second, hostsAre(t, onA))

	// A change on B reaches the watch set up before the move.
	if _, err := onB.Register(ctx5(t), registry.Provider{Service: "web", Host: "h2", Port: 80}); err != nil {
		t.Fatal(err)
	}
	waitSignalled(t, changes, "h2 on B", hostsAre(t, w, "h1", "h2"))

	if err := reg.Deregister(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if got := hosts(t, onB); !slices.Equal(got, []string{"h2"}) {
		t.Fatalf("on B after Deregister: %q, want [h2]", got)
	}
	if reg.Provider().Host != "h1" {
		t.Errorf("Provider() = %+v", reg.Provider())
	}
}

// A poll that cannot get an answer from Exhibitor leaves the registry where
// it is, even though the backup list differs.
func TestFailedPollDoesNotMove(t *testing.T) {
	a := testzk.Start(t, 1)
	ex := testexhibitor.Start(t)
	ex.Servers(a.Servers[0].Addr())
	res := resolver(t, "exhibitor://"+ex.Host()+"?backup=127.0.0.1:1", Options{})
	w, err := OpenRegistry(ctx5(t), RegistryOptions{Resolver: res, Open: openZK("/svcdisco"), Poll: 50 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ex.Reply(http.StatusInternalServerError, "text/html", "<h1>500</h1>")
	// Each poll asks every Exhibitor host twice; wait for three polls.
	n := ex.Requests()
	testenv.WaitFor(t, "three failed polls", 20*time.Second, func() bool { return ex.Requests() >= n+6 })
	if got := w.Ensemble(); got.Source != SourceExhibitor || got.Servers[0] != a.Servers[0].Addr() {
		t.Fatalf("moved to %+v", got)
	}
	if _, err := w.Services(ctx5(t)); err != nil {
		t.Fatal(err)
	}
}

// Exhibitor names a server that accepts connections but never answers (a
// partition, a server not yet serving): the registry stays on its server,
// which it would otherwise have had to leave, and keeps working.
func TestSilentServersDoNotMove(t *testing.T) {
	a := testzk.Start(t, 1)
	ex := testexhibitor.Start(t)
	ex.Servers(a.Servers[0].Addr())
	logs := &testenv.Buffer{}
	res := resolver(t, "exhibitor://"+ex.Host(), Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	w, err := OpenRegistry(ctx5(t), RegistryOptions{Resolver: res, Open: openZK("/svcdisco"), Poll: 50 * time.Millisecond,
		Timeout: 500 * time.Millisecond, Logger: res.Logger})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Register(ctx5(t), registry.Provider{Service: "web", Host: "h1", Port: 80}); err != nil {
		t.Fatal(err)
	}
	hole := testzk.NewProxy(t, a.Servers[0].Addr())
	hole.Partition()
	ex.Servers(hole.Addr())
	const refused = "the new servers give no session; staying"
	testenv.WaitFor(t, "two refused moves", 20*time.Second, func() bool { return strings.Count(logs.String(), refused) >= 2 })
	if got := w.Ensemble(); got.Servers[0] != a.Servers[0].Addr() {
		t.Fatalf("moved to %+v", got)
	}
	if got := hosts(t, w); !slices.Equal(got, []string{"h1"}) {
		t.Fatalf("listed %q after the refused moves, want [h1]", got)
	}
}
