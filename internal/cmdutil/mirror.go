package cmdutil

import (
	"context"

	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
	"github.com/svcdisco/svcdisco/registry/mirror"
)

// Mirrored wraps reg, opened on cfg's registry, in a mirror.Registry that
// also writes to cfg's mirror (none when cfg.Mirror is empty; one can be
// added later with SetMirror). Commands that write providers (register,
// agent, maintenance) use it; the mirror is opened in the background.
func (f *Factory) Mirrored(reg registry.Registry, cfg *config.Config) *mirror.Registry {
	if cfg == nil {
		cfg = &config.Defaults
	}
	w := mirror.New(reg, mirror.Options{Timeout: cfg.Timeout, Logger: f.Logger})
	if cfg.Mirror != "" {
		w.SetMirror(registry.Redact(cfg.Mirror), f.MirrorOpener(cfg))
	}
	return w
}

// MirrorOpener opens cfg's mirror with cfg's other registry settings.
func (f *Factory) MirrorOpener(cfg *config.Config) mirror.OpenFunc {
	o := f.DialOptionsFor(cfg)
	o.URL = cfg.Mirror
	// Every line the mirror's connection logs names the mirror, so that
	// its outages are told apart from the primary's on stderr.
	o.Logger = f.Logger.With("mirror", registry.Redact(cfg.Mirror))
	return func(ctx context.Context) (registry.Registry, error) { return dial.Open(ctx, o) }
}

// MirrorConfigured returns the loaded --mirror ("" when none).
func (f *Factory) MirrorConfigured() string {
	if f.Config == nil {
		return ""
	}
	return f.Config.Mirror
}
