package foreign

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

func openZK(t testing.TB, chroot string) *zk.Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zk.Open(ctx, zk.Options{Servers: strings.Split(testzk.Shared(t).ConnString(), ","), Chroot: chroot,
		Root: "/svcdisco", CreateChroot: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestWatchSignalsForeignChanges: a watch on a foreign path (under the
// registry URL's chroot) signals an entry created after Watch returned,
// and also a change of an entry's data; the listing then has it.
func TestWatchSignalsForeignChanges(t *testing.T) {
	chroot := testzk.Root(t)
	z := openZK(t, chroot)
	reg, err := Wrap(z, Source{Format: FormatNerve, Path: "/nerve/{service}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := reg.Watch(ctxT(t), "web")
	if err != nil {
		t.Fatal(err)
	}
	conn := z.Conn()
	for _, p := range []string{chroot + "/nerve", chroot + "/nerve/web"} {
		if _, err := conn.Create(p, nil, 0, gozk.WorldACL(gozk.PermAll)); err != nil && err != gozk.ErrNodeExists {
			t.Fatal(err)
		}
	}
	node, err := conn.Create(chroot+"/nerve/web/i-1_", []byte(`{"host":"h1","port":80,"name":"i-1"}`),
		gozk.FlagEphemeral|gozk.FlagSequence, gozk.WorldACL(gozk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	listed := func(want string) {
		t.Helper()
		for {
			select {
			case <-changes:
			case <-time.After(time.Minute):
				t.Fatalf("no signal for %s", want)
			}
			ps, err := reg.Providers(ctxT(t), "web", registry.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) == 1 && ps[0].Addr() == want {
				return
			}
		}
	}
	listed("h1:80")
	if _, err := conn.Set(node, []byte(`{"host":"h2","port":81,"name":"i-1"}`), -1); err != nil {
		t.Fatal(err)
	}
	listed("h2:81")
}

// TestWrapNeedsZooKeeper: svcdisco's own entries at their own place are
// the registry itself; any other source on a registry without ZooKeeper
// is a usage error.
func TestWrapNeedsZooKeeper(t *testing.T) {
	var other registry.Registry = struct{ registry.Registry }{}
	if r, err := Wrap(other, Source{}, nil); err != nil || r != other {
		t.Errorf("own source: %v %v, want the registry itself", r, err)
	}
	for _, s := range []Source{{Format: FormatCurator}, {Format: FormatSvcdisco, Path: "/x"}} {
		if _, err := Wrap(other, s, nil); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%v on a registry without ZooKeeper: %v, want a usage error", s, err)
		}
	}
}
