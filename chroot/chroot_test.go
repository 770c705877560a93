package chroot

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testzk"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

func connect(t *testing.T, c *testzk.Cluster) *zk.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zkreg.Open(ctx, zkreg.Options{Servers: []string{c.Servers[0].Addr()}, SessionTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r.Conn()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPrimeIsIdempotent(t *testing.T) {
	conn := connect(t, testzk.Shared(t))
	base := testzk.Root(t)
	chroot := base + "/prod/app"
	created, err := Prime(ctxT(t), conn, chroot, "/svcdisco", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{base, base + "/prod", chroot, chroot + "/svcdisco", chroot + "/svcdisco/services"}
	if !reflect.DeepEqual(created, want) {
		t.Fatalf("created %v, want %v", created, want)
	}
	again, err := Prime(ctxT(t), conn, chroot, "/svcdisco", nil)
	if err != nil || len(again) != 0 {
		t.Fatalf("second prime created %v, %v", again, err)
	}
	if ok, err := Check(ctxT(t), conn, chroot); !ok || err != nil {
		t.Fatalf("Check = %v, %v", ok, err)
	}
	if ok, err := Check(ctxT(t), conn, base+"/nope"); ok || err != nil {
		t.Fatalf("Check(missing) = %v, %v", ok, err)
	}
}

func TestPrimeWithACL(t *testing.T) {
	conn := connect(t, testzk.Shared(t))
	chroot := testzk.Root(t)
	acl, err := ParseACL([]string{"world:anyone:rwcd", "ip:127.0.0.1:cdrwa"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prime(ctxT(t), conn, chroot, "/svcdisco", acl); err != nil {
		t.Fatal(err)
	}
	got, _, err := conn.GetACL(chroot)
	if err != nil || len(got) != 2 || got[0].Perms != zk.PermAll&^zk.PermAdmin || got[1].ID != "127.0.0.1" {
		t.Fatalf("ACL %+v, %v", got, err)
	}
}

func TestParseACLRejects(t *testing.T) {
	for _, s := range []string{"world", "world:anyone", "world:anyone:x", ":anyone:r", "world::r"} {
		if _, err := ParseACL([]string{s}); err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("ParseACL(%q) = %v", s, err)
		}
	}
}

// build creates a tree with binary data, an empty node, a restricted ACL and
// an ephemeral znode.
func build(t *testing.T, conn *zk.Conn, base string) {
	t.Helper()
	open := zk.WorldACL(zk.PermAll)
	for _, n := range []struct {
		path string
		data []byte
		acl  []zk.ACL
	}{
		{base, []byte("root"), open},
		{base + "/svcdisco", nil, open},
		{base + "/svcdisco/services", []byte{}, open},
		{base + "/svcdisco/services/web", []byte{0, 1, 2, 0xff, '\n'}, open},
		{base + "/config", []byte(`{"a":"b"}`), []zk.ACL{{Perms: zk.PermRead | zk.PermWrite | zk.PermCreate | zk.PermDelete, Scheme: "world", ID: "anyone"}}},
	} {
		if _, err := conn.Create(n.path, n.data, 0, n.acl); err != nil {
			t.Fatalf("create %s: %v", n.path, err)
		}
	}
	if _, err := conn.Create(base+"/svcdisco/services/web/h1:80@1", []byte("{}"), zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
}

func TestExportImportRoundTripsBetweenEnsembles(t *testing.T) {
	a, b := testzk.Start(t, 1), testzk.Start(t, 1)
	ca, cb := connect(t, a), connect(t, b)
	build(t, ca, "/prod")

	d, err := Export(ctxT(t), ca, "/prod")
	if err != nil {
		t.Fatal(err)
	}
	if d.EphemeralsSkipped != 1 || len(d.Nodes) != 5 {
		t.Fatalf("dump: %d nodes, %d ephemerals skipped: %+v", len(d.Nodes), d.EphemeralsSkipped, d)
	}
	// Through JSON, as the CLI does.
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back Dump
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}

	dry, err := Import(ctxT(t), cb, "/prod", &back, ImportOptions{DryRun: true})
	if err != nil || len(dry.Created) != 5 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if ok, _, _ := cb.Exists("/prod"); ok {
		t.Fatal("dry run created /prod")
	}

	res, err := Import(ctxT(t), cb, "/prod", &back, ImportOptions{})
	if err != nil || len(res.Created) != 5 || len(res.Conflicts) != 0 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	d2, err := Export(ctxT(t), cb, "/prod")
	if err != nil {
		t.Fatal(err)
	}
	d2.EphemeralsSkipped = d.EphemeralsSkipped
	if !reflect.DeepEqual(normalize(d), normalize(d2)) {
		t.Fatalf("round trip differs:\n%+v\n%+v", d, d2)
	}

	// Again: nothing to do.
	res, err = Import(ctxT(t), cb, "/prod", &back, ImportOptions{})
	if err != nil || len(res.Created) != 0 || res.Unchanged != 5 {
		t.Fatalf("second import: %+v, %v", res, err)
	}
}

func TestImportConflictsAndOverwrite(t *testing.T) {
	conn := connect(t, testzk.Shared(t))
	base := testzk.Root(t)
	d := &Dump{Path: "/x", Nodes: []Node{{Path: "/", Data: []byte("new")}, {Path: "/child", Data: []byte("c")}}}
	if _, err := conn.Create(base, []byte("old"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	res, err := Import(ctxT(t), conn, base, d, ImportOptions{})
	if err != nil || len(res.Conflicts) != 1 || res.Conflicts[0].Path != base || len(res.Created) != 1 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	if data, _, _ := conn.Get(base); string(data) != "old" {
		t.Fatalf("data changed without --overwrite: %q", data)
	}
	res, err = Import(ctxT(t), conn, base, d, ImportOptions{Overwrite: true, DryRun: true})
	if err != nil || len(res.Updated) != 1 {
		t.Fatalf("dry overwrite: %+v, %v", res, err)
	}
	if data, _, _ := conn.Get(base); string(data) != "old" {
		t.Fatalf("dry run changed data: %q", data)
	}
	if _, err = Import(ctxT(t), conn, base, d, ImportOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if data, _, _ := conn.Get(base); string(data) != "new" {
		t.Fatalf("overwrite left %q", data)
	}
}

func TestExportMissingPath(t *testing.T) {
	conn := connect(t, testzk.Shared(t))
	if _, err := Export(ctxT(t), conn, testzk.Root(t)); err == nil || !strings.Contains(err.Error(), "no such znode") {
		t.Fatalf("Export(missing) = %v", err)
	}
}

// normalize makes nil and empty data compare equal: ZooKeeper does not
// tell them apart either.
func normalize(d *Dump) *Dump {
	c := *d
	c.Nodes = append([]Node(nil), d.Nodes...)
	for i := range c.Nodes {
		if len(c.Nodes[i].Data) == 0 {
			c.Nodes[i].Data = nil
		}
	}
	return &c
}

func TestExportRootSkipsZooKeeperSystemTree(t *testing.T) {
	conn := connect(t, testzk.Shared(t))
	d, err := Export(ctxT(t), conn, "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Nodes) == 0 || d.Nodes[0].Path != "/" {
		t.Fatalf("export of / starts with %+v", d.Nodes[:min(1, len(d.Nodes))])
	}
	for _, n := range d.Nodes {
		if n.Path == "/zookeeper" || strings.HasPrefix(n.Path, "/zookeeper/") {
			t.Fatalf("exported ZooKeeper's own %s", n.Path)
		}
	}
}
