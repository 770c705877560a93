package templates

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// TestWatchFollowsLeader: in watch mode a change of leader alone (no
// provider of any service changes) re-renders a template calling
// `leader`: a first leader, its successor after it resigns, then none.
func TestWatchFollowsLeader(t *testing.T) {
	root := testzk.Root(t)
	watchLeaderOn(t, openZK(t, root), openZK(t, root), openZK(t, root))
}

// TestWatchFollowsLeaderConsul is the same on Consul.
func TestWatchFollowsLeaderConsul(t *testing.T) {
	a := testconsul.Shared(t)
	root := testzk.Root(t)
	open := func() registry.Registry {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		reg, err := dial.Open(ctx, dial.Options{URL: a.URL(), Root: root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { reg.Close() })
		return reg
	}
	watchLeaderOn(t, open(), open(), open())
}

func watchLeaderOn(t *testing.T, reg, c1reg, c2reg registry.Registry) {
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "t.tmpl"), filepath.Join(dir, "out")
	if err := os.WriteFile(src, []byte(`{{with leader "sched"}}{{.Host}}:{{.Port}}{{else}}none{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := Load(Spec{Source: src, Destination: dest})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Watch(ctx, Options{Templates: []*Template{tm}, Open: func(context.Context) (registry.Registry, error) { return reg, nil }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	waitFile(t, dest, "none")

	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()
	campaign := func(r registry.Registry, id, host string, port int) coord.Candidacy {
		c, err := r.(coord.Elector).Campaign(cctx, "sched", registry.Provider{ID: id, Host: host, Port: port})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := campaign(c1reg, "s1", "h1", 7001)
	select { // s1 leads before s2 joins
	case <-first.Terms():
	case <-cctx.Done():
		t.Fatal("s1 never led")
	}
	waitFile(t, dest, "h1:7001")
	second := campaign(c2reg, "s2", "h2", 7002)
	if err := first.Resign(cctx); err != nil {
		t.Fatal(err)
	}
	waitFile(t, dest, "h2:7002")
	if err := second.Resign(cctx); err != nil {
		t.Fatal(err)
	}
	waitFile(t, dest, "none")
}
