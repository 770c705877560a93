package zk

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
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

// TestRadixSort: the same order as slices.Sort, for keys as a listing packs
// them (close timestamps, indexes in order, sorted on the timestamp bits),
// for random ones (sorted on every bit), and at the sizes
// around the small-slice cut-over.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 63, 64, 65, 1000, 10000} {
		for _, shape := range []string{"listing", "random", "sorted", "equal"} {
			keys := make([]uint64, n)
			for i := range keys {
				switch shape {
				case "listing":
					keys[i] = uint64(800_000_000_000+rng.IntN(3*86_400_000))<<idxBits | uint64(i)
				case "random":
					keys[i] = rng.Uint64()
				case "sorted":
					keys[i] = uint64(i) << 30
				case "equal":
					keys[i] = 42
				}
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			from := uint(0)
			if shape == "listing" {
				from = idxBits // in index order below idxBits, as fromNames has them
			}
			radixSort(keys, from)
			if !slices.Equal(keys, want) {
				t.Errorf("%d %s keys: radixSort differs from slices.Sort", n, shape)
			}
		}
	}
}

// BenchmarkSortKeys: radixSort beside slices.Sort on the keys of a
// 10,000-provider listing registered over three days.
func BenchmarkSortKeys(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]uint64, 10000)
	for i := range keys {
		keys[i] = uint64(800_000_000_000+rng.IntN(3*86_400_000))<<idxBits | uint64(i)
	}
	work := make([]uint64, len(keys))
	for _, s := range []struct {
		name string
		sort func([]uint64)
	}{{"radix", func(k []uint64) { radixSort(k, idxBits) }}, {"pdqsort", slices.Sort[[]uint64]}} {
		b.Run(s.name, func(b *testing.B) {
			for b.Loop() {
				copy(work, keys)
				s.sort(work)
			}
		})
	}
}
