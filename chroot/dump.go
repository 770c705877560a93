package chroot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// Dump is an exported persistent subtree: `svcdisco chroot export` writes
// it as JSON, `chroot import` reads it.
type Dump struct {
	// Path is where the subtree was exported from.
	Path string `json:"path"`
	// Nodes are parents before children (sorted by path). Node paths are
	// relative to Path, "/" being the exported node itself, so a dump can
	// be imported under another path.
	Nodes []Node `json:"nodes"`
	// EphemeralsSkipped counts the ephemeral znodes (live registrations)
	// that were left out: they belong to sessions and are recreated by
	// their owners, not copied.
	EphemeralsSkipped int `json:"ephemerals_skipped"`
}

// Node is one persistent znode.
type Node struct {
	Path string `json:"path"`
	Data []byte `json:"data"` // base64 in JSON: data is bytes, not text
	ACL  []ACL  `json:"acl"`
}

// ACL is a znode ACL entry with zkCli's permission letters.
type ACL struct {
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
	Perms  string `json:"perms"` // some of "cdrwa"
}

// systemTree is ZooKeeper's own subtree (quotas, config): never exported.
const systemTree = "/zookeeper"

// Export reads the persistent subtree at p.
func Export(ctx context.Context, conn *zk.Conn, p string) (*Dump, error) {
	if err := registry.ValidatePath(p); err != nil {
		return nil, err
	}
	d := &Dump{Path: p}
	if err := exportNode(ctx, conn, d, p, "/"); err != nil {
		return nil, zkcall.Classify("", err)
	}
	sort.Slice(d.Nodes, func(i, j int) bool { return d.Nodes[i].Path < d.Nodes[j].Path })
	return d, nil
}

func exportNode(ctx context.Context, conn *zk.Conn, d *Dump, abs, rel string) error {
	data, st, err := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return conn.Get(abs) })
	if errors.Is(err, zk.ErrNoNode) {
		if rel == "/" {
			return fmt.Errorf("export %s: no such znode", abs)
		}
		return nil // deleted while we walked
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", abs, err)
	}
	if st.EphemeralOwner != 0 {
		d.EphemeralsSkipped++
		return nil
	}
	acl, _, err := zkcall.Do2(ctx, func() ([]zk.ACL, *zk.Stat, error) { return conn.GetACL(abs) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("export %s: ACL: %w", abs, err)
	}
	d.Nodes = append(d.Nodes, Node{Path: rel, Data: data, ACL: toACL(acl)})
	if st.NumChildren == 0 {
		return nil
	}
	children, _, err := zkcall.Do2(ctx, func() ([]string, *zk.Stat, error) { return conn.Children(abs) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export %s: children: %w", abs, err)
	}
	sort.Strings(children)
	for _, c := range children {
		cabs, crel := join(abs, "/"+c), join(rel, "/"+c)
		if cabs == systemTree {
			continue
		}
		if err := exportNode(ctx, conn, d, cabs, crel); err != nil {
			return err
		}
	}
	return nil
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Overwrite replaces the data of existing znodes that differ; without
	// it they are reported as conflicts and left alone.
	Overwrite bool
	// DryRun reports what would be done and changes nothing.
	DryRun bool
}

// Conflict is an existing znode whose data differs from the dump's.
type Conflict struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ImportResult says what Import did (or, in a dry run, would do).
type ImportResult struct {
	Created   []string   `json:"created"`
	Updated   []string   `json:"updated"`
	Unchanged int        `json:"unchanged"`
	Conflicts []Conflict `json:"conflicts"`
	DryRun    bool       `json:"dry_run"`
}

// Import creates under p whatever of d is missing (with the dump's data and
// ACLs), parents first. Existing znodes keep their ACL; their data changes
// only with Overwrite. Missing ancestors of p are created with an open ACL.
func Import(ctx context.Context, conn *zk.Conn, p string, d *Dump, o ImportOptions) (*ImportResult, error) {
	nodes, err := CheckImport(p, d)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{Created: []string{}, Updated: []string{}, Conflicts: []Conflict{}, DryRun: o.DryRun}
	for _, anc := range parentsOf(p) {
		if err := importNode(ctx, conn, anc, Node{}, true, o, res); err != nil {
			return res, zkcall.Classify("", err)
		}
	}
	for _, n := range nodes {
		if err := importNode(ctx, conn, join(p, n.Path), n, false, o, res); err != nil {
			return res, zkcall.Classify("", err)
		}
	}
	return res, nil
}

// CheckImport validates an import before anything is written: the target
// path (absolute, not inside ZooKeeper's own /zookeeper tree) and the
// dump. Its errors are bad input (exit 2). It returns the nodes sorted.
func CheckImport(p string, d *Dump) ([]Node, error) {
	if err := registry.ValidatePath(p); err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("import: %w", err))
	}
	if p == systemTree || strings.HasPrefix(p, systemTree+"/") {
		return nil, exitcode.Usagef("import: path %q: ZooKeeper's own %s tree is not writable", p, systemTree)
	}
	nodes, err := checkDump(d)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("import: %w", err))
	}
	return nodes, nil
}

func checkDump(d *Dump) ([]Node, error) {
	if d == nil || len(d.Nodes) == 0 {
		return nil, errors.New("dump has no nodes")
	}
	nodes := append([]Node(nil), d.Nodes...)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Path < nodes[j].Path })
	for i, n := range nodes {
		if err := registry.ValidatePath(n.Path); err != nil {
			return nil, fmt.Errorf("dump node %d: %w", i, err)
		}
		if i > 0 && nodes[i-1].Path == n.Path {
			return nil, fmt.Errorf("dump lists %s twice", n.Path)
		}
		for _, a := range n.ACL {
			if _, err := lettersToPerms(a.Perms); err != nil {
				return nil, fmt.Errorf("dump node %s: ACL %s:%s: %v", n.Path, a.Scheme, a.ID, err)
			}
			if err := validateACLID(a.Scheme, a.ID); err != nil {
				return nil, fmt.Errorf("dump node %s: ACL %s:%s: %v", n.Path, a.Scheme, a.ID, err)
			}
		}
	}
	return nodes, nil
}

// importNode brings one znode in line with n. ancestor marks a parent of
// the target path, which only needs to exist.
func importNode(ctx context.Context, conn *zk.Conn, abs string, n Node, ancestor bool, o ImportOptions, res *ImportResult) error {
	data, st, err := zkcall.Do2(ctx, func() ([]byte, *zk.Stat, error) { return conn.Get(abs) })
	switch {
	case errors.Is(err, zk.ErrNoNode):
		if !o.DryRun {
			acl := fromACL(n.ACL)
			if _, err := zkcall.Do1(ctx, func() (string, error) { return conn.Create(abs, n.Data, 0, acl) }); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return fmt.Errorf("import %s: create: %w", abs, err)
			}
		}
		res.Created = append(res.Created, abs)
		return nil
	case err != nil:
		return fmt.Errorf("import %s: %w", abs, err)
	}
	switch {
	case ancestor || bytes.Equal(data, n.Data):
		if !ancestor {
			res.Unchanged++
		}
	case st.EphemeralOwner != 0:
		res.Conflicts = append(res.Conflicts, Conflict{abs, "exists as an ephemeral znode (a live session owns it)"})
	case !o.Overwrite:
		res.Conflicts = append(res.Conflicts, Conflict{abs, fmt.Sprintf("data differs (%d bytes here, %d in the dump; --overwrite replaces it)", len(data), len(n.Data))})
	default:
		if !o.DryRun {
			if _, err := zkcall.Do1(ctx, func() (*zk.Stat, error) { return conn.Set(abs, n.Data, st.Version) }); err != nil {
				return fmt.Errorf("import %s: set data: %w", abs, err)
			}
		}
		res.Updated = append(res.Updated, abs)
	}
	return nil
}

func toACL(acl []zk.ACL) []ACL {
	out := make([]ACL, len(acl))
	for i, a := range acl {
		out[i] = ACL{Scheme: a.Scheme, ID: a.ID, Perms: permString(a.Perms)}
	}
	return out
}

// fromACL converts dump ACLs (already checked); none means open.
func fromACL(acl []ACL) []zk.ACL {
	if len(acl) == 0 {
		return zk.WorldACL(zk.PermAll)
	}
	out := make([]zk.ACL, len(acl))
	for i, a := range acl {
		perms, _ := lettersToPerms(a.Perms)
		out[i] = zk.ACL{Scheme: a.Scheme, ID: a.ID, Perms: perms}
	}
	return out
}

// lettersToPerms is parsePerms that also takes "" (an ACL entry granting
// nothing is legal in ZooKeeper).
func lettersToPerms(s string) (int32, error) {
	if s == "" {
		return 0, nil
	}
	return parsePerms(s)
}

// ToACL converts ZooKeeper ACLs to the dump's form (for tools that build
// a Dump of their own, such as migrate copy).
func ToACL(acl []zk.ACL) []ACL { return toACL(acl) }
