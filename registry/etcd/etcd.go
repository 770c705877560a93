// Package etcd is the etcd (v3 API) implementation of registry.Registry, on
// go.etcd.io/etcd/client/v3.
//
// A provider is one key holding the provider JSON:
//
//	<root>/services/<service>/<host>:<port>@<millis>
//
// attached to a lease the registrant keeps alive. The lease is etcd's
// analogue of a ZooKeeper session: a registrant that crashes or is cut off
// stops refreshing it, and etcd deletes its keys when its TTL
// (--session-timeout) runs out. Each registration has a lease of its own, so
// when one lease is lost it is registered again on a new lease, in one
// transaction that also deletes the old key: never two keys for one
// registration.
//
// The key carries host, port and registration time (the entry rule,
// registry.CheckKey), so a fields-only listing is one keys-only range read.
// Maintenance is a marker key "<provider key>~maintenance" on the same
// lease, written in the same transaction as the status in the data.
package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Options configure a connection.
type Options struct {
	Endpoints []string // host:port of etcd members
	// Root namespaces svcdisco's keys; default /svcdisco.
	Root string
	// TTL is the lease TTL of each registration: the crash-detection time,
	// the analogue of ZooKeeper's session timeout. Default 10s; etcd
	// rounds it up to whole seconds.
	TTL      time.Duration
	Username string
	Password string
	TLS      *tls.Config // nil: plain http
	Logger   *slog.Logger
	// DialOptions are passed to gRPC (tests count requests with an
	// interceptor).
	DialOptions []grpc.DialOption
}

// Registry is an etcd-backed registry.Registry.
type Registry struct {
	opts   Options
	client *clientv3.Client
	log    *slog.Logger
	addr   string // for error messages

	mu   sync.Mutex
	regs map[*registration]struct{}
}

var _ registry.Registry = (*Registry)(nil)

// Open builds a client and checks, within ctx, that the cluster answers a
// linearizable read. A cluster that does not is unreachable (exit 4).
func Open(ctx context.Context, opts Options) (*Registry, error) {
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.Root == "" {
		opts.Root = "/svcdisco"
	}
	if err := registry.ValidatePath(opts.Root); err != nil {
		return nil, exitcode.Usagef("invalid root: %v", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if len(opts.Endpoints) == 0 {
		return nil, exitcode.Usagef("etcd: no endpoints")
	}
	scheme := "http://"
	if opts.TLS != nil {
		scheme = "https://"
	}
	r := &Registry{
		opts: opts,
		log:  opts.Logger.With("registry", "etcd"),
		addr: scheme + strings.Join(opts.Endpoints, ","),
		regs: map[*registration]struct{}{},
	}
	eps := make([]string, len(opts.Endpoints))
	for i, e := range opts.Endpoints {
		eps[i] = scheme + e
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            eps,
		Username:             opts.Username,
		Password:             opts.Password,
		TLS:                  opts.TLS,
		DialKeepAliveTime:    max(opts.TTL/3, time.Second),
		DialKeepAliveTimeout: max(opts.TTL/3, time.Second),
		Logger:               zap.NewNop(),
		DialOptions:          opts.DialOptions,
		Context:              context.Background(),
	})
	if err != nil {
		return nil, r.wrap("connect", err)
	}
	r.client = client
	if _, err := client.Get(ctx, opts.Root, clientv3.WithCountOnly()); err != nil {
		client.Close()
		return nil, r.wrap("connect", err)
	}
	return r, nil
}

// Client exposes the etcd client for what svcdisco does not wrap (tests,
// benchmarks, coordination recipes).
func (r *Registry) Client() *clientv3.Client { return r.client }

// Root is the --root the registry works under.
func (r *Registry) Root() string { return r.opts.Root }

// TTL is the lease TTL of registrations.
func (r *Registry) TTL() time.Duration { return r.opts.TTL }

func (r *Registry) servicesPrefix() string { return r.opts.Root + "/services/" }

func (r *Registry) servicePrefix(service string) string {
	return r.servicesPrefix() + service + "/"
}

// ttlSeconds is the lease TTL in whole seconds, rounded up.
func (r *Registry) ttlSeconds() int64 {
	return int64((r.opts.TTL + time.Second - 1) / time.Second)
}

func (r *Registry) unreachable(what string, err error) error {
	return exitcode.New(exitcode.Unreachable, fmt.Errorf("etcd %s: %w: %s (%v)",
		r.addr, registry.ErrUnreachable, what, err))
}

// wrap classifies an error: deadlines and an unavailable cluster are
// "unreachable" (exit 4); answers from etcd (permission denied, bad
// request, …) are plain failures that quote etcd.
func (r *Registry) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrTimeout) {
		return r.unreachable(op, err)
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
			return r.unreachable(op, err)
		}
	}
	return fmt.Errorf("etcd %s: %s: %w", r.addr, op, err)
}

// Close deregisters every provider still held (revoking its lease) and
// closes the client.
func (r *Registry) Close() error {
	r.mu.Lock()
	regs := make([]*registration, 0, len(r.regs))
	for reg := range r.regs {
		regs = append(regs, reg)
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var errs []error
	for _, reg := range regs {
		errs = append(errs, reg.Deregister(ctx))
	}
	errs = append(errs, r.client.Close())
	return errors.Join(errs...)
}
