package registry

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Sort orders providers oldest first: by timestamp, then by name, then by
// ID, so rendered configs only change when the set of providers changes.
// Providers without a timestamp (registered natively in Consul) sort last.
// The sort is stable.
//
// A listing of 10,000 providers is sorted on every query, so Sort compares
// small keys and moves each Provider (a large struct) once, instead of
// swapping whole structs through reflection: an already sorted slice costs
// one pass.
func Sort(ps []Provider) {
	if sorted(ps) || sortPacked(ps) {
		return
	}
	keys := make([]sortKey, len(ps))
	for i := range ps {
		keys[i] = keyOf(&ps[i], i)
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if c := cmp.Compare(a.sec, b.sec); c != 0 {
			return c
		}
		if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
			return c
		}
		pa, pb := &ps[a.idx], &ps[b.idx]
		if c := strings.Compare(pa.Name, pb.Name); c != 0 {
			return c
		}
		if c := strings.Compare(pa.ID, pb.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
	perm := make([]int32, len(keys))
	for k, key := range keys {
		perm[k] = key.idx
	}
	permute(ps, perm)
}

// Packed keys: milliseconds since MinTimestamp in the high bits, the
// provider's index in the low ones, so the common case (millisecond
// timestamps since 2000, as svcdisco writes them) sorts as plain integers.
const (
	idxBits   = 20
	maxPacked = 1<<(64-idxBits) - 1 // also the key of a missing timestamp
)

// sortPacked sorts ps when every timestamp packs into a key; it reports
// false, leaving ps alone, when one does not.
func sortPacked(ps []Provider) bool {
	if len(ps) >= 1<<idxBits {
		return false
	}
	base := MinTimestamp.UnixMilli()
	keys := make([]uint64, len(ps))
	for i := range ps {
		ms := uint64(maxPacked)
		if ts := ps[i].Timestamp; !ts.IsZero() {
			d := ts.UnixMilli() - base
			if d < 0 || d >= maxPacked || ts.Nanosecond()%1e6 != 0 {
				return false
			}
			ms = uint64(d)
		}
		keys[i] = ms<<idxBits | uint64(i)
	}
	slices.Sort(keys)
	// Equal timestamps (rare: the same millisecond) are ordered by name,
	// then ID, then index.
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi]>>idxBits == keys[lo]>>idxBits {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(keys[lo:hi], func(a, b uint64) int {
				pa, pb := &ps[a&(1<<idxBits-1)], &ps[b&(1<<idxBits-1)]
				if c := strings.Compare(pa.Name, pb.Name); c != 0 {
					return c
				}
				if c := strings.Compare(pa.ID, pb.ID); c != 0 {
					return c
				}
				return cmp.Compare(a, b)
			})
		}
		lo = hi
	}
	perm := make([]int32, len(keys))
	for k, key := range keys {
		perm[k] = int32(key & (1<<idxBits - 1))
	}
	permute(ps, perm)
	return true
}

// sortKey is what Sort compares first: the timestamp as seconds and
// nanoseconds (a missing one as the largest), and the provider's index.
type sortKey struct {
	sec  int64
	nsec int32
	idx  int32
}

func keyOf(p *Provider, i int) sortKey {
	if p.Timestamp.IsZero() {
		return sortKey{sec: math.MaxInt64, idx: int32(i)}
	}
	return sortKey{sec: p.Timestamp.Unix(), nsec: int32(p.Timestamp.Nanosecond()), idx: int32(i)}
}

func less(a, b *Provider) bool {
	ka, kb := keyOf(a, 0), keyOf(b, 0)
	if ka.sec != kb.sec {
		return ka.sec < kb.sec
	}
	if ka.nsec != kb.nsec {
		return ka.nsec < kb.nsec
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.ID < b.ID
}

func sorted(ps []Provider) bool {
	for i := 1; i < len(ps); i++ {
		if less(&ps[i], &ps[i-1]) {
			return false
		}
	}
	return true
}

// permute puts ps[perm[k]] at position k, following each cycle once so
// every provider is moved once.
func permute(ps []Provider, perm []int32) {
	for k := range perm {
		if perm[k] == int32(k) {
			continue
		}
		tmp := ps[k]
		j := k
		for {
			src := int(perm[j])
			perm[j] = int32(j)
			if src == k {
				ps[j] = tmp
				break
			}
			ps[j] = ps[src]
			j = src
		}
	}
}
