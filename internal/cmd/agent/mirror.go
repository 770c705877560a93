package agent

import (
	"context"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/mirror"
)

// follower applies a reloaded configuration's registry and mirror to the
// running agent's mirror.Registry:
//
//   - the same registry, another mirror (added, changed or removed): the
//     mirror is replaced; primary registrations are not touched;
//   - the registry is now what was the mirror: the mirror is promoted (its
//     copies become the registrations, the old registry is drained), then
//     the new mirror, if any, is added;
//   - any other registry: kept, with a warning (a restart moves there).
type follower struct {
	f   *cmdutil.Factory
	w   *mirror.Registry
	cur config.Config // the registry and mirror in use
	// load re-reads the configuration (flags > env > file).
	load func() (*config.Config, error)
}

func (fl *follower) reload(ctx context.Context) {
	log := fl.f.Logger
	cfg, err := fl.load()
	if err != nil {
		log.Error("config reload failed; keeping the registry and mirror in use", "err", err)
		return
	}
	switch {
	case config.SameRegistry(cfg.Registry, fl.cur.Registry) && sameMirror(cfg.Mirror, fl.cur.Mirror):
		return
	case config.SameRegistry(cfg.Registry, fl.cur.Registry):
		fl.setMirror(cfg)
	case fl.cur.Mirror != "" && config.SameRegistry(cfg.Registry, fl.cur.Mirror):
		pctx, cancel := context.WithTimeout(ctx, fl.f.TimeoutValue())
		err := fl.w.Promote(pctx)
		cancel()
		if err != nil {
			log.Error("promoting the mirror failed; still on the old registry and mirroring; reload again to retry",
				"registry", registry.Redact(fl.cur.Registry), "mirror", registry.Redact(fl.cur.Mirror), "err", err)
			return
		}
		log.Warn("the mirror is now the registry; the old registry is drained",
			"registry", registry.Redact(cfg.Registry), "old", registry.Redact(fl.cur.Registry))
		fl.cur.Registry, fl.cur.Mirror = cfg.Registry, ""
		if cfg.Mirror != "" {
			fl.setMirror(cfg)
		}
	default:
		log.Warn("the registry changed to one that is not the mirror; restart the agent to move there (or mirror to it first, then switch)",
			"registry", registry.Redact(fl.cur.Registry), "config", registry.Redact(cfg.Registry))
		if !sameMirror(cfg.Mirror, fl.cur.Mirror) {
			fl.setMirror(cfg)
		}
	}
}

func (fl *follower) setMirror(cfg *config.Config) {
	next := *cfg
	next.Registry = fl.cur.Registry
	if cfg.Mirror == "" {
		fl.w.SetMirror("", nil)
		fl.f.Logger.Info("mirror removed by the configuration")
	} else {
		fl.w.SetMirror(registry.Redact(cfg.Mirror), fl.f.MirrorOpener(&next))
		fl.f.Logger.Info("mirroring", "mirror", registry.Redact(cfg.Mirror))
	}
	fl.cur.Mirror = cfg.Mirror
}

func sameMirror(a, b string) bool {
	return a == b || (a != "" && b != "" && config.SameRegistry(a, b))
}
