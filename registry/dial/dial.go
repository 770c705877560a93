// Package dial opens the registry a URL names, picking the backend by
// scheme. It is the one place that knows every backend.
package dial

import (
	"context"
	"log/slog"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/consul"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Options say which registry to open and how.
type Options struct {
	URL            string
	Root           string
	SessionTimeout time.Duration
	CreateChroot   bool
	Logger         *slog.Logger
}

// Open connects to the registry within ctx.
func Open(ctx context.Context, o Options) (registry.Registry, error) {
	u, err := registry.ParseURL(o.URL)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch u.Scheme {
	case "zk":
		return zk.Open(ctx, zk.Options{
			Servers:        u.Hosts,
			Chroot:         u.Chroot,
			Root:           o.Root,
			SessionTimeout: o.SessionTimeout,
			CreateChroot:   o.CreateChroot,
			Logger:         o.Logger,
		})
	case "consul":
		co, err := consul.FromURL(u)
		if err != nil {
			return nil, err
		}
		co.Root, co.TTL, co.Logger = o.Root, o.SessionTimeout, o.Logger
		return consul.Open(ctx, co)
	default:
		return nil, exitcode.Usagef("registry %s: the %s backend is not available in this build", o.URL, u.Scheme)
	}
}
