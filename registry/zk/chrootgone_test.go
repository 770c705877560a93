package zk

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// deleteTree removes p and everything under it.
func deleteTree(t *testing.T, c *zk.Conn, p string) {
	t.Helper()
	kids, _, err := c.Children(p)
	if err == zk.ErrNoNode {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kids {
		deleteTree(t, c, p+"/"+k)
	}
	if err := c.Delete(p, -1); err != nil && err != zk.ErrNoNode {
		t.Fatal(err)
	}
}

// TestRunningRegistrantNeverRecreatesChroot wipes the chroot while a
// registrant's session is expired: on its new session it must report the
// missing chroot and keep retrying, not re-create it, and re-register once
// the chroot is back.
func TestRunningRegistrantNeverRecreatesChroot(t *testing.T) {
	for _, create := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "chroot-create"}[create], func(t *testing.T) {
			zkc := testzk.Shared(t)
			base := testzk.Root(t)
			admin := open(t, zkc.ConnString(), "/unused", 10*time.Second, nil).Conn()
			if _, err := admin.Create(base, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
			logs := &testenv.Buffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r, err := Open(ctx, Options{Servers: []string{proxy.Addr()}, Chroot: base, Root: "/svcdisco",
				SessionTimeout: time.Second, CreateChroot: create,
				Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs), nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			if _, err := r.Register(ctxT(t), web("h1", 80)); err != nil {
				t.Fatal(err)
			}
			proxy.Partition()
			testenv.WaitFor(t, "the session to expire", 10*time.Second, func() bool {
				kids, _, err := admin.Children(base + "/svcdisco/services/web")
				return err == nil && len(kids) == 0
			})
			deleteTree(t, admin, base)
			proxy.Heal()
			if create {
				testenv.WaitFor(t, "re-registration with --chroot-create", 20*time.Second, func() bool {
					kids, _, err := admin.Children(base + "/svcdisco/services/web")
					return err == nil && len(kids) == 1
				})
				return
			}
			testenv.WaitFor(t, "the missing chroot reported twice (retrying)", 20*time.Second, func() bool {
				return strings.Count(logs.String(), "the chroot has disappeared") >= 2
			})
			if ok, _, err := admin.Exists(base); err != nil || ok {
				t.Fatalf("chroot %s re-created by a running registrant (exists=%v, %v)", base, ok, err)
			}
			if _, err := admin.Create(base, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "re-registration once the chroot is back", 20*time.Second, func() bool {
				kids, _, err := admin.Children(base + "/svcdisco/services/web")
				return err == nil && len(kids) == 1
			})
		})
	}
}
