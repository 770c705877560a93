package foreign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Registry is a registry.Registry whose Providers and Watch read each
// service from its Source; everything else (Register, Services,
// SetStatus, Close) is the wrapped registry's.
type Registry struct {
	registry.Registry
	def Source
	per map[string]Source // sources of named services (render's stanzas)
	log *slog.Logger
}

// current is what exhibitor's Registry (and any decorator that follows an
// ensemble) offers: the registry it talks to now.
type current interface{ Current() registry.Registry }

// Wrap returns inner reading every service from src. Svcdisco's own entries
// at their own place are inner itself; any other source needs a ZooKeeper
// registry (zk:// or exhibitor://), else it is a usage error.
func Wrap(inner registry.Registry, src Source, log *slog.Logger) (registry.Registry, error) {
	return WrapServices(inner, src, nil, log)
}

// WrapServices is Wrap with per-service sources: a service named in per is
// read from its source there, any other from def.
func WrapServices(inner registry.Registry, def Source, per map[string]Source, log *slog.Logger) (registry.Registry, error) {
	own := true
	for _, s := range append(sourcesOf(per), def) {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		own = own && s.Own()
	}
	if own {
		return inner, nil
	}
	if zkOf(inner) == nil {
		return nil, exitcode.Usagef("format/path: reading other systems' entries needs a ZooKeeper registry (zk:// or exhibitor://)")
	}
	if log == nil {
		log = slog.Default()
	}
	return &Registry{Registry: inner, def: def.normal(), per: per, log: log}, nil
}

func sourcesOf(m map[string]Source) []Source {
	out := make([]Source, 0, len(m)+1)
	for _, s := range m {
		out = append(out, s)
	}
	return out
}

// source is where service is read from.
func (r *Registry) source(service string) Source {
	if s, ok := r.per[service]; ok {
		return s.normal()
	}
	return r.def
}

// zkOf finds the ZooKeeper registry under decorators, or nil.
func zkOf(r registry.Registry) *zk.Registry {
	for range 8 {
		switch v := r.(type) {
		case *zk.Registry:
			return v
		case current:
			r = v.Current()
		default:
			return nil
		}
	}
	return nil
}

// Providers lists the service's entries in the source's format: one
// getChildren, then every child's data and ctime with pipelined gets
// (1 + N round trips' worth of requests, about one round trip of time).
// An entry that is not a provider of the format is skipped with one
// warning naming its znode; maintenance markers are not entries.
func (r *Registry) Providers(ctx context.Context, service string, opts registry.ListOptions) ([]registry.Provider, error) {
	if err := registry.ValidateService(service); err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	src := r.source(service)
	if src.Own() {
		return r.Registry.Providers(ctx, service, opts)
	}
	z := zkOf(r.Registry)
	if z == nil {
		return nil, fmt.Errorf("list %s: no ZooKeeper registry", service)
	}
	dir := src.dir(z.Chroot(), z.ServicePath(service), service)
	entries, err := read(ctx, z.Conn(), dir)
	if err != nil {
		return nil, zkcall.Classify("", fmt.Errorf("list %s at %s: %w", service, dir, err))
	}
	now := time.Now()
	out := make([]registry.Provider, 0, len(entries))
	for _, e := range entries {
		p, err := Decode(src.Format, service, e, now)
		if err != nil {
			r.log.Warn("skipping znode that is not a provider", "znode", dir+"/"+e.Name, "format", string(src.Format), "err", err)
			continue
		}
		if p.Status == registry.StatusMaintenance && !opts.IncludeMaintenance {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// Watch signals when the source's children, or one's data, change.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan struct{}, error) {
	src := r.source(service)
	if src.Own() {
		return r.Registry.Watch(ctx, service)
	}
	z := zkOf(r.Registry)
	if z == nil {
		return nil, fmt.Errorf("watch %s: no ZooKeeper registry", service)
	}
	return z.WatchPath(ctx, src.dir(z.Chroot(), z.ServicePath(service), service))
}

// readWorkers bounds the gets in flight, as registry/zk's listing does.
const readWorkers = 256

// read returns every child of dir (but maintenance markers) with its data
// and ctime; a child that vanished meanwhile is left out. A missing dir has
// no children.
func read(ctx context.Context, conn *gozk.Conn, dir string) ([]Entry, error) {
	names, _, err := zkcall.Do2(ctx, func() ([]string, *gozk.Stat, error) { return conn.Children(dir) })
	if errors.Is(err, gozk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(names))
	for _, n := range names {
		if !zk.IsMarker(n) {
			entries = append(entries, Entry{Name: n})
		}
	}
	gone := make([]bool, len(entries))
	_, err = zkcall.Do1(ctx, func() (struct{}, error) {
		var next atomic.Int64
		errs := make([]error, min(readWorkers, len(entries)))
		var wg sync.WaitGroup
		for w := range errs {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < len(entries); i = int(next.Add(1) - 1) {
					data, st, err := conn.Get(dir + "/" + entries[i].Name)
					if errors.Is(err, gozk.ErrNoNode) {
						gone[i] = true
						continue
					}
					if err != nil {
						errs[w] = err
						return
					}
					entries[i].Data, entries[i].Created = data, time.UnixMilli(st.Ctime).UTC()
				}
			})
		}
		wg.Wait()
		return struct{}{}, errors.Join(errs...)
	})
	if err != nil {
		return nil, err
	}
	out := entries[:0]
	for i := range entries {
		if !gone[i] {
			out = append(out, entries[i])
		}
	}
	return out, nil
}
