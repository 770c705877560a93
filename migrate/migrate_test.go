package migrate

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/mirror"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Two standalone servers stand for ensembles A and B (three-node
// ensembles would triple the JVMs on a small machine; copying and
// comparing do not depend on quorum).
var clusterB *testzk.Cluster

func TestMain(m *testing.M) {
	testzk.Main(m)
	if clusterB != nil {
		clusterB.Stop()
	}
}

func ensembles(t *testing.T) (a, b *testzk.Cluster) {
	t.Helper()
	a = testzk.Shared(t)
	if clusterB == nil {
		c, err := testzk.New(1)
		if err != nil {
			testzk.Missing(t, err)
		}
		clusterB = c
	}
	return a, clusterB
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, c *testzk.Cluster, chroot, root string) *zk.Registry {
	t.Helper()
	r, err := zk.Open(ctxT(t), zk.Options{Servers: []string{c.ConnString()}, Chroot: chroot, Root: root,
		SessionTimeout: 10 * time.Second, CreateChroot: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func web(host string) registry.Provider {
	return registry.Provider{Service: "web", Host: host, Port: 80, Weight: 1}
}

// TestCopyPersistentTree: the persistent tree (with ACLs when asked)
// arrives under another chroot; ephemerals and sequence counters are
// reported, not copied; a dry run writes nothing; a second copy finds
// everything there.
func TestCopyPersistentTree(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	ra := open(t, a, "", root)
	if _, err := ra.Register(ctxT(t), web("h1")); err != nil {
		t.Fatal(err)
	}
	if _, err := ra.Campaign(ctxT(t), "sched", web("h1")); err != nil {
		t.Fatal(err)
	}
	conn := ra.Conn()
	readOnly := gozk.WorldACL(gozk.PermRead | gozk.PermAdmin)
	if _, err := conn.Create(root+"/config", []byte("v=1"), 0, readOnly); err != nil {
		t.Fatal(err)
	}
	rb := open(t, b, "", "/unused")
	in := CopyInput{From: conn, To: rb.Conn(), FromPath: root, ToPath: "/moved" + root, DryRun: true}
	res, err := Copy(ctxT(t), in)
	if err != nil {
		t.Fatal(err)
	}
	// Only this run's destination: /moved itself is shared by every run of
	// the test against the same server (go test -count).
	if ok, _, _ := rb.Conn().Exists("/moved" + root); ok || len(res.Created) == 0 {
		t.Fatalf("dry run: created %v, /moved%s exists %v", res.Created, root, ok)
	}
	in.DryRun, in.ACL = false, true
	if res, err = Copy(ctxT(t), in); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/moved" + root + "/services/web", "/moved" + root + "/elections/sched", "/moved" + root + "/config"} {
		if ok, _, err := rb.Conn().Exists(p); !ok || err != nil {
			t.Fatalf("%s not copied (%v)", p, err)
		}
	}
	data, _, _ := rb.Conn().Get("/moved" + root + "/config")
	acl, _, _ := rb.Conn().GetACL("/moved" + root + "/config")
	if string(data) != "v=1" || len(acl) != 1 || acl[0].Perms != readOnly[0].Perms {
		t.Fatalf("config copied as %q with ACL %+v, want v=1 with %+v", data, acl, readOnly)
	}
	if len(res.Ephemerals) != 2 { // the provider and the candidacy
		t.Fatalf("ephemerals skipped: %v, want the provider and the candidacy", res.Ephemerals)
	}
	if len(res.SequenceCounters) != 1 || res.SequenceCounters[0].Path != root+"/elections/sched" {
		t.Fatalf("sequence counters reported: %+v, want %s/elections/sched", res.SequenceCounters, root)
	}
	names, _, _ := rb.Conn().Children("/moved" + root + "/services/web")
	if len(names) != 0 {
		t.Fatalf("ephemerals copied: %v", names)
	}
	again, err := Copy(ctxT(t), in)
	if err != nil || len(again.Created) != 0 || len(again.Conflicts) != 0 {
		t.Fatalf("second copy: created %v, conflicts %v, %v", again.Created, again.Conflicts, err)
	}
}

// TestVerify: providers mirrored to B agree; a provider on A alone, a
// status that differs and an election whose leader is on one side only
// are reported; an election whose leader znode is replicated under the
// same name agrees.
func TestVerify(t *testing.T) {
	a, b := ensembles(t)
	root := testzk.Root(t)
	ra, rb := open(t, a, "", root), open(t, b, "", root)
	w := mirror.New(open(t, a, "", root), mirror.Options{Logger: slog.New(slog.DiscardHandler)})
	defer w.Close()
	w.SetMirror("B", func(ctx context.Context) (registry.Registry, error) {
		return zk.Open(ctx, zk.Options{Servers: []string{b.ConnString()}, Root: root, Logger: slog.New(slog.DiscardHandler)})
	})
	for _, h := range []string{"h1", "h2"} {
		if _, err := w.Register(ctxT(t), web(h)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Verify(ctxT(t), VerifyInput{From: ra, To: rb, Wait: 20 * time.Second, Every: 50 * time.Millisecond})
	if err != nil || !res.Agree || res.Providers != 2 {
		t.Fatalf("mirrored fleet: %+v, %v; want agreement on 2 providers", res, err)
	}

	alone, err := ra.Register(ctxT(t), web("h3"))
	if err != nil {
		t.Fatal(err)
	}
	res, err = Verify(ctxT(t), VerifyInput{From: ra, To: rb})
	if err != nil || res.Agree || len(res.Differences) != 1 || res.Differences[0].Reason != "missing on --to" {
		t.Fatalf("provider on A alone: %+v, %v", res, err)
	}
	if err := alone.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// A copy made by hand (no registrant keeping it in step), whose
	// status is then set on B alone.
	onA, err := ra.Register(ctxT(t), web("h4"))
	if err != nil {
		t.Fatal(err)
	}
	onB, err := rb.RegisterPinned(ctxT(t), onA.Provider())
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.SetStatus(ctxT(t), onB.Provider(), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	res, err = Verify(ctxT(t), VerifyInput{From: ra, To: rb})
	if err != nil || len(res.Differences) != 1 || res.Differences[0].Reason != "status differs" {
		t.Fatalf("status set on B alone: %+v, %v", res, err)
	}
	for _, r := range []registry.Registration{onA, onB} {
		if err := r.Deregister(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := ra.Campaign(ctxT(t), "sched", web("h1")); err != nil {
		t.Fatal(err)
	}
	var lead string
	testenv.WaitFor(t, "the leader on A alone to be reported", 30*time.Second, func() bool {
		res, err = Verify(ctxT(t), VerifyInput{From: ra, To: rb})
		if err != nil || len(res.Differences) != 1 {
			return false
		}
		d := res.Differences[0]
		lead = d.From
		return d.Kind == "election" && d.To == "no leader" && strings.Contains(d.From, "json.info_")
	})
	// Replicate the leader's znode to B as --mirror does for elections:
	// ephemeral, not sequential, same name and data.
	dir := root + "/elections/sched"
	names, _, err := ra.Conn().Children(dir)
	if err != nil || len(names) != 1 {
		t.Fatalf("election members on A: %v, %v", names, err)
	}
	data, _, err := ra.Conn().Get(dir + "/" + names[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{root + "/elections", dir} {
		if _, err := rb.Conn().Create(p, nil, 0, gozk.WorldACL(gozk.PermAll)); err != nil && err != gozk.ErrNodeExists {
			t.Fatal(err)
		}
	}
	if _, err := rb.Conn().Create(dir+"/"+names[0], data, gozk.FlagEphemeral, gozk.WorldACL(gozk.PermAll)); err != nil {
		t.Fatal(err)
	}
	res, err = Verify(ctxT(t), VerifyInput{From: ra, To: rb})
	if err != nil || !res.Agree || res.Elections != 1 {
		t.Fatalf("replicated leader (%s): %+v, %v; want agreement", lead, res, err)
	}
}
