package consul

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"github.com/hashicorp/consul/api"
)

// Blocking-query tuning. maxWait caps how long one query blocks (Consul's
// own ceiling is 10m, and a proxy in between may cut a long request);
// errors back off from minBackoff to maxBackoff.
const (
	maxWait    = 5 * time.Minute
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// Watch signals whenever the service's passing providers under our root
// may have changed. It runs blocking queries on the health endpoint and
// follows Consul's rules for them: the index is reset to 0 when it goes
// backwards (a server restored from a snapshot, a different server
// answering) and never used as 0 after an answer; each wait is capped; errors
// back off exponentially; and since a blocking query may return with a new
// index but no real change (Consul's indexes are per table, not per
// service), a signal is only sent when the listed providers differ.
//
// After any error the next query does not block: an agent or server that
// restarted with its state lost starts its index over, and Consul holds a
// query whose index is above its own for the whole wait, so blocking on the
// old index would leave the watch blind for up to maxWait. The non-blocking
// answer's index is taken as is. An error also signals once, so the caller
// re-lists (and learns the registry is unreachable) instead of trusting
// what it listed before.
//
// The first listing is made before Watch returns, so any change after that
// is signalled.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	entries, meta, err := r.client.Health().Service(service, "", true, r.q(ctx))
	if err != nil {
		return nil, r.wrap("watch "+service, err)
	}
	w := &watch{r: r, service: service, out: make(chan struct{}, 1),
		index: nextIndex(0, meta.LastIndex), digest: r.digest(service, entries)}
	go w.loop(ctx)
	return w.out, nil
}

type watch struct {
	r       *Registry
	service string
	out     chan struct{}
	index   uint64
	digest  uint64
}

func (w *watch) loop(ctx context.Context) {
	defer close(w.out)
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		q := &api.QueryOptions{Datacenter: w.r.opts.Datacenter, WaitIndex: w.index, WaitTime: maxWait}
		resync := backoff > 0 // the last query failed: re-read without blocking
		if resync {
			q.WaitIndex, q.WaitTime = 0, 0
		}
		entries, meta, err := w.r.client.Health().Service(w.service, "", true, q.WithContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if backoff == 0 {
				notify(w.out)
			}
			backoff = nextBackoff(backoff)
			w.r.log.Debug("watch: retrying after error", "service", w.service, "in", backoff, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if resync {
			w.index = nextIndex(0, meta.LastIndex)
		} else {
			w.index = nextIndex(w.index, meta.LastIndex)
		}
		if d := w.r.digest(w.service, entries); d != w.digest {
			w.digest = d
			notify(w.out)
		}
	}
}

// nextIndex is the WaitIndex for the next blocking query after an answer
// carrying index got: reset to 0 when it went backwards, and at least 1
// (an index of 0 would make the next query return at once, forever).
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	}
	return got
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return minBackoff
	}
	return min(2*d, maxBackoff)
}

// digest fingerprints what a listing would return: the providers under our
// root with every field svcdisco reads (ModifyIndex covers re-registration
// and Meta changes; check statuses cover maintenance).
func (r *Registry) digest(service string, entries []*api.ServiceEntry) uint64 {
	lines := make([]string, 0, len(entries))
	for _, e := range entries {
		if root := rootOf(e.Service.Meta); (root != "" && root != r.opts.Root) || !sameName(e, service) {
			continue
		}
		line := fmt.Sprintf("%s|%s|%d|%s", nodeOf(e), e.Service.ID, e.Service.ModifyIndex, e.Checks.AggregatedStatus())
		lines = append(lines, line)
	}
	sort.Strings(lines)
	h := fnv.New64a()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// notify sends a coalesced signal: one pending signal stands for any
// number of changes.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
