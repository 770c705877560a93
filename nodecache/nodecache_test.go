package nodecache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/nodecache"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testzk.StopShared()
	testconsul.StopShared()
	os.Exit(code)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// node is an agent serving its cache on a socket, on a registry session
// of its own (through proxy, which a test can cut).
type node struct {
	cache  *nodecache.Cache
	socket string
	proxy  *testzk.Proxy
	reg    registry.Registry
}

func open(t *testing.T, ctx context.Context, addr, root string) registry.Registry {
	t.Helper()
	return openURL(t, ctx, "zk://"+addr, root)
}

func openURL(t *testing.T, ctx context.Context, url, root string) registry.Registry {
	t.Helper()
	reg, err := dial.Open(ctx, dial.Options{URL: url, Root: root, SessionTimeout: 4 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

func startNode(t *testing.T, ctx context.Context, zkAddr, root string, idle time.Duration) *node {
	t.Helper()
	proxy := testzk.NewProxy(t, zkAddr)
	n := serveOn(t, ctx, open(t, ctx, proxy.Addr(), root), idle, false)
	n.proxy = proxy
	return n
}

// serveOn serves a cache of reg on a socket until the test ends.
func serveOn(t *testing.T, ctx context.Context, reg registry.Registry, idle time.Duration, full bool) *node {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := nodecache.Listen(sock, "")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	cache := nodecache.New(sctx, reg, nodecache.Options{Idle: idle, Logger: quiet, FullFieldsOnly: full})
	done := make(chan error, 1)
	go func() { done <- (&nodecache.Server{Cache: cache, Logger: quiet}).Serve(sctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &node{cache: cache, socket: sock, reg: reg}
}

// reader is a Reader on n's socket whose registry must never be opened.
func (n *node) reader(t *testing.T) *nodecache.Reader {
	c := nodecache.NewClient(n.socket)
	return &nodecache.Reader{Agent: c, Logger: quiet, Open: func(context.Context) (registry.Registry, error) {
		t.Errorf("the registry was opened: the agent should have answered")
		return nil, errors.New("no registry in this test")
	}}
}

func provider(svc string, i int, attrs map[string]string) registry.Provider {
	return registry.Provider{Service: svc, ID: fmt.Sprintf("%s-%d", svc, i), Host: fmt.Sprintf("h%d.example.com", i),
		Address: fmt.Sprintf("10.0.0.%d", i), Port: 8000 + i, Attributes: attrs, Weight: 1}
}

// answer is what `query -o FORMAT` prints for o on reg.
func answer(t *testing.T, ctx context.Context, reg registry.Registry, o query.Options, format string) string {
	t.Helper()
	ps, err := query.Run(ctx, reg, o)
	if err != nil {
		return "error: " + err.Error()
	}
	var b bytes.Buffer
	if err := query.Write(&b, format, ps, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSocketSocketMode(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := nodecache.Listen(sock, fmt.Sprint(os.Getgid()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want a socket with 0660", fi.Mode())
	}
	if _, err := nodecache.Listen(filepath.Join(t.TempDir(), "x"), "no-such-group-svcdisco"); err == nil {
		t.Error("an unknown group was accepted")
	}
	plain := filepath.Join(t.TempDir(), "file")
	os.WriteFile(plain, nil, 0o600)
	if _, err := nodecache.Listen(plain, ""); err == nil {
		t.Error("a regular file was replaced by the socket")
	}
}

// TestSameAnswers compares the agent's answers with the registry's on the
// same data: filters, maintenance, latest, every output format.
func TestSameAnswers(t *testing.T) {
	t.Run("zookeeper", func(t *testing.T) { sameAnswers(t, testzk.Shared(t).URL(""), false) })
	t.Run("consul", func(t *testing.T) { sameAnswers(t, testconsul.Shared(t).URL(), true) })
}

func sameAnswers(t *testing.T, url string, full bool) {
	root := testzk.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	writer := openURL(t, ctx, url, root)
	var regs []registry.Registration
	for i := 1; i <= 5; i++ {
		r, err := writer.Register(ctx, provider("web", i, map[string]string{"zone": fmt.Sprintf("z%d", i%2), "v": "1"}))
		if err != nil {
			t.Fatal(err)
		}
		regs = append(regs, r)
	}
	if err := regs[1].SetStatus(ctx, registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	direct := openURL(t, ctx, url, root)
	n := serveOn(t, ctx, openURL(t, ctx, url, root), time.Hour, full)
	agent := n.reader(t)
	z1, _ := query.ParseFilter("zone=z1")
	notV1, _ := query.ParseFilter("v!=1")
	cases := []query.Options{
		{Service: "web"},
		{Service: "web", FieldsOnly: true},
		{Service: "web", IncludeMaintenance: true},
		{Service: "web", Where: []query.Filter{z1}},
		{Service: "web", Where: []query.Filter{notV1}},
		{Service: "web", Latest: true, Where: []query.Filter{z1}},
		{Service: "web", WithinLast: time.Hour, FieldsOnly: true},
		{Service: "web", AtLeast: 9},
		{Service: "nobody"},
	}
	for _, o := range cases {
		for _, format := range []string{query.FormatJSON, query.FormatLines, query.FormatTable} {
			want := answer(t, ctx, direct, o, format)
			if got := answer(t, ctx, agent, o, format); got != want {
				t.Errorf("%+v -o %s:\nagent:\n%s\nregistry:\n%s", o, format, got, want)
			}
		}
	}
	// A maintenance flip reaches the agent through its watch.
	if err := regs[1].SetStatus(ctx, registry.StatusUp); err != nil {
		t.Fatal(err)
	}
	want := answer(t, ctx, direct, query.Options{Service: "web"}, query.FormatLines)
	testenv.WaitFor(t, "the agent to see the maintenance flip", time.Minute, func() bool {
		return answer(t, ctx, agent, query.Options{Service: "web"}, query.FormatLines) == want
	})
	if !agent.UsedAgent() {
		t.Error("the reader left the agent")
	}
	for _, bad := range []string{"bad name", "-x"} {
		if _, err := agent.Providers(ctx, bad, registry.ListOptions{}); err == nil || errors.Is(err, nodecache.ErrNoAgent) {
			t.Errorf("service %q: %v, want an invalid-name error", bad, err)
		}
	}
}

// TestAtLeastWait: `--at-least N --wait D` through the agent ends when the
// provider that makes N registers, woken by the agent's own watch: the
// client never opens the registry, and the agent lists only when its watch
// fires, not in a polling loop.
func TestAtLeastWait(t *testing.T) {
	zk := testzk.Shared(t)
	root := testzk.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	writer := open(t, ctx, zk.ConnString(), root)
	if _, err := writer.Register(ctx, provider("db", 1, nil)); err != nil {
		t.Fatal(err)
	}
	direct := open(t, ctx, zk.ConnString(), root)
	n := startNode(t, ctx, zk.ConnString(), root, time.Hour)
	agent := n.reader(t)
	o := query.Options{Service: "db", AtLeast: 2, Wait: time.Minute, FieldsOnly: true}
	answers := make([]string, 2)
	var wg sync.WaitGroup
	for i, reg := range []registry.Registry{agent, direct} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = answer(t, ctx, reg, o, query.FormatLines)
		}()
	}
	// The agent-side wait is under way once its long poll waits on the
	// agent's watch (the direct one may or may not have listed yet: either
	// way it must end with the same answer).
	status := nodecache.NewClient(n.socket)
	testenv.WaitFor(t, "the client's wait on the agent's watch", time.Minute, func() bool {
		st, err := status.Ping(ctx)
		return err == nil && st.Waiting == 1
	})
	n.proxy.ResetOps()
	if _, err := writer.Register(ctx, provider("db", 2, nil)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if answers[0] != answers[1] || answers[0] != "h1.example.com:8001\nh2.example.com:8002\n" {
		t.Errorf("agent %q, registry %q", answers[0], answers[1])
	}
	// One registration: a child watch firing (and a data watch, if the
	// registrant writes its data again), each a re-list and a re-arm. A
	// poll every few milliseconds over the wait would be far more.
	lists := n.proxy.Ops()[testzk.OpGetChildren2] + n.proxy.Ops()[testzk.OpGetChildren]
	t.Logf("the agent listed db %d times for one registration", lists)
	if lists > 8 {
		t.Errorf("the agent listed db %d times for one change: polling?", lists)
	}
}
