package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Difference is one way the two sides disagree.
type Difference struct {
	// Kind is "service" or "election".
	Kind string `json:"kind"`
	// Name is the service or election group.
	Name string `json:"name"`
	// Item is the provider's znode name (services), "" for an election.
	Item string `json:"item"`
	// From and To describe each side ("" where it is missing).
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// VerifyResult is one comparison.
type VerifyResult struct {
	Services    int          `json:"services"`
	Providers   int          `json:"providers"` // on the From side
	Elections   int          `json:"elections"`
	Differences []Difference `json:"differences"`
	Agree       bool         `json:"agree"`
}

// VerifyInput names the two sides. Both must be ZooKeeper registries
// (zk.Registry, or one wrapping it through Current).
type VerifyInput struct {
	From, To registry.Registry
	// Wait keeps comparing until the sides agree or it passes (0: once).
	Wait time.Duration
	// Every is the pause between comparisons while waiting; default 500ms.
	Every time.Duration
}

// Verify compares the sides service by service (providers by znode name,
// their data, their maintenance status) and election by election (the
// same leader, read with the leader detector). With Wait it compares
// again until they agree or Wait passes, and returns the last result.
func Verify(ctx context.Context, in VerifyInput) (*VerifyResult, error) {
	if in.Every <= 0 {
		in.Every = 500 * time.Millisecond
	}
	deadline := time.Now().Add(in.Wait)
	for {
		res, err := compare(ctx, in.From, in.To)
		if err != nil || res.Agree || !time.Now().Before(deadline) {
			return res, err
		}
		t := time.NewTimer(min(in.Every, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return res, nil
		case <-t.C:
		}
	}
}

func compare(ctx context.Context, from, to registry.Registry) (*VerifyResult, error) {
	res := &VerifyResult{Differences: []Difference{}}
	svcs, err := serviceNames(ctx, from, to)
	if err != nil {
		return nil, err
	}
	res.Services = len(svcs)
	for _, svc := range svcs {
		n, diffs, err := compareService(ctx, from, to, svc)
		if err != nil {
			return nil, err
		}
		res.Providers += n
		res.Differences = append(res.Differences, diffs...)
	}
	zf, zt := unwrap(from), unwrap(to)
	if zf == nil || zt == nil {
		return nil, errors.New("migrate verify: both sides must be ZooKeeper registries")
	}
	groups, err := electionGroups(ctx, zf, zt)
	if err != nil {
		return nil, err
	}
	res.Elections = len(groups)
	for _, g := range groups {
		d, err := compareElection(ctx, zf, zt, g)
		if err != nil {
			return nil, err
		}
		if d != nil {
			res.Differences = append(res.Differences, *d)
		}
	}
	res.Agree = len(res.Differences) == 0
	return res, nil
}

func serviceNames(ctx context.Context, regs ...registry.Registry) ([]string, error) {
	seen := map[string]bool{}
	for _, r := range regs {
		counts, err := r.Services(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate verify: list services: %w", err)
		}
		for _, c := range counts {
			seen[c.Service] = true
		}
	}
	return sortedKeys(seen), nil
}

// compareService returns the From side's provider count and the
// differences.
func compareService(ctx context.Context, from, to registry.Registry, svc string) (int, []Difference, error) {
	opts := registry.ListOptions{IncludeMaintenance: true}
	a, err := from.Providers(ctx, svc, opts)
	if err != nil {
		return 0, nil, fmt.Errorf("migrate verify: providers of %s: %w", svc, err)
	}
	b, err := to.Providers(ctx, svc, opts)
	if err != nil {
		return 0, nil, fmt.Errorf("migrate verify: providers of %s: %w", svc, err)
	}
	byName := func(ps []registry.Provider) map[string]registry.Provider {
		m := make(map[string]registry.Provider, len(ps))
		for _, p := range ps {
			m[p.Name] = p
		}
		return m
	}
	ma, mb := byName(a), byName(b)
	names := map[string]bool{}
	for n := range ma {
		names[n] = true
	}
	for n := range mb {
		names[n] = true
	}
	var diffs []Difference
	for _, n := range sortedKeys(names) {
		pa, inA := ma[n]
		pb, inB := mb[n]
		d := Difference{Kind: "service", Name: svc, Item: n}
		switch {
		case !inB:
			d.From, d.Reason = describe(pa), "missing on --to"
		case !inA:
			d.To, d.Reason = describe(pb), "missing on --from"
		case pa.Status != pb.Status:
			d.From, d.To, d.Reason = describe(pa), describe(pb), "status differs"
		case !sameData(pa, pb):
			d.From, d.To, d.Reason = describe(pa), describe(pb), "data differs"
		default:
			continue
		}
		diffs = append(diffs, d)
	}
	return len(a), diffs, nil
}

func describe(p registry.Provider) string { return p.Addr() + " " + p.Status }

func sameData(a, b registry.Provider) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// unwrap finds the ZooKeeper registry of r (itself, or what it wraps).
func unwrap(r registry.Registry) *zk.Registry {
	for r != nil {
		if z, ok := r.(*zk.Registry); ok {
			return z
		}
		u, ok := r.(interface{ Current() registry.Registry })
		if !ok {
			return nil
		}
		r = u.Current()
	}
	return nil
}

// electionGroups lists the groups under either side's elections znode.
func electionGroups(ctx context.Context, regs ...*zk.Registry) ([]string, error) {
	seen := map[string]bool{}
	for _, r := range regs {
		dir := r.Base() + "/elections"
		conn := r.Conn()
		groups, _, err := zkcall.Do2(ctx, func() ([]string, *gozk.Stat, error) { return conn.Children(dir) })
		if errors.Is(err, gozk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("migrate verify: list elections %s: %w", dir, zkcall.Classify("", err))
		}
		for _, g := range groups {
			seen[g] = true
		}
	}
	return sortedKeys(seen), nil
}

// compareElection compares the leaders of one group (nil: the same).
func compareElection(ctx context.Context, from, to *zk.Registry, group string) (*Difference, error) {
	la, err := from.Leader(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("migrate verify: leader of %s on --from: %w", group, err)
	}
	lb, err := to.Leader(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("migrate verify: leader of %s on --to: %w", group, err)
	}
	if sameLeader(la, lb) {
		return nil, nil
	}
	return &Difference{Kind: "election", Name: group, From: leaderString(la), To: leaderString(lb), Reason: "leader differs"}, nil
}

// sameLeader compares what a detector shows: the leader's znode name and
// address. Fencing tokens (czxids) are each ensemble's own.
func sameLeader(a, b coord.LeaderChange) bool {
	if a.OK != b.OK {
		return false
	}
	return !a.OK || (a.Leader.Name == b.Leader.Name && a.Leader.ID == b.Leader.ID && a.Leader.Addr() == b.Leader.Addr())
}

func leaderString(l coord.LeaderChange) string {
	if !l.OK {
		return "no leader"
	}
	return l.Leader.Addr() + " (" + l.Leader.Name + ")"
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
