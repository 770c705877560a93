package render_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testzk"
)

// TestWatchRegisterDeregister: the file follows registrations and
// deregistrations; SIGTERM exits 0.
func TestWatchRegisterDeregister(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	reg := e.registry()
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	d := e.start("render", "--watch", "--template", src+":"+dest)
	waitFor(t, "the first render (no providers)", func() bool { _, err := os.Stat(dest); return err == nil })

	r1 := e.register(reg, "web", "web1", 8080, nil)
	waitFor(t, "web1 in the file", func() bool { return e.read(dest) == "server web1:8080\n" })
	e.register(reg, "web", "web2", 8080, nil)
	waitFor(t, "web1 and web2 in the file", func() bool { return e.read(dest) == "server web1:8080\nserver web2:8080\n" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r1.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web1 gone from the file", func() bool { return e.read(dest) == "server web2:8080\n" })
	if code := d.stop(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}

// TestWatchZooKeeperDown: while ZooKeeper is down — including across a
// SIGHUP reload that must connect afresh — the file stays byte-identical;
// once ZooKeeper is back the file follows changes again.
func TestWatchZooKeeperDown(t *testing.T) {
	c := testzk.Start(t, 1)
	e := newEnv(t, c)
	reg := e.registry()
	e.register(reg, "web", "web1", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	cfg := e.file("svcdisco.yaml", "templates:\n  - {source: "+src+", destination: "+dest+"}\n", 0o644)
	d := e.start("render", "--watch", "--config", cfg, "--timeout", "1s")
	waitFor(t, "web1 in the file", func() bool { return e.read(dest) == "server web1:8080\n" })
	before, _ := os.Stat(dest)

	c.Servers[0].Kill()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The reload retries the registry, logging each failed attempt: after
	// three of them, the file must still be the last good one.
	waitFor(t, "three failed attempts to reach the registry", func() bool {
		return strings.Count(d.stderr.String(), "registry unreachable; files stay as they are") >= 3
	})
	info, err := os.Stat(dest)
	if err != nil || e.read(dest) != "server web1:8080\n" || !info.ModTime().Equal(before.ModTime()) {
		t.Fatalf("file touched while ZooKeeper was down: %q (%v)", e.read(dest), err)
	}

	if err := c.Servers[0].Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitServing(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.register(e.registry(), "web", "web2", 8080, nil)
	waitFor(t, "web2 in the file after ZooKeeper came back", func() bool {
		return strings.Contains(e.read(dest), "server web2:8080\n")
	})
	if code := d.stop(t); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}

// TestWatchBurstDebounced: 50 registrations in a burst with --wait
// 200ms:1s end in a file holding all 50, and every render after the first
// waited for the burst to settle. How many renders a burst costs depends on
// how fast the machine registers, so it is reported (t.Logf), not bounded:
// a bound on it flakes on a loaded machine.
func TestWatchBurstDebounced(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	reg := e.registry()
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	d := e.start("render", "--watch", "--wait", "200ms:1s", "--template", src+":"+dest)
	waitFor(t, "the first render", func() bool { return d.passes() >= 1 && fileExists(dest) })
	initial := d.passes()

	for i := 0; i < 50; i++ {
		e.register(reg, "web", fmt.Sprintf("web%02d", i), 8080, nil)
	}
	waitFor(t, "all 50 providers in the file", func() bool { return strings.Count(e.read(dest), "\n") == 50 })
	// The file is renamed into place before its render is logged, and
	// stderr arrives through a pipe: wait for the line rather than count
	// at once.
	waitFor(t, "the render that wrote them to be logged", func() bool { return d.passes() > initial })
	t.Logf("50 registrations with --wait 200ms:1s: %d renders", d.passes()-initial)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
