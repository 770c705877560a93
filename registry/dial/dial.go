// Package dial opens the registry a URL names, picking the backend by
// scheme. It is the one place that knows every backend.
package dial

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"slices"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/exhibitor"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/consul"
	"github.com/svcdisco/svcdisco/registry/etcd"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Options say which registry to open and how.
type Options struct {
	URL            string
	Root           string
	SessionTimeout time.Duration
	CreateChroot   bool
	Logger         *slog.Logger
	// ZKAuthFile names ZooKeeper digest credentials (see zk.LoadAuth);
	// zk.AuthEnv is read as well.
	ZKAuthFile string
	// ZKAdminACL are added to the ACL of every provider znode this client
	// creates (see zk.Options.AdminACL).
	ZKAdminACL []gozk.ACL

	// ConsulTokenFile and ExhibitorAuthFile name mode-0600 credential
	// files (consul.Options.TokenFile, exhibitor.Options.AuthFile).
	ConsulTokenFile   string
	ExhibitorAuthFile string

	// ZKTLS are the PEM files for zk://…?tls=1.
	ZKTLS zk.TLSFiles

	zkAuth []zk.Credential // loaded by parse
	zkTLS  *tls.Config     // built by parse for zk://…?tls=1

	// Exhibitor settings, used by exhibitor:// URLs.
	ExhibitorCA   string        // PEM CA file for https Exhibitors
	ExhibitorPath string        // REST prefix, default /exhibitor/v1
	EnsembleCache string        // cache file, default exhibitor.DefaultCachePath
	ExhibitorPoll time.Duration // re-ask Exhibitor this often (0 never)
	// Timeout bounds each Exhibitor poll and each move to a new ensemble.
	Timeout time.Duration
}

// Open connects to the registry within ctx.
func Open(ctx context.Context, o Options) (registry.Registry, error) {
	u, err := parse(&o)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "zk":
		return zk.Open(ctx, zkOptions(u.Hosts, u.Chroot, o))
	case "exhibitor":
		res, err := resolver(u, o)
		if err != nil {
			return nil, err
		}
		return exhibitor.OpenRegistry(ctx, exhibitor.RegistryOptions{
			Resolver: res,
			Open: func(ctx context.Context, servers []string) (registry.Registry, error) {
				return zk.Open(ctx, zkOptions(servers, u.Chroot, o))
			},
			Poll:    o.ExhibitorPoll,
			Timeout: o.Timeout,
			Logger:  o.Logger,
		})
	case "consul":
		co, err := consul.FromURL(u)
		if err != nil {
			return nil, err
		}
		co.Root, co.TTL, co.Logger, co.TokenFile = o.Root, o.SessionTimeout, o.Logger, o.ConsulTokenFile
		return consul.Open(ctx, co)
	case "etcd":
		eo, err := etcd.FromURL(u)
		if err != nil {
			return nil, err
		}
		eo.Root, eo.TTL, eo.Logger = o.Root, o.SessionTimeout, o.Logger
		return etcd.Open(ctx, eo)
	default:
		return nil, exitcode.Usagef("registry %s://: the %s backend is not available in this build", u.Scheme, u.Scheme)
	}
}

// Ensemble finds the ZooKeeper ensemble a zk:// or exhibitor:// URL names,
// without connecting to it. For zk:// the answer is the URL's own hosts
// (source "static"), sorted like Exhibitor's.
func Ensemble(ctx context.Context, o Options) (*exhibitor.Ensemble, *registry.URL, error) {
	u, err := parse(&o)
	if err != nil {
		return nil, nil, err
	}
	switch u.Scheme {
	case "zk":
		return &exhibitor.Ensemble{Servers: slices.Sorted(slices.Values(u.Hosts)), Source: exhibitor.SourceStatic, Origin: "registry URL"}, u, nil
	case "exhibitor":
		res, err := resolver(u, o)
		if err != nil {
			return nil, nil, err
		}
		ens, err := res.Resolve(ctx)
		return ens, u, err
	default:
		return nil, nil, exitcode.Usagef("registry %s://: no ZooKeeper ensemble (only zk:// and exhibitor:// have one)", u.Scheme)
	}
}

// OpenZK connects to the ZooKeeper ensemble of a zk:// or exhibitor:// URL
// WITHOUT its chroot (which may not exist yet: this is what `chroot prime`
// connects with). The caller works on raw znodes through Conn().
func OpenZK(ctx context.Context, o Options) (*zk.Registry, *registry.URL, error) {
	ens, u, err := Ensemble(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	if o.zkAuth, err = zk.LoadAuth(o.ZKAuthFile, os.Getenv(zk.AuthEnv)); err != nil {
		return nil, nil, err
	}
	if u.TLS {
		if o.zkTLS, err = o.ZKTLS.Config(); err != nil {
			return nil, nil, err
		}
	}
	zo := zkOptions(ens.Servers, "", o)
	r, err := zk.Open(ctx, zo)
	return r, u, err
}

func parse(o *Options) (*registry.URL, error) {
	u, err := registry.ParseURL(o.URL)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if u.Scheme == "zk" || u.Scheme == "exhibitor" {
		if o.zkAuth, err = zk.LoadAuth(o.ZKAuthFile, os.Getenv(zk.AuthEnv)); err != nil {
			return nil, err
		}
	}
	if u.TLS {
		if o.zkTLS, err = o.ZKTLS.Config(); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func zkOptions(servers []string, chroot string, o Options) zk.Options {
	return zk.Options{
		Servers:        servers,
		Chroot:         chroot,
		Root:           o.Root,
		SessionTimeout: o.SessionTimeout,
		CreateChroot:   o.CreateChroot,
		Logger:         o.Logger,
		CloseTimeout:   o.Timeout, // Close honours --timeout
		Auth:           o.zkAuth,
		AdminACL:       o.ZKAdminACL,
		TLS:            o.zkTLS,
	}
}

func resolver(u *registry.URL, o Options) (*exhibitor.Resolver, error) {
	return exhibitor.New(u, exhibitor.Options{
		CAFile:     o.ExhibitorCA,
		CachePath:  o.EnsembleCache,
		PathPrefix: o.ExhibitorPath,
		Logger:     o.Logger,
		AuthFile:   o.ExhibitorAuthFile,
	})
}
