package exhibitor_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/exhibitor"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

const membershipTmpl = `{{ range providers "web" }}{{ .Host }}:{{ .Port }} {{ .Timestamp.UnixMilli }}` + "\n{{ end }}"

// An ensemble of five ZooKeeper servers, all running from the start, of
// which Exhibitor lists three, then all five, then three others. That is
// what a client sees of a grow and a shrink: Exhibitor's list changes, and
// the servers that leave it are the ones its clients were on (the test picks
// them so, the worst case). ZooKeeper's own reconfiguration is not part of
// it: the servers are one ensemble throughout, so every session is valid on
// every one of them, as it is across a real membership change.
//
// While 20 providers are registered through one exhibitor:// registry and
// a `render --watch` follows the same Exhibitor, nothing may show the
// change: the listing (seen from a server that stays) keeps the same 20
// znodes with the same timestamps, never more; the rendered file never
// changes; and both clients end on the servers still listed, with the
// sessions they started with.
func TestMembershipChangeKeepsSessions(t *testing.T) {
	c := testzk.StartSamePort(t, 5)
	ex := testexhibitor.Start(t)
	list := func(idx ...int) {
		var addrs []string
		for _, i := range idx {
			addrs = append(addrs, c.Servers[i].Addr())
		}
		ex.Servers(addrs...)
	}
	list(0, 1, 2)
	root, dir := testzk.Root(t), t.TempDir()
	url := "exhibitor://" + ex.Host()

	logs := &testenv.Buffer{}
	w := openFollowing(t, url, root, filepath.Join(dir, "w.json"), slog.New(slog.NewTextHandler(logs, nil)))
	for i := range 20 {
		if _, err := w.Register(ctx20(t), registry.Provider{Service: "web", Host: fmt.Sprintf("h%02d", i), Port: 80}); err != nil {
			t.Fatal(err)
		}
	}
	observer := openZK(t, []string{c.Servers[4].Addr()}, root)
	before := snapshot(t, observer)
	if len(before) != 20 {
		t.Fatalf("%d providers listed after 20 registrations: %q", len(before), before)
	}

	src, dest := filepath.Join(dir, "web.tmpl"), filepath.Join(dir, "web.conf")
	if err := os.WriteFile(src, []byte(membershipTmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	render := testcli.Start(t, "render", "--watch", "--template", src+":"+dest, "--registry", url, "--root", root,
		"--session-timeout", "2s", "--ensemble-cache", filepath.Join(dir, "r.json"), "--exhibitor-poll", "100ms")
	testenv.WaitFor(t, "the first render", 30*time.Second, func() bool { return strings.Count(read(dest), "\n") == 20 })
	rendered, info := read(dest), stat(t, dest)

	ours := sessions(t, c, observer.Conn().SessionID())
	if len(ours) < 2 {
		t.Fatalf("sessions of the registry and of render: %v, want at least 2", ours)
	}
	watch := sample(t, observer, before, dest, rendered)

	list(0, 1, 2, 3, 4)
	waitFollowed(t, logs, render, 1)

	keep := []int{3, 4}
	for i := range 3 {
		if !slices.ContainsFunc(ours, func(s session) bool { return s.server == i }) {
			keep = append(keep, i)
			break
		}
	}
	list(keep...)
	waitFollowed(t, logs, render, 2)
	testenv.WaitFor(t, "both clients on the servers still listed", 30*time.Second, func() bool {
		now := sessions(t, c, observer.Conn().SessionID())
		return sameIDs(now, ours) && !slices.ContainsFunc(now, func(s session) bool { return !slices.Contains(keep, s.server) })
	})

	if msg := watch(); msg != "" {
		t.Fatal(msg)
	}
	if after := snapshot(t, observer); !slices.Equal(after, before) {
		t.Fatalf("providers after the changes:\n%q\nwant\n%q", after, before)
	}
	if got, now := read(dest), stat(t, dest); got != rendered || !now.ModTime().Equal(info.ModTime()) {
		t.Fatalf("rendered file changed: %q (mtime %v), was %q (mtime %v)", got, now.ModTime(), rendered, info.ModTime())
	}
	if strings.Contains(logs.String(), "re-register") || strings.Contains(render.Err.String(), "new zookeeper session") {
		t.Fatalf("a client re-registered or got a new session:\n%s\n%s", logs, render.Err)
	}
	// The watches came along: a new provider still reaches the file.
	if _, err := w.Register(ctx20(t), registry.Provider{Service: "web", Host: "h20", Port: 80}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the 21st provider in the rendered file", 30*time.Second, func() bool {
		return strings.Contains(read(dest), "h20:80 ")
	})
	if err := render.Stop(); err != nil {
		t.Fatalf("render --watch: %v\n%s", err, render.Err)
	}
}

func openFollowing(t *testing.T, url, root, cache string, log *slog.Logger) *exhibitor.Registry {
	t.Helper()
	u, err := registry.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	res, err := exhibitor.New(u, exhibitor.Options{CachePath: cache, RequestTimeout: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	w, err := exhibitor.OpenRegistry(ctx20(t), exhibitor.RegistryOptions{Resolver: res, Poll: 100 * time.Millisecond, Logger: log,
		Open: func(ctx context.Context, servers []string) (registry.Registry, error) {
			return zkreg.Open(ctx, zkreg.Options{Servers: servers, Root: root, SessionTimeout: 2 * time.Second, Logger: log})
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func openZK(t *testing.T, servers []string, root string) *zkreg.Registry {
	t.Helper()
	r, err := zkreg.Open(ctx20(t), zkreg.Options{Servers: servers, Root: root, SessionTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// waitFollowed waits until the registry and render have each logged n
// membership changes.
func waitFollowed(t *testing.T, logs *testenv.Buffer, render *testcli.Proc, n int) {
	t.Helper()
	const msg = "membership changed"
	testenv.WaitFor(t, fmt.Sprintf("membership change %d followed by both clients", n), 30*time.Second, func() bool {
		return strings.Count(logs.String(), msg) >= n && strings.Count(render.Err.String(), msg) >= n
	})
}

// sample checks, until the returned function is called, that every listing
// equals want and the rendered file stays as it was. The function returns
// the first discrepancy seen, or ""; if the test ends first, the
// discrepancy is reported then.
func sample(t *testing.T, r registry.Registry, want []string, dest, rendered string) func() string {
	stop, done := make(chan struct{}), make(chan string, 1)
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for n := 0; ; n++ {
			select {
			case <-stop:
				done <- ""
				return
			default:
			}
			if got := read(dest); got != rendered {
				done <- fmt.Sprintf("sample %d: rendered file is %q, was %q", n, got, rendered)
				return
			}
			ps, err := r.Providers(ctx, "web", registry.ListOptions{FieldsOnly: true})
			if got := entries(ps); err != nil || !slices.Equal(got, want) {
				done <- fmt.Sprintf("sample %d: providers %q (%v), want %q", n, got, err, want)
				return
			}
			time.Sleep(10 * time.Millisecond) // a sampling rate, not a wait
		}
	}()
	var once sync.Once
	var msg string
	finish := func() string {
		once.Do(func() {
			close(stop)
			msg = <-done
		})
		return msg
	}
	t.Cleanup(func() {
		if m := finish(); m != "" && !t.Failed() {
			t.Error(m)
		} else if m != "" {
			t.Log(m)
		}
	})
	return finish
}

func snapshot(t *testing.T, r registry.Registry) []string {
	t.Helper()
	ps, err := r.Providers(ctx20(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return entries(ps)
}

// entries are "host znode timestamp" lines, sorted.
func entries(ps []registry.Provider) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s %s %d", p.Host, p.Name, p.Timestamp.UnixMilli())
	}
	slices.Sort(out)
	return out
}

type session struct {
	id     string
	server int // index in the cluster
}

var sidRE = regexp.MustCompile(`sid=(0x[0-9a-f]+)`)

// sessions lists the client sessions connected to each server (ZooKeeper's
// `cons`), except the observer's.
func sessions(t *testing.T, c *testzk.Cluster, observer int64) []session {
	t.Helper()
	var out []session
	for i, s := range c.Servers {
		cons, err := testzk.FourLetter(s.Addr(), "cons", 5*time.Second)
		if err != nil {
			t.Fatalf("cons on %s: %v", s.Addr(), err)
		}
		for _, m := range sidRE.FindAllStringSubmatch(cons, -1) {
			if m[1] != fmt.Sprintf("0x%x", observer) {
				out = append(out, session{id: m[1], server: i})
			}
		}
	}
	return out
}

func sameIDs(a, b []session) bool {
	ids := func(ss []session) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.id)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ids(a), ids(b))
}

func read(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func stat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func ctx20(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
