package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

// poller queries both ensembles every 50 ms, as readers do, and records
// every poll that breaks the migration's promises.
type poller struct {
	t         *testing.T
	a, b      *zkreg.Registry
	outA      string
	outB      string
	readersOn atomic.Int32 // 0: A, 1: B
	phase     atomic.Int32 // 3 once contenders move to B
	names     sync.Map     // host:port -> znode name (its timestamp)

	mu     sync.Mutex
	polls  [2]int
	failed [2]int
	bad    []string
	maxOut [2]int
}

func openSide(t *testing.T, addr, root string) *zkreg.Registry {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zkreg.Open(ctx, zkreg.Options{Servers: []string{addr}, Root: root, SessionTimeout: 4 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func (p *poller) fail(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bad) < 20 {
		p.bad = append(p.bad, fmt.Sprintf(format, args...))
	}
}

func (p *poller) leader(r *zkreg.Registry) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lc, err := r.Leader(ctx, "sched")
	if err != nil || !lc.OK {
		return ""
	}
	return lc.Leader.ID
}

func (p *poller) providers(side int, r *zkreg.Registry) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ps, err := r.Providers(ctx, "web", registry.ListOptions{FieldsOnly: true, IncludeMaintenance: true})
	if err != nil {
		p.mu.Lock()
		p.failed[side]++
		p.mu.Unlock()
		if side == int(p.readersOn.Load()) {
			p.fail("poll of the readers' side %c failed: %v", 'A'+side, err)
		}
		return -1
	}
	for _, pr := range ps {
		key := fmt.Sprintf("%s:%d", pr.Host, pr.Port)
		if old, loaded := p.names.LoadOrStore(key, pr.Name); loaded && old != pr.Name {
			p.fail("%s changed timestamp on %c: %s -> %s", key, 'A'+side, old, pr.Name)
		}
	}
	return len(ps)
}

func lines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	return strings.Count(string(b), "\n")
}

func (p *poller) poll() {
	counts := [2]int{p.providers(0, p.a), p.providers(1, p.b)}
	lA1 := p.leader(p.a)
	lB := p.leader(p.b)
	lA2 := p.leader(p.a)
	side := int(p.readersOn.Load())
	p.mu.Lock()
	p.polls[0]++
	p.polls[1]++
	files := [2]int{lines(p.outA), lines(p.outB)}
	shrank := files[side] < p.maxOut[side]
	for i, n := range files {
		p.maxOut[i] = max(p.maxOut[i], n)
	}
	p.mu.Unlock()
	if counts[side] >= 0 && counts[side] < migProviders {
		p.fail("readers' side %c listed %d providers, %d alive", 'A'+side, counts[side], migProviders)
	}
	if shrank {
		p.fail("the file rendered from %c lost providers: %d lines", 'A'+side, files[side])
	}
	if p.phase.Load() < 3 {
		// A decides: B names A's leader or nobody (a copy being replaced).
		if lB != "" && lB != lA1 && lB != lA2 {
			p.fail("B names %s while A names %q/%q", lB, lA1, lA2)
		}
	} else if lB != "" && lA1 != "" && lA2 != "" && lB != lA1 && lB != lA2 {
		p.fail("two leaders: A names %q, B names %q", lA1, lB)
	}
}

func (p *poller) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.poll()
		}
	}
}
