package zk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// Providers lists a service by the entry rule (registry.CheckKey): a child
// is a provider when its name is host:port@millis with a valid host, port
// and registration time, and the name wins over the data for those three.
// Any other child is skipped with one warning naming the znode, in every
// listing, so fields-only and full listings list the same providers.
// FieldsOnly costs one getChildren; otherwise the provider data is read
// with pipelined gets.
func (r *Registry) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, err
	}
	dir := r.servicePath(service)
	l, err := r.list(ctx, service)
	if err != nil {
		return nil, r.wrap("list "+service, err)
	}
	if l.missing {
		return nil, nil
	}
	ps := r.fromNames(service, dir, l.names)
	if len(l.maint) > 0 {
		for i := range ps {
			if l.maint[ps[i].Name] {
				ps[i].Status = registry.StatusMaintenance
			}
		}
	}
	if !opts.FieldsOnly {
		if ps, err = r.fetch(ctx, service, dir, ps); err != nil {
			return nil, err
		}
	}
	if opts.IncludeMaintenance {
		return ps, nil
	}
	// Full listings go by the data (the truth), fields-only ones by the
	// markers; see maintenance.go.
	return dropMaintenance(ps), nil
}

// dropMaintenance removes providers in maintenance, moving providers only
// when one is there (a Provider is a large struct).
func dropMaintenance(ps []registry.Provider) []registry.Provider {
	first := 0
	for first < len(ps) && ps[first].Status != registry.StatusMaintenance {
		first++
	}
	if first == len(ps) {
		return ps
	}
	up := ps[:first]
	for i := first + 1; i < len(ps); i++ {
		if ps[i].Status != registry.StatusMaintenance {
			up = append(up, ps[i])
		}
	}
	return up
}

// fromNames applies the entry rule to every name and returns the
// fields-only providers of those that pass, already in registry.Sort's
// order (so query.Run's sort is one pass). This is the whole cost of a
// fields-only query beyond its getChildren, so: names are parsed, checked
// and their IDs written (into one buffer) in reply order, which reads the
// reply's strings front to back; only small keys are sorted; and each
// Provider (a large struct) is then written once, in place, in sorted order
// without reading a name's bytes again.
func (r *Registry) fromNames(service, dir string, names []string) []registry.Provider {
	now := time.Now()
	minMs, maxMs := registry.MinTimestamp.UnixMilli(), now.Add(registry.MaxClockSkew).UnixMilli()
	keys := make([]uint64, 0, len(names))
	parsed := make([]parsedName, len(names))
	size := 0
	for _, name := range names {
		size += len(service) + 2 + len(name)
	}
	var ids strings.Builder
	ids.Grow(size)
	var num [8]byte
	for i, name := range names {
		key, err := sortKey(name, i, minMs, maxMs)
		if err == nil {
			parsed[i].hostEnd, parsed[i].port, err = splitName(name)
		}
		if err != nil {
			r.log.Warn("skipping znode that is not a provider", "znode", dir+"/"+name, "err", err)
			continue
		}
		keys = append(keys, key)
		parsed[i].idStart = int32(ids.Len())
		ids.WriteString(service)
		ids.WriteByte('-')
		ids.WriteString(name[:parsed[i].hostEnd])
		ids.WriteByte('-')
		ids.Write(strconv.AppendInt(num[:0], int64(parsed[i].port), 10))
		parsed[i].idEnd = int32(ids.Len())
	}
	sortKeys(keys, names)
	allIDs := ids.String()
	out := make([]registry.Provider, len(keys))
	for k, key := range keys {
		i := key & idxMask
		name, pn := names[i], &parsed[i]
		p := &out[k]
		p.Service, p.ID, p.Host, p.Port = service, allIDs[pn.idStart:pn.idEnd], name[:pn.hostEnd], int(pn.port)
		p.Weight, p.Status, p.FieldsOnly = registry.DefaultWeight, registry.StatusUp, true
		p.Timestamp, p.Name = time.UnixMilli(minMs+int64(key>>idxBits)).UTC(), name
	}
	return out
}

// parsedName is what fromNames keeps of a name between its two passes.
type parsedName struct {
	hostEnd, port, idStart, idEnd int32
}

// idxBits low bits of a sort key hold the name's index, the rest its
// registration time in milliseconds since registry.MinTimestamp.
const (
	idxBits = 20 // a getChildren reply (1 MB) holds far fewer names
	idxMask = 1<<idxBits - 1
)

// sortKey packs a name's timestamp and index i into one integer, rejecting
// a name whose timestamp the entry rule would reject (outside
// [minMs, maxMs]; see registry.CheckTimestamp).
func sortKey(name string, i int, minMs, maxMs int64) (uint64, error) {
	if i > idxMask {
		return 0, fmt.Errorf("more than %d children", idxMask)
	}
	at := strings.LastIndexByte(name, '@')
	if at < 0 {
		return 0, fmt.Errorf("znode name %q is not host:port@millis", name)
	}
	ms, ok := positiveInt(name[at+1:])
	if !ok {
		return 0, fmt.Errorf("znode name %q: bad timestamp", name)
	}
	if ms < minMs || ms > maxMs {
		return 0, fmt.Errorf("znode name %q: registration time %dms out of range", name, ms)
	}
	return uint64(ms-minMs)<<idxBits | uint64(i), nil
}

// sortKeys sorts packed keys by timestamp, then by name (names are unique
// within a service).
func sortKeys(keys []uint64, names []string) {
	radixSort(keys, idxBits) // keys were appended by index
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi]>>idxBits == keys[lo]>>idxBits {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(keys[lo:hi], func(a, b uint64) int {
				return strings.Compare(names[a&idxMask], names[b&idxMask])
			})
		}
		lo = hi
	}
}

// radixSort sorts keys in place by their bits from bit `from` up: least
// significant byte first, one stable counting pass per byte, skipping every
// byte all keys share (the high bytes of timestamps registered within days
// of each other). Keys must already be in order of their bits below from:
// fromNames appends them by index, so sorting on the timestamp bits alone
// gives the order of the whole keys in four passes or fewer. pdqsort's
// comparisons were a fifth of a fields-only listing's CPU; this takes half
// their time (BenchmarkSortKeys).
func radixSort(keys []uint64, from uint) {
	if len(keys) < 64 {
		slices.Sort(keys)
		return
	}
	and, or := ^uint64(0), uint64(0)
	for _, k := range keys {
		and &= k
		or |= k
	}
	varying := (and ^ or) >> from << from
	src, dst := keys, make([]uint64, len(keys))
	for shift := from; shift < 64; shift += 8 {
		if varying>>shift&0xff == 0 {
			continue
		}
		var count [256]int
		for _, k := range src {
			count[k>>shift&0xff]++
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, k := range src {
			d := k >> shift & 0xff
			dst[count[d]] = k
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// fetchWorkers bounds the gets in flight. A few hundred keep the pipeline
// to the server full; a goroutine per provider would cost a stack each
// (about 80 MB at 10,000 providers) for no speed.
const fetchWorkers = 256

// fetch completes every provider with its data, one get per znode, many in
// flight at once: go-zookeeper pipelines requests from concurrent
// goroutines on its one connection, so the whole listing costs about one
// round trip plus the server's time. A provider whose znode vanished
// meanwhile is dropped. ctx bounds the listing as a whole (a per-get
// wrapper would cost a goroutine and a channel per provider).
func (r *Registry) fetch(ctx context.Context, service, dir string, keys []registry.Provider) ([]registry.Provider, error) {
	gone := make([]bool, len(keys))
	_, err := zkcall.Do1(ctx, func() (struct{}, error) {
		var next atomic.Int64
		errs := make([]error, min(fetchWorkers, len(keys)))
		var wg sync.WaitGroup
		for w := range errs {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(keys); i = int(next.Add(1) - 1) {
					ok, err := r.complete(dir, &keys[i])
					if err != nil {
						errs[w] = err
						return
					}
					gone[i] = !ok
				}
			})
		}
		wg.Wait()
		return struct{}{}, errors.Join(errs...)
	})
	if err != nil {
		return nil, r.wrap("list "+service, err)
	}
	out := keys[:0]
	for i := range keys {
		if !gone[i] {
			out = append(out, keys[i])
		}
	}
	return out, nil
}

// complete reads one provider's data into p (fields-only on entry). ok is
// false when the znode vanished meanwhile.
func (r *Registry) complete(dir string, p *registry.Provider) (bool, error) {
	znode := dir + "/" + p.Name
	data, _, err := r.conn.Get(znode)
	if errors.Is(err, zk.ErrNoNode) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	*p = r.merge(znode, *p, data)
	return true, nil
}

// merge is the entry rule's data half: the data adds what the name does not
// say; unreadable data is ignored with one warning (the provider stays as
// its name describes it, with the defaults and the marker's status).
func (r *Registry) merge(znode string, key registry.Provider, data []byte) registry.Provider {
	d, err := registry.DecodeData(data)
	if err != nil {
		r.log.Warn("ignoring unreadable provider data: listed as its znode name says, with defaults", "znode", znode, "err", err)
		key.FieldsOnly = false
		return key
	}
	p, conflicts := registry.Merge(key, d)
	if len(conflicts) > 0 {
		r.log.Warn("provider data disagrees with its znode name: the name wins", "znode", znode, "fields", conflicts)
	}
	return p
}

// Services counts, per service, the providers a plain `query -o lines`
// lists (registry.ServiceCount): the names the entry rule makes providers,
// less those with a maintenance marker. One getChildren, then per service
// the two pipelined getChildren of a fields-only listing.
func (r *Registry) Services(ctx context.Context) ([]registry.ServiceCount, error) {
	names, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return r.conn.Children(r.servicesPath()) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, r.wrap("list services", err)
	}
	now := time.Now()
	counts := make([]registry.ServiceCount, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			counts[i].Service = name
			l, err := r.list(ctx, name)
			counts[i].Providers = countProviders(l, now)
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, r.wrap("list services", err)
	}
	sort.Slice(counts, func(i, j int) bool { return counts[i].Service < counts[j].Service })
	return counts, nil
}

// countProviders counts the names the entry rule makes providers and that
// have no maintenance marker, as a fields-only Providers lists them.
func countProviders(l listing, now time.Time) int {
	n := 0
	for _, name := range l.names {
		var p registry.Provider
		if err := parseKey(&p, "", name, now); err == nil && !l.maint[name] {
			n++
		}
	}
	return n
}
