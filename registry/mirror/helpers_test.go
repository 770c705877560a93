package mirror

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Two standalone servers stand for the two ensembles (ensembles of three
// would triple the JVMs on a small machine; nothing here depends on
// quorum): A is the package's shared server, B one more.
var clusterB = struct {
	c   *testzk.Cluster
	err error
}{}

func TestMain(m *testing.M) {
	testzk.Main(m)
	if clusterB.c != nil {
		clusterB.c.Stop()
	}
}

func ensembles(t *testing.T) (a, b *testzk.Cluster) {
	t.Helper()
	a = testzk.Shared(t)
	if clusterB.c == nil && clusterB.err == nil {
		clusterB.c, clusterB.err = testzk.New(1)
	}
	if clusterB.err != nil {
		testzk.Missing(t, clusterB.err)
	}
	return a, clusterB.c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openZK opens a registry on servers under root; the caller closes it
// (or hands it to a mirror.Registry which does).
func openZK(ctx context.Context, servers, root string, timeout time.Duration, w io.Writer) (*zk.Registry, error) {
	if w == nil {
		w = io.Discard
	}
	return zk.Open(ctx, zk.Options{Servers: []string{servers}, Root: root, SessionTimeout: timeout,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))})
}

func mustOpen(t *testing.T, servers, root string, timeout time.Duration) *zk.Registry {
	t.Helper()
	r, err := openZK(ctxT(t), servers, root, timeout, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// opener opens a mirror on servers under root.
func opener(servers, root string, timeout time.Duration, w io.Writer) OpenFunc {
	return func(ctx context.Context) (registry.Registry, error) {
		return openZK(ctx, servers, root, timeout, w)
	}
}

// observer reads raw znodes on a cluster.
type observer struct {
	t    *testing.T
	r    *zk.Registry
	root string
}

func observe(t *testing.T, c *testzk.Cluster, root string) *observer {
	r := mustOpen(t, c.ConnString(), root, 10*time.Second)
	t.Cleanup(func() { r.Close() })
	return &observer{t: t, r: r, root: root}
}

func (o *observer) dir(svc string) string { return o.root + "/services/" + svc }

// children lists svc's znodes (instances and markers), nil when none.
func (o *observer) children(svc string) []string {
	o.t.Helper()
	names, _, err := o.r.Conn().Children(o.dir(svc))
	if err != nil && err != gozk.ErrNoNode {
		o.t.Fatal(err)
	}
	return names
}

// node returns a znode's data and stat, or nil stat when it is missing.
func (o *observer) node(svc, name string) ([]byte, *gozk.Stat) {
	o.t.Helper()
	data, st, err := o.r.Conn().Get(o.dir(svc) + "/" + name)
	if err == gozk.ErrNoNode {
		return nil, nil
	}
	if err != nil {
		o.t.Fatal(err)
	}
	return data, st
}

func (o *observer) has(svc, name string) bool {
	_, st := o.node(svc, name)
	return st != nil
}

func (o *observer) czxid(svc, name string) int64 {
	o.t.Helper()
	_, st := o.node(svc, name)
	if st == nil {
		o.t.Fatalf("znode %s/%s missing", o.dir(svc), name)
	}
	return st.Czxid
}

func (o *observer) status(svc, name string) string {
	o.t.Helper()
	data, st := o.node(svc, name)
	if st == nil {
		return ""
	}
	var p registry.Provider
	if err := json.Unmarshal(data, &p); err != nil {
		o.t.Fatal(err)
	}
	return p.Status
}

func (o *observer) waitFor(what string, cond func() bool) {
	o.t.Helper()
	testenv.WaitFor(o.t, what, 60*time.Second, cond)
}

func web(host string, port int) registry.Provider {
	return registry.Provider{Service: "web", Host: host, Port: port, Weight: 1, Attributes: map[string]string{"zone": "a"}}
}
