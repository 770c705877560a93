// Package bench measures svcdisco against real servers, each figure beside a
// raw-client baseline measured in the same run (`make bench`).
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

// BenchmarkQueryZK compares `query` with a raw go-zookeeper client doing
// what Curator, Nerve and Synapse do: getChildren, then a get of every child
// (concurrently). "fields-only" is `query -o lines` (one getChildren);
// "attributes" is `query -o json` (getChildren + pipelined gets + parsing).
// Each sub-benchmark reports ns/op for svcdisco, baseline-ns/op for the raw
// client, and speedup = baseline / svcdisco.
func BenchmarkQueryZK(b *testing.B) {
	zkc := testzk.Shared(b)
	for _, n := range []int{10, 1000, 10000} {
		root := fmt.Sprintf("/bench%d", n)
		holder := populate(b, zkc.ConnString(), root, n)
		reg := openZK(b, zkc.ConnString(), root)
		conn := reg.Conn()
		dir := root + "/services/web"
		baseline := func() {
			names, _, err := conn.Children(dir)
			if err != nil || len(names) != n {
				b.Fatalf("baseline children: %d, %v", len(names), err)
			}
			var wg sync.WaitGroup
			for _, name := range names {
				wg.Go(func() {
					if _, _, err := conn.Get(dir + "/" + name); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		}
		for _, mode := range []struct {
			name       string
			fieldsOnly bool
		}{{"fields-only", true}, {"attributes", false}} {
			b.Run(fmt.Sprintf("providers=%d/%s", n, mode.name), func(b *testing.B) {
				ours := func() {
					ps, err := query.Run(context.Background(), reg, query.Options{Service: "web", FieldsOnly: mode.fieldsOnly})
					if err != nil || len(ps) != n {
						b.Fatalf("query: %d providers, %v", len(ps), err)
					}
				}
				compare(b, baseline, ours)
			})
		}
		reg.Close()
		holder.Close()
	}
}

// compare runs baseline and ours alternately b.N times and reports both.
func compare(b *testing.B, baseline, ours func()) {
	b.Helper()
	baseline() // warm both paths
	ours()
	var tBase, tOurs time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		baseline()
		t1 := time.Now()
		ours()
		tOurs += time.Since(t1)
		tBase += t1.Sub(t0)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(tOurs.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(tBase.Nanoseconds())/n, "baseline-ns/op")
	b.ReportMetric(float64(tBase)/float64(tOurs), "speedup")
}

func openZK(b *testing.B, servers, root string) *zk.Registry {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zk.Open(ctx, zk.Options{Servers: []string{servers}, Root: root, SessionTimeout: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// populate registers n realistic providers of "web" on one session held by
// the returned connection (raw creates, many in flight, for speed).
func populate(b *testing.B, servers, root string, n int) *gozk.Conn {
	b.Helper()
	conn, _, err := gozk.Connect([]string{servers}, 30*time.Second, gozk.WithLogInfo(false))
	if err != nil {
		b.Fatal(err)
	}
	acl := gozk.WorldACL(gozk.PermAll)
	for _, p := range []string{root, root + "/services", root + "/services/web"} {
		if _, err := conn.Create(p, nil, 0, acl); err != nil && err != gozk.ErrNodeExists {
			b.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p := registry.Provider{
				Service: "web", Host: fmt.Sprintf("web-%05d.us-east-1.example.com", i), Address: "10.0.0.5", Port: 8080,
				Attributes: map[string]string{"zone": "us-east-1a", "version": "1.4.2"}, Weight: 1, Status: registry.StatusUp,
				Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			}
			p.ID = registry.DefaultID(p.Service, p.Host, p.Port)
			data, _ := json.Marshal(p)
			name := zk.InstanceName(p.Host, p.Port, p.Timestamp)
			if _, err := conn.Create(root+"/services/web/"+name, data, gozk.FlagEphemeral, acl); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	return conn
}
