package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/etcd"
)

// BenchmarkEtcdQuery measures `svcdisco query` on etcd (the library call
// behind it: one range read, keys only for fields-only, then decoding and
// sorting) beside its baseline, the raw clientv3 range read alone, on the
// same server in the same run. Providers are written straight into the
// layout svcdisco uses, without leases, so no keep-alives run during the
// measurement.
func BenchmarkEtcdQuery(b *testing.B) {
	c := testetcd.Start(b, 1)
	ctx := context.Background()
	r, err := etcd.Open(ctx, etcd.Options{Endpoints: c.Endpoints(), Root: "/bench", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	client := r.Client()
	for _, n := range []int{10, 1000, 10000} {
		service := fmt.Sprintf("bench%d", n)
		prefix := "/bench/services/" + service + "/"
		writeEtcdProviders(b, client, service, prefix, n)
		for _, fieldsOnly := range []bool{true, false} {
			mode := "full"
			rawOpts := []clientv3.OpOption{clientv3.WithPrefix()}
			if fieldsOnly {
				mode = "fields-only"
				rawOpts = append(rawOpts, clientv3.WithKeysOnly())
			}
			b.Run(fmt.Sprintf("providers=%d/%s/svcdisco", n, mode), func(b *testing.B) {
				for b.Loop() {
					ps, err := query.Run(ctx, r, query.Options{Service: service, FieldsOnly: fieldsOnly})
					if err != nil || len(ps) != n {
						b.Fatalf("%d providers, %v", len(ps), err)
					}
				}
			})
			b.Run(fmt.Sprintf("providers=%d/%s/raw-clientv3", n, mode), func(b *testing.B) {
				for b.Loop() {
					resp, err := client.Get(ctx, prefix, rawOpts...)
					if err != nil || len(resp.Kvs) != n {
						b.Fatalf("%d keys, %v", len(resp.Kvs), err)
					}
				}
			})
		}
	}
}

// writeEtcdProviders writes n providers of service as svcdisco would
// (same keys, same JSON), 128 puts per transaction.
func writeEtcdProviders(b *testing.B, client *clientv3.Client, service, prefix string, n int) {
	b.Helper()
	ts := time.Now().UTC().Truncate(time.Millisecond)
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := client.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := 0; i < n; i++ {
		p := registry.Provider{Service: service, Host: fmt.Sprintf("host%04d.example.com", i),
			Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), Port: 8080, Weight: 1, Status: registry.StatusUp,
			Attributes: map[string]string{"zone": fmt.Sprintf("zone-%d", i%3), "version": "1.4.2"},
			Timestamp:  ts.Add(time.Duration(i) * time.Millisecond)}
		p.ID = registry.DefaultID(service, p.Host, p.Port)
		data, err := json.Marshal(p)
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, clientv3.OpPut(prefix+etcd.InstanceName(p.Host, p.Port, p.Timestamp), string(data)))
		if len(ops) == 128 {
			flush()
		}
	}
	flush()
}
