package exhibitor

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

func openZK(root string) OpenFunc {
	return func(ctx context.Context, servers []string) (registry.Registry, error) {
		return zkreg.Open(ctx, zkreg.Options{Servers: servers, Root: root, SessionTimeout: 2 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
}

func count(t *testing.T, r registry.Registry) int {
	t.Helper()
	ps, err := r.Providers(ctx5(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil {
		t.Fatalf("Providers: %v", err)
	}
	return len(ps)
}

// After a move, registrations handed out before it still deregister, and
// watches signal the move and then follow the new ensemble's changes.
func TestMoveKeepsRegistrationsAndWatches(t *testing.T) {
	a, b := testzk.Start(t, 1), testzk.Start(t, 1)
	ex := testexhibitor.Start(t)
	ex.Servers(a.Servers[0].Addr())
	root := "/svcdisco"
	res := resolver(t, "exhibitor://"+ex.Host(), Options{CachePath: filepath.Join(t.TempDir(), "c.json")})
	w, err := OpenRegistry(ctx5(t), RegistryOptions{Resolver: res, Open: openZK(root), Poll: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	onA, _ := openZK(root)(ctx5(t), []string{a.Servers[0].Addr()})
	onB, _ := openZK(root)(ctx5(t), []string{b.Servers[0].Addr()})
	defer onA.Close()
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
	drain := func() {
		for {
			select {
			case <-changes:
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
	}
	drain()

	ex.Servers(b.Servers[0].Addr())
	testenv.WaitFor(t, "the move to B", 10*time.Second, func() bool { return w.Ensemble().Servers[0] == b.Servers[0].Addr() })
	if count(t, onB) != 1 || count(t, onA) != 0 {
		t.Fatalf("after the move: %d on A, %d on B; want 0 and 1", count(t, onA), count(t, onB))
	}
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatal("no watch signal for the move")
	}
	drain()

	// A change on B reaches the watch set up before the move.
	other, err := onB.Register(ctx5(t), registry.Provider{Service: "web", Host: "h2", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not follow the move to B")
	}
	_ = other

	if err := reg.Deregister(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, onB); n != 1 { // only h2 is left
		t.Fatalf("%d providers on B after Deregister, want 1", n)
	}
	if reg.Provider().Host != "h1" {
		t.Errorf("Provider() = %+v", reg.Provider())
	}
}

// A poll that cannot reach Exhibitor leaves the registry where it is, even
// though the backup list differs.
func TestFailedPollDoesNotMove(t *testing.T) {
	a := testzk.Start(t, 1)
	ex := testexhibitor.Start(t)
	ex.Servers(a.Servers[0].Addr())
	res := resolver(t, "exhibitor://"+ex.Host()+"?backup=127.0.0.1:1", Options{})
	w, err := OpenRegistry(ctx5(t), RegistryOptions{Resolver: res, Open: openZK("/svcdisco"), Poll: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ex.Close()
	time.Sleep(500 * time.Millisecond)
	if got := w.Ensemble(); got.Source != SourceExhibitor || got.Servers[0] != a.Servers[0].Addr() {
		t.Fatalf("moved to %+v", got)
	}
	if _, err := w.Services(ctx5(t)); err != nil {
		t.Fatal(err)
	}
}
