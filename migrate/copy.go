// Package migrate is `svcdisco migrate`: the tools for moving a live fleet
// from one ZooKeeper ensemble to another (MESOS-890, with --mirror doing
// the dual publishing). Copy carries the persistent part of a tree over;
// Verify is the go/no-go check that both ensembles show the same
// providers and the same leaders before readers are switched.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/chroot"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// CopyInput says what to copy: the persistent znodes under FromPath on the
// From connection go to ToPath on the To connection (both absolute,
// chroots included).
type CopyInput struct {
	From, To         *zk.Conn
	FromPath, ToPath string
	// ACL copies each znode's ACL; without it copies get an open ACL (as
	// zkcopy does), and existing znodes keep theirs either way.
	ACL bool
	// DryRun reports what would be copied and writes nothing.
	DryRun bool
}

// SequenceCounter is a parent whose children are sequential: its counter
// (the parent's cversion) stays behind, and the copy starts from zero.
type SequenceCounter struct {
	Path     string `json:"path"`
	Cversion int32  `json:"cversion"`
}

// CopyResult says what Copy did (or would do) and what it left behind.
type CopyResult struct {
	chroot.ImportResult
	// Ephemerals are the ephemeral znodes skipped: only the sessions that
	// own them can recreate them (with --mirror, on the new ensemble).
	Ephemerals []string `json:"ephemerals_skipped"`
	// SequenceCounters cannot be carried over.
	SequenceCounters []SequenceCounter `json:"sequence_counters_not_copied"`
}

// Copy copies the persistent part of the tree: every znode that is not
// ephemeral, with its data (and ACL when asked), parents first. Existing
// znodes are left alone (a different one is reported as a conflict).
func Copy(ctx context.Context, in CopyInput) (*CopyResult, error) {
	for _, p := range []string{in.FromPath, in.ToPath} {
		if err := registry.ValidatePath(p); err != nil {
			return nil, fmt.Errorf("migrate copy: %w", err)
		}
	}
	res := &CopyResult{Ephemerals: []string{}, SequenceCounters: []SequenceCounter{}}
	d := &chroot.Dump{Path: in.FromPath}
	if err := walk(ctx, in, d, res, in.FromPath, "/"); err != nil {
		return nil, zkcall.Classify("", err)
	}
	sort.Slice(d.Nodes, func(i, j int) bool { return d.Nodes[i].Path < d.Nodes[j].Path })
	ir, err := chroot.Import(ctx, in.To, in.ToPath, d, chroot.ImportOptions{DryRun: in.DryRun})
	if ir != nil {
		res.ImportResult = *ir
	}
	if err != nil {
		return res, fmt.Errorf("migrate copy: %w", err)
	}
	return res, nil
}

// walk reads one znode and its subtree.
func walk(ctx context.Context, in CopyInput, d *chroot.Dump, res *CopyResult, abs, rel string) error {
	data, st, err := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return in.From.Get(abs) })
	if errors.Is(err, zk.ErrNoNode) {
		if rel == "/" {
			return fmt.Errorf("migrate copy: %s: no such znode", abs)
		}
		return nil // gone while we walked
	}
	if err != nil {
		return fmt.Errorf("migrate copy: read %s: %w", abs, err)
	}
	if st.EphemeralOwner != 0 {
		res.Ephemerals = append(res.Ephemerals, abs)
		return nil
	}
	n := chroot.Node{Path: rel, Data: data}
	if in.ACL {
		acl, _, err := zkcall.Do2(ctx, func() ([]zk.ACL, *zk.Stat, error) { return in.From.GetACL(abs) })
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("migrate copy: ACL of %s: %w", abs, err)
		}
		n.ACL = chroot.ToACL(acl)
	}
	d.Nodes = append(d.Nodes, n)
	if st.NumChildren == 0 {
		return nil
	}
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return in.From.Children(abs) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("migrate copy: children of %s: %w", abs, err)
	}
	sort.Strings(children)
	if hasSequential(children) {
		res.SequenceCounters = append(res.SequenceCounters, SequenceCounter{Path: abs, Cversion: st.Cversion})
	}
	for _, c := range children {
		cabs := strings.TrimSuffix(abs, "/") + "/" + c
		if cabs == "/zookeeper" {
			continue // ZooKeeper's own tree
		}
		if err := walk(ctx, in, d, res, cabs, strings.TrimSuffix(rel, "/")+"/"+c); err != nil {
			return err
		}
	}
	return nil
}

// hasSequential reports whether a name ends in ZooKeeper's sequence
// suffix: exactly 10 digits (a provider's millisecond timestamp has 13).
func hasSequential(names []string) bool {
	for _, n := range names {
		if len(n) < 10 || (len(n) > 10 && isDigit(n[len(n)-11])) {
			continue
		}
		digits := true
		for i := len(n) - 10; i < len(n); i++ {
			digits = digits && isDigit(n[i])
		}
		if digits {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
