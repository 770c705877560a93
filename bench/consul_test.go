package bench

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/consul"
)

// BenchmarkConsulQuery measures `svcdisco query` on Consul (the library
// call behind it: one passing-only health query, decoding, sorting) beside
// its baseline, the raw API client's health query alone, on the same agent
// in the same run. Providers are written straight into the agent's catalog
// in svcdisco's layout without TTL checks, so no heartbeats run during the
// measurement.
func BenchmarkConsulQuery(b *testing.B) {
	a := testconsul.Start(b, testconsul.Options{})
	ctx := context.Background()
	r, err := consul.Open(ctx, consul.Options{Address: a.Addr(), Root: "/bench", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	client := r.Client()
	for _, n := range []int{10, 1000} {
		service := fmt.Sprintf("bench%d", n)
		writeConsulProviders(b, client, service, n)
		b.Run(fmt.Sprintf("providers=%d/svcdisco", n), func(b *testing.B) {
			for b.Loop() {
				ps, err := query.Run(ctx, r, query.Options{Service: service})
				if err != nil || len(ps) != n {
					b.Fatalf("%d providers, %v", len(ps), err)
				}
			}
		})
		b.Run(fmt.Sprintf("providers=%d/raw-client", n), func(b *testing.B) {
			for b.Loop() {
				entries, _, err := client.Health().Service(service, "", true, nil)
				if err != nil || len(entries) != n {
					b.Fatalf("%d entries, %v", len(entries), err)
				}
			}
		})
	}
}

// writeConsulProviders registers n instances of service as svcdisco would (same
// Meta keys), then waits until the catalog lists them all.
func writeConsulProviders(b *testing.B, client *api.Client, service string, n int) {
	b.Helper()
	ts := time.Now().UTC()
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("host%04d.example.com", i)
		err := client.Agent().ServiceRegister(&api.AgentServiceRegistration{
			ID: fmt.Sprintf("%s-%s-8080", service, host), Name: service, Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
			Port: 8080, Weights: &api.AgentWeights{Passing: 1, Warning: 1},
			Meta: map[string]string{
				consul.MetaTimestamp: ts.Add(time.Duration(i) * time.Millisecond).Format(registry.TimeFormat),
				consul.MetaHost:      host, consul.MetaWeight: "1", consul.MetaRoot: "/bench",
				"zone": "zone-" + strconv.Itoa(i%3), "version": "1.4.2",
			},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	testenv.WaitFor(b, fmt.Sprintf("the catalog to list %d %s providers", n, service), time.Minute, func() bool {
		entries, _, err := client.Health().Service(service, "", true, nil)
		return err == nil && len(entries) == n
	})
}
