package exhibitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// Exhibitor answers, but with servers nobody listens on: the cache is
// used, then the backup list, each step logged with the source used; the
// unreachable answer neither replaces the cached one nor moves a running
// registry; with no reachable source the error names each one (exit 4).
func TestUnreachableEnsembleFallsThrough(t *testing.T) {
	live := testzk.Start(t, 1).Servers[0].Addr()
	dead := fmt.Sprintf("127.0.0.1:%d", testzk.FreePort())
	ex := testexhibitor.Start(t)
	ex.Servers(dead)
	cache := filepath.Join(t.TempDir(), "c.json")

	open := func(url string) (*Registry, *testenv.Buffer, error) {
		logs := &testenv.Buffer{}
		res := resolver(t, url, Options{CachePath: cache, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		w, err := OpenRegistry(ctx5(t), RegistryOptions{Resolver: res, Open: openZK("/svcdisco"), Poll: 50 * time.Millisecond,
			Logger: res.Logger})
		if err == nil {
			t.Cleanup(func() { w.Close() }) // Close is idempotent
		}
		return w, logs, err
	}
	expect := func(w *Registry, logs *testenv.Buffer, source string) {
		t.Helper()
		if got := w.Ensemble(); got.Source != source || strings.Join(got.Servers, ",") != live {
			t.Fatalf("on %+v, want %s from the %s", got, live, source)
		}
		for _, want := range []string{"cannot reach the ensemble from the exhibitor; trying the ", "using the ZooKeeper ensemble from the " + source} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs)
			}
		}
	}

	// The cache holds the last good answer.
	if err := (&Cache{Path: cache, Exhibitor: ex.Host()}).Save([]string{live}, time.Now()); err != nil {
		t.Fatal(err)
	}
	w, logs, err := open("exhibitor://" + ex.Host())
	if err != nil {
		t.Fatalf("with a good cache: %v\n%s", err, logs)
	}
	expect(w, logs, SourceCache)
	if entry, err := (&Cache{Path: cache, Exhibitor: ex.Host()}).Load(); err != nil || strings.Join(entry.Servers, ",") != live {
		t.Fatalf("cache after the unreachable answer: %+v, %v; want it to still list %s", entry, err, live)
	}
	// Polls keep getting the unreachable answer: the registry stays.
	n := ex.Requests()
	testenv.WaitFor(t, "three more polls", 20*time.Second, func() bool { return ex.Requests() >= n+3 })
	if got := w.Ensemble(); got.Source != SourceCache || !strings.Contains(logs.String(), "none of which can be reached") {
		t.Fatalf("after polls naming unreachable servers: on %+v\n%s", got, logs)
	}
	if _, err := w.Services(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	w.Close() // its polls would follow the answers below and rewrite the cache

	// Exhibitor's server accepts connections but never answers (a
	// partition): its share of the time runs out, then the cache is used.
	hole := testzk.NewProxy(t, live)
	hole.Partition()
	ex.Servers(hole.Addr())
	logs = &testenv.Buffer{}
	res := resolver(t, "exhibitor://"+ex.Host(), Options{CachePath: cache, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err = OpenRegistry(ctx, RegistryOptions{Resolver: res, Open: openZK("/svcdisco"), Logger: res.Logger})
	if err != nil {
		t.Fatalf("Exhibitor naming a silent server, with a good cache: %v\n%s", err, logs)
	}
	w.Close()
	if !strings.Contains(logs.String(), "using the ZooKeeper ensemble from the cache") {
		t.Fatalf("cache not used after a silent server:\n%s", logs)
	}
	ex.Servers(dead)

	// No cache: the backup list.
	if err := (&Cache{Path: cache, Exhibitor: "someone-else:8080"}).Save([]string{dead}, time.Now()); err != nil {
		t.Fatal(err)
	}
	w, logs, err = open("exhibitor://" + ex.Host() + "?backup=" + live)
	if err != nil {
		t.Fatalf("with a backup: %v\n%s", err, logs)
	}
	expect(w, logs, SourceBackup)
	w.Close()

	// Nothing reachable: exit 4, every source named.
	_, logs, err = open("exhibitor://" + ex.Host() + "?backup=" + dead)
	if exitcode.Of(err) != exitcode.Unreachable || !errors.Is(err, registry.ErrUnreachable) ||
		!strings.Contains(err.Error(), "exhibitor "+dead) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("nothing reachable: exit %d, %v; want exit 4 naming the Exhibitor answer, on one line\n%s", exitcode.Of(err), err, logs)
	}
}
