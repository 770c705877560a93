package etcd

import (
	"context"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/registry"
)

// With etcd's auth on, the credentials from the environment are used, and
// a client without them is refused (an answer, not "unreachable").
func TestAuth(t *testing.T) {
	c := testetcd.Start(t, 1)
	admin, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := ctxT(t)
	for _, step := range []func() error{
		func() error { _, err := admin.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := admin.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := admin.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatalf("enable auth: %v", err)
		}
	}
	u, err := registry.ParseURL(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	openEnv := func(user string) (*Registry, error) {
		t.Setenv(EnvUserFile, "")
		t.Setenv(EnvUser, user)
		o, err := FromURL(u)
		if err != nil {
			t.Fatalf("FromURL: %v", err)
		}
		o.Logger = slog.New(slog.DiscardHandler)
		octx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return Open(octx, o)
	}
	if r, err := openEnv(""); err == nil {
		r.Close()
		t.Fatal("Open without credentials succeeded")
	} else if exitcode.Of(err) == exitcode.Unreachable {
		t.Errorf("refused client reported as unreachable: %v", err)
	}
	if r, err := openEnv("root:wrong"); err == nil {
		r.Close()
		t.Fatal("Open with a wrong password succeeded")
	}
	r, err := openEnv("root:rootpw")
	if err != nil {
		t.Fatalf("Open with credentials: %v", err)
	}
	defer r.Close()
	if _, err := r.Register(ctxT(t), provider("h1", 80)); err != nil {
		t.Fatal(err)
	}
	ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil || len(ps) != 1 {
		t.Fatalf("Providers: %+v, %v", ps, err)
	}
}
