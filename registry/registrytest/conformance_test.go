package registrytest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/consul"
	"github.com/svcdisco/svcdisco/registry/etcd"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

func TestMain(m *testing.M) {
	Main(m, func() {
		testzk.StopShared()
		testconsul.StopShared()
		testetcd.StopShared()
	})
}

func openCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 20*time.Second)
}

func TestZooKeeper(t *testing.T) {
	c := testzk.Shared(t)
	servers := strings.Split(c.ConnString(), ",")
	open := func(t *testing.T, root string, ttl time.Duration, log *slog.Logger) registry.Registry {
		t.Helper()
		ctx, cancel := openCtx()
		defer cancel()
		r, err := zkreg.Open(ctx, zkreg.Options{Servers: servers, Root: root, SessionTimeout: ttl, Logger: log})
		if err != nil {
			t.Fatalf("zk.Open: %v", err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	Run(t, Backend{
		Name:           "zk",
		URL:            c.URL(""),
		UnreachableURL: fmt.Sprintf("zk://127.0.0.1:%d", testzk.FreePort()),
		Open:           open,
		Proxy: func(t *testing.T) (string, func(), func()) {
			p := testzk.NewProxy(t, servers[0])
			return "zk://" + p.Addr(), p.Partition, p.Heal
		},
		LockTTL:    3 * time.Second,
		Ensemble:   zkEnsemble,
		LockRounds: 9,
		InjectBad: func(t *testing.T, root, service string) string {
			r := open(t, root, 10*time.Second, slog.New(slog.DiscardHandler)).(*zkreg.Registry)
			// Not a provider by the entry rule (no @millis): skipped by every listing.
			path := r.Base() + "/services/" + service + "/bad:81"
			if _, err := r.Conn().Create(path, []byte("{not json"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("create %s: %v", path, err)
			}
			return path
		},
	})
}

// zkEnsemble starts a 3-server ensemble for t.
func zkEnsemble(t *testing.T) Ensemble {
	c := testzk.Start(t, 3)
	restart := func(t *testing.T, idx ...int) func() {
		return func() {
			for _, i := range idx {
				if err := c.Servers[i].Start(); err != nil {
					t.Fatalf("restart server %d: %v", i+1, err)
				}
			}
			if err := c.WaitServing(60 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	return Ensemble{
		URL: c.URL(""),
		KillLeader: func(t *testing.T) func() {
			l := c.Leader()
			if l < 0 {
				t.Fatal("no leader")
			}
			c.Servers[l].Kill()
			return restart(t, l)
		},
		LoseQuorum: func(t *testing.T) func() {
			l := c.Leader()
			a, b := (l+1)%3, (l+2)%3 // keep the leader, kill both followers
			c.Servers[a].Kill()
			c.Servers[b].Kill()
			return restart(t, a, b)
		},
	}
}

var badSeq atomic.Int64

func TestConsul(t *testing.T) {
	a := testconsul.Shared(t)
	open := func(t *testing.T, root string, ttl time.Duration, log *slog.Logger) registry.Registry {
		t.Helper()
		ctx, cancel := openCtx()
		defer cancel()
		r, err := consul.Open(ctx, consul.Options{Address: a.Addr(), Root: root, TTL: ttl, Logger: log})
		if err != nil {
			t.Fatalf("consul.Open: %v", err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	Run(t, Backend{
		Name:           "consul",
		URL:            a.URL(),
		UnreachableURL: fmt.Sprintf("consul://127.0.0.1:%d", testzk.FreePort()),
		Open:           open,
		LockTTL:        10 * time.Second, // Consul's minimum session TTL
		LockRounds:     3,
		Proxy: func(t *testing.T) (string, func(), func()) {
			p := testzk.NewProxy(t, a.Addr()) // a plain TCP proxy: HTTP passes through
			return "consul://" + p.Addr(), p.Partition, p.Heal
		},
		InjectBad: func(t *testing.T, root, service string) string {
			r := open(t, root, 10*time.Second, slog.New(slog.DiscardHandler)).(*consul.Registry)
			id := fmt.Sprintf("%s-bad-%d", service, badSeq.Add(1))
			err := r.Client().Agent().ServiceRegister(&api.AgentServiceRegistration{
				ID: id, Name: service, Address: "bad", Port: 81,
				Meta: map[string]string{consul.MetaTimestamp: "yesterday", consul.MetaRoot: root},
			})
			if err != nil {
				t.Fatalf("register %s: %v", id, err)
			}
			t.Cleanup(func() { _ = r.Client().Agent().ServiceDeregister(id) })
			return id
		},
	})
}

func TestEtcd(t *testing.T) {
	c := testetcd.Shared(t)
	open := func(t *testing.T, root string, ttl time.Duration, log *slog.Logger) registry.Registry {
		t.Helper()
		ctx, cancel := openCtx()
		defer cancel()
		r, err := etcd.Open(ctx, etcd.Options{Endpoints: c.Endpoints(), Root: root, TTL: ttl, Logger: log})
		if err != nil {
			t.Fatalf("etcd.Open: %v", err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	Run(t, Backend{
		Name:           "etcd",
		URL:            c.URL(),
		UnreachableURL: fmt.Sprintf("etcd://127.0.0.1:%d", testzk.FreePort()),
		Open:           open,
		Proxy: func(t *testing.T) (string, func(), func()) {
			p := testzk.NewProxy(t, c.Endpoints()[0]) // a plain TCP proxy: gRPC passes through
			return "etcd://" + p.Addr(), p.Partition, p.Heal
		},
		LockTTL:    3 * time.Second,
		LockRounds: 6,
		Ensemble:   etcdCluster,
		InjectBad: func(t *testing.T, root, service string) string {
			r := open(t, root, 10*time.Second, slog.New(slog.DiscardHandler)).(*etcd.Registry)
			// Not a provider by the entry rule (no @millis): skipped by every listing.
			key := root + "/services/" + service + "/bad:81"
			if _, err := r.Client().Put(context.Background(), key, "{not json"); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
			t.Cleanup(func() { _, _ = r.Client().Delete(context.Background(), key) })
			return key
		},
	})
}

// etcdCluster starts a 3-member etcd cluster for t.
func etcdCluster(t *testing.T) Ensemble {
	c := testetcd.Start(t, 3)
	restart := func(t *testing.T, idx ...int) func() {
		return func() {
			for _, i := range idx {
				if err := c.Restart(i); err != nil {
					t.Fatalf("restart member %d: %v", i, err)
				}
			}
			if err := c.WaitReady(60 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	return Ensemble{
		URL: c.URL(),
		KillLeader: func(t *testing.T) func() {
			l := c.Leader()
			if l < 0 {
				t.Fatal("no leader")
			}
			c.Kill(l)
			return restart(t, l)
		},
		LoseQuorum: func(t *testing.T) func() {
			l := c.Leader()
			a, b := (l+1)%3, (l+2)%3 // keep the leader, kill both followers
			c.Kill(a)
			c.Kill(b)
			return restart(t, a, b)
		},
	}
}
