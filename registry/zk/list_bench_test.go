package zk

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// BenchmarkFieldsOnlyListing is the CPU a fields-only listing of 10,000
// providers adds to its getChildren reply (no server involved): the entry
// rule on every name, the providers, and the sort query.Run applies.
func BenchmarkFieldsOnlyListing(b *testing.B) {
	// As in a getChildren reply: strings allocated in reply order, which is
	// not registration order.
	base := time.Now().Add(-time.Hour)
	order := rand.Perm(10000)
	names := make([]string, len(order))
	for i, o := range order {
		names[i] = InstanceName(fmt.Sprintf("web-%05d.us-east-1.example.com", o), 8080, base.Add(time.Duration(o)*time.Millisecond))
	}
	r := &Registry{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.ReportAllocs()
	for b.Loop() {
		in := append([]string(nil), names...) // go-zookeeper's reply
		instances, _ := splitNames(in)
		ps := r.fromNames("web", "/svcdisco/services/web", instances)
		registry.Sort(ps)
		if len(ps) != len(names) {
			b.Fatal(len(ps))
		}
	}
}
