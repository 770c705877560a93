package elect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// follower applies a reloaded configuration's mirror to the running
// candidacy (zk.MirrorSetter): a mirror added, changed or removed is
// followed without touching the candidacy on the registry (no new member,
// no new term). A configuration that names another registry changes
// nothing: a contender moves to another registry by a restart (README,
// "Moving elections to another ensemble").
type follower struct {
	f    *cmdutil.Factory
	load func() (*config.Config, error)

	mu   sync.Mutex
	cur  config.Config
	cand zk.MirrorSetter // nil until joined
}

func (fl *follower) joined(c coord.Candidacy) {
	if ms, ok := c.(zk.MirrorSetter); ok {
		fl.mu.Lock()
		fl.cand = ms
		fl.mu.Unlock()
	}
}

func (fl *follower) reload() {
	log := fl.f.Logger
	cfg, err := fl.load()
	if err != nil {
		log.Error("config reload failed; keeping the mirror in use", "err", err)
		return
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if !config.SameRegistry(cfg.Registry, fl.cur.Registry) {
		// The mirror is kept as it is too: dropping it now would free
		// the mirror's contenders while this one still leads here.
		log.Warn("the registry changed; keeping the registry and mirror in use until elect is restarted (see README, Moving elections to another ensemble)",
			"registry", registry.Redact(fl.cur.Registry), "config", registry.Redact(cfg.Registry))
		return
	}
	if cfg.Mirror == fl.cur.Mirror || (cfg.Mirror != "" && fl.cur.Mirror != "" && config.SameRegistry(cfg.Mirror, fl.cur.Mirror)) {
		return
	}
	if fl.cand == nil {
		log.Warn("mirror changed before the candidacy was written; restart elect to apply it")
		return
	}
	next := *cfg
	next.Registry = fl.cur.Registry
	if cfg.Mirror == "" {
		fl.cand.SetMirror(nil, "")
		log.Info("mirror removed by the configuration")
	} else {
		fl.cand.SetMirror(mirrorOpener(fl.f, &next), registry.Redact(fl.cur.Registry))
		log.Info("mirroring", "mirror", registry.Redact(cfg.Mirror))
	}
	fl.cur.Mirror = cfg.Mirror
}

// watch reloads on every signal from hup (nil: none) and whenever the
// config file changes, until ctx ends.
func (fl *follower) watch(ctx context.Context, hup <-chan os.Signal, file string) {
	var events <-chan fsnotify.Event
	if file != "" {
		// Its directory, not the file: config management replaces the
		// file by a rename, which ends a watch on the file itself.
		w, err := fsnotify.NewWatcher()
		if err == nil {
			defer w.Close()
			err = w.Add(filepath.Dir(file))
		}
		if err != nil {
			fl.f.Logger.Warn("not watching the config file for a changed mirror", "file", file, "err", err)
		} else {
			events = w.Events
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			fl.reload()
		case ev, ok := <-events:
			if !ok {
				events = nil
			} else if filepath.Clean(ev.Name) == filepath.Clean(file) {
				fl.reload()
			}
		}
	}
}

// mirrorOpener opens cfg's mirror for an election. The mirror session
// lives half as long as the registry's: the copy of a leader killed
// outright then expires before its member on the registry does, so the
// mirror names nobody rather than a leader the registry has replaced (the
// next leader also deletes stale copies).
func mirrorOpener(f *cmdutil.Factory, cfg *config.Config) func(ctx context.Context) (*zk.Registry, error) {
	half := *cfg
	half.SessionTimeout /= 2
	open := f.MirrorOpener(&half)
	url := registry.Redact(cfg.Mirror)
	return func(ctx context.Context) (*zk.Registry, error) {
		r, err := open(ctx)
		if err != nil {
			return nil, err
		}
		if w, ok := r.(interface{ Current() registry.Registry }); ok {
			r = w.Current() // an exhibitor:// mirror: its ensemble now
		}
		if z, ok := r.(*zk.Registry); ok {
			return z, nil
		}
		r.Close()
		return nil, fmt.Errorf("mirror %s is not ZooKeeper", url)
	}
}
