// Package zk is the ZooKeeper implementation of registry.Registry, on
// github.com/go-zookeeper/zk.
//
// Layout: <chroot><root>/services/<service>/<instance>, where <instance> is an
// ephemeral znode named host:port@millis (see InstanceName) holding the
// provider JSON. go-zookeeper has no chroot support, so every path is
// prefixed here.
package zk

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// Options configure a connection.
type Options struct {
	Servers        []string      // host:port
	Chroot         string        // "" or /path; must exist unless CreateChroot
	Root           string        // svcdisco's namespace inside the chroot, e.g. /svcdisco
	SessionTimeout time.Duration // default 10s
	CreateChroot   bool          // create a missing chroot instead of failing
	Logger         *slog.Logger
	// TLS, when set, makes every connection TLS (secureClientPort).
	TLS *tls.Config
	// Auth are digest credentials added to every session before anything
	// is read or written (see auth.go).
	Auth []Credential
}

// Registry is a ZooKeeper-backed registry.Registry.
type Registry struct {
	opts Options
	conn *zk.Conn
	log  *slog.Logger
	base string // chroot + root

	hosts *hostProvider // the server list, updatable in place (UpdateServers)

	session *sessionWatcher

	mu    sync.Mutex
	regs  map[*registration]struct{}
	paths map[string]*registration // znode path -> the registration using it
}

var _ registry.Registry = (*Registry)(nil)

// Open connects to ZooKeeper and waits, within ctx, for a session. An
// ensemble that gives no session before ctx is done is reported as
// unreachable (exit 4), naming the servers tried.
func Open(ctx context.Context, opts Options) (*Registry, error) {
	if len(opts.Servers) == 0 {
		return nil, exitcode.Usagef("zk: no servers given")
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 10 * time.Second
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
	log := opts.Logger.With("registry", "zk")
	r := &Registry{
		opts:  opts,
		log:   log,
		base:  strings.TrimSuffix(opts.Chroot+opts.Root, "/"),
		regs:  map[*registration]struct{}{},
		paths: map[string]*registration{},
		hosts: &hostProvider{sessionTimeout: opts.SessionTimeout, log: log, tls: opts.TLS},
	}
	r.session = newSessionWatcher(log, opts.SessionTimeout, r.reconcile)
	conn, events, err := zk.Connect(opts.Servers, opts.SessionTimeout,
		zk.WithHostProvider(r.hosts),
		zk.WithDialer(r.hosts.dial),
		zk.WithLogger(zkLogger{log}),
		zk.WithLogInfo(false),
	)
	if err != nil {
		return nil, fmt.Errorf("zk: connect %s: %w", strings.Join(opts.Servers, ","), err)
	}
	r.conn = conn
	go r.session.run(conn, events)
	if err := r.session.waitSession(ctx); err != nil {
		conn.Close()
		if derr := r.hosts.lastDialError(); derr != nil {
			err = fmt.Errorf("%w; last connection attempt: %v", err, derr)
		}
		return nil, r.unreachable("no session", err)
	}
	if err := r.addAuth(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	if err := r.checkChroot(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return r, nil
}

// Conn exposes the underlying connection for packages that work on raw
// znodes (chroot priming, coordination recipes).
func (r *Registry) Conn() *zk.Conn { return r.conn }

// Base is the absolute path (chroot + root) svcdisco writes under.
func (r *Registry) Base() string { return r.base }

func (r *Registry) servicesPath() string { return r.base + "/services" }

func (r *Registry) servicePath(service string) string {
	return r.servicesPath() + "/" + service
}

func (r *Registry) unreachable(what string, err error) error {
	return exitcode.New(exitcode.Unreachable, fmt.Errorf("zookeeper %s: %w: %s (%v)",
		strings.Join(r.opts.Servers, ","), registry.ErrUnreachable, what, err))
}

// wrap classifies a ZooKeeper error: deadline and connection trouble are
// "unreachable" (exit 4), the rest is a plain failure.
func (r *Registry) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing) ||
		errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) {
		return r.unreachable(op, err)
	}
	return fmt.Errorf("zk %s: %w", op, err)
}

func (r *Registry) checkChroot(ctx context.Context) error {
	if r.opts.Chroot == "" {
		return nil
	}
	ok, _, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return r.conn.Exists(r.opts.Chroot) })
	if err != nil {
		return r.wrap("check chroot "+r.opts.Chroot, err)
	}
	if ok {
		return nil
	}
	if r.opts.CreateChroot {
		return r.wrap("create chroot", r.ensurePath(ctx, r.opts.Chroot))
	}
	return exitcode.Unreachablef("zk %s: chroot %s does not exist; create it with `svcdisco chroot prime %s` (or pass --chroot-create)",
		strings.Join(r.opts.Servers, ","), r.opts.Chroot, r.opts.Chroot)
}

// ensurePath creates every missing persistent component of p.
func (r *Registry) ensurePath(ctx context.Context, p string) error {
	if p == "" || p == "/" {
		return nil
	}
	if ok, _, err := zkcall.Do2(ctx, func() (bool, *zk.Stat, error) { return r.conn.Exists(p) }); err != nil || ok {
		return err
	}
	if err := r.ensurePath(ctx, path.Dir(p)); err != nil {
		return err
	}
	_, err := zkcall.Do1(ctx, func() (string, error) { return r.conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)) })
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return err
}

// Close deregisters every provider still held, then closes the session.
// Without a session there is nobody to tell: the server removes the
// ephemeral znodes when the session expires, so Close does not wait.
func (r *Registry) Close() error {
	if !r.session.connected() {
		r.session.stop()
		r.conn.Close()
		return nil
	}
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
	r.session.stop()
	r.conn.Close()
	return errors.Join(errs...)
}

// zkLogger sends go-zookeeper's chatter to slog at debug level.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}
