package exhibitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Where an ensemble came from.
const (
	SourceExhibitor = "exhibitor"
	SourceCache     = "cache"
	SourceBackup    = "backup"
	SourceStatic    = "static" // a zk:// URL: nothing to resolve
)

// AuthEnv holds user:password for Exhibitor's basic auth, unless
// Options.AuthFile is given. Credentials never come from the registry URL
// (registry.ParseURL refuses them), where ps, shell history and config
// files would show them.
const AuthEnv = "SVCDISCO_EXHIBITOR_AUTH"

// Ensemble is a resolved ZooKeeper ensemble.
type Ensemble struct {
	Servers []string // host:port, sorted
	Source  string   // SourceExhibitor, SourceCache, SourceBackup or SourceStatic
	Origin  string   // the Exhibitor host, the cache file, or "registry URL"
}

// Resolver finds the ensemble: Exhibitor → cache → backup.
type Resolver struct {
	Client *Client
	Cache  *Cache   // nil: no cache
	Backup []string // sorted host:port; nil: none
	Logger *slog.Logger
	Now    func() time.Time
}

// Options configure New.
type Options struct {
	CAFile         string // PEM file of CAs to trust for https Exhibitors
	CachePath      string // "" = DefaultCachePath
	PathPrefix     string // "" = DefaultPath
	RequestTimeout time.Duration
	Logger         *slog.Logger
	// AuthFile names a mode-0600 file holding user:password for basic
	// auth (--exhibitor-auth-file); it wins over AuthEnv.
	AuthFile string
}

// New builds the resolver an exhibitor:// registry URL describes:
//
//	exhibitor://e1:8080,e2:8080[/chroot][?backup=h1:2181,h2:2181][&scheme=https]
func New(u *registry.URL, o Options) (*Resolver, error) {
	if u.Scheme != "exhibitor" {
		return nil, fmt.Errorf("not an exhibitor:// URL: %s", u.Scheme)
	}
	for k := range u.Query {
		if k != "backup" && k != "scheme" && k != "tls" {
			return nil, exitcode.Usagef("registry URL: unknown parameter %q (want backup, scheme or tls)", k)
		}
	}
	scheme := strings.ToLower(u.Query.Get("scheme"))
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" {
		return nil, exitcode.Usagef("registry URL: scheme=%s: want http or https", scheme)
	}
	var backup []string
	if b := u.Query.Get("backup"); b != "" {
		hosts, err := registry.SplitHosts(b, "2181")
		if err != nil {
			return nil, exitcode.Usagef("registry URL: backup: %v", err)
		}
		backup = sortedUnique(hosts)
	}
	user, err := basicAuth(o.AuthFile)
	if err != nil {
		return nil, err
	}
	hc, err := NewHTTPClient(o.CAFile)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	id := strings.Join(sortedUnique(u.Hosts), ",")
	cachePath := o.CachePath
	if cachePath == "" {
		cachePath = DefaultCachePath(id)
	}
	return &Resolver{
		Client: &Client{Hosts: u.Hosts, Scheme: scheme, PathPrefix: o.PathPrefix, User: user,
			RequestTimeout: o.RequestTimeout, Rounds: 2, HTTP: hc},
		Cache:  &Cache{Path: cachePath, Exhibitor: id},
		Backup: backup,
		Logger: o.Logger.With("exhibitor", id),
	}, nil
}

// Fetch asks Exhibitor only. Polls use it: a poll that cannot reach
// Exhibitor must not move a running process to the backup list. The answer
// is not cached: Remember does that once it is known to be good.
func (r *Resolver) Fetch(ctx context.Context) (*Ensemble, error) {
	servers, host, err := r.Client.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	return &Ensemble{Servers: servers, Source: SourceExhibitor, Origin: host}, nil
}

// Remember caches an answer from Exhibitor as the last good one; answers
// from other sources are not news and are not written.
func (r *Resolver) Remember(e *Ensemble) {
	if r.Cache == nil || e.Source != SourceExhibitor {
		return
	}
	if err := r.Cache.Save(e.Servers, r.now()); err != nil {
		r.Logger.Warn("could not cache the ensemble", "err", err)
	}
}

// Resolve returns the ensemble from the first source that has a valid one
// (Candidates) and caches it if it came from Exhibitor. It does not
// connect: `svcdisco ensemble` prints what it returns.
func (r *Resolver) Resolve(ctx context.Context) (*Ensemble, error) {
	es, err := r.Candidates(ctx)
	if err != nil {
		return nil, err
	}
	r.Remember(es[0])
	if es[0].Source != SourceExhibitor {
		r.Logger.Warn("using the ensemble from the "+es[0].Source, "origin", es[0].Origin,
			"servers", strings.Join(es[0].Servers, ","))
	}
	return es[0], nil
}

// Candidates returns, in order, the ensemble of every source that has a
// valid one: Exhibitor, the cache, the backup list; a list an earlier source
// already gave is not repeated. Each failing source is logged with its
// reason. Exhibitor gets at most half of ctx's remaining time, so a hanging
// Exhibitor leaves time to connect to the ensemble found in the cache or
// the backup list. When every source fails the error (exit 4) names each
// one and why.
func (r *Resolver) Candidates(ctx context.Context) ([]*Ensemble, error) {
	var out []*Ensemble
	add := func(e *Ensemble) {
		for _, o := range out {
			if slices.Equal(o.Servers, e.Servers) {
				return
			}
		}
		out = append(out, e)
	}
	ectx, cancel := halfDeadline(ctx)
	e, exErr := r.Fetch(ectx)
	cancel()
	if exErr == nil {
		add(e)
	} else {
		r.Logger.Warn("Exhibitor gave no ensemble", "reason", exErr.Error())
	}
	var cacheErr error
	if r.Cache == nil {
		cacheErr = errors.New("disabled")
	} else if entry, err := r.Cache.Load(); err != nil {
		cacheErr = fmt.Errorf("%s: %w", r.Cache.Path, err)
	} else {
		add(&Ensemble{Servers: entry.Servers, Source: SourceCache, Origin: r.Cache.Path})
	}
	if cacheErr != nil && exErr != nil {
		r.Logger.Warn("no usable cached ensemble", "reason", cacheErr.Error())
	}
	if len(r.Backup) > 0 {
		add(&Ensemble{Servers: r.Backup, Source: SourceBackup, Origin: "registry URL"})
	}
	if len(out) == 0 {
		return nil, exitcode.New(exitcode.Unreachable, fmt.Errorf(
			"no ZooKeeper ensemble: %w: Exhibitor: %v | cache: %v | backup: none given (add ?backup=h1:2181,h2:2181 to the registry URL)",
			registry.ErrUnreachable, exErr, cacheErr))
	}
	return out, nil
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func halfDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(d)/2)
}

func sortedUnique(hosts []string) []string {
	out := append([]string(nil), hosts...)
	sort.Strings(out)
	return slices.Compact(out)
}

// basicAuth reads Exhibitor's user:password from file, else AuthEnv; nil
// when neither is set.
func basicAuth(file string) (*url.Userinfo, error) {
	a := os.Getenv(AuthEnv)
	if file != "" {
		var err error
		if a, err = registry.ReadSecretFile("--exhibitor-auth-file", file); err != nil {
			return nil, exitcode.New(exitcode.Usage, err)
		}
		if !strings.Contains(a, ":") {
			return nil, exitcode.Usagef("--exhibitor-auth-file %s: want one user:password line", file)
		}
	}
	if a == "" {
		return nil, nil
	}
	name, pass, _ := strings.Cut(a, ":")
	return url.UserPassword(name, pass), nil
}
