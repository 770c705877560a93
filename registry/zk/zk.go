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
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
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

	// CloseTimeout bounds Close's deregistrations (the CLI passes
	// --timeout); default 2s. Whatever is not deleted in time goes when the
	// session is closed or expires.
	CloseTimeout time.Duration
	// ReconcileEvery is how often every registration is checked to exist
	// and be owned by the current session, besides after each reconnect (a
	// safety net should an event ever be missed); default 30s.
	ReconcileEvery time.Duration
	// TLS, when set, makes every connection TLS (secureClientPort).
	TLS *tls.Config
	// Auth are digest credentials added to every session before anything
	// is read or written (see auth.go).
	Auth []Credential
	// AdminACL entries are added to every provider znode (and marker) this
	// client creates when authenticated: ZooKeeper hides digest hashes from
	// non-admins, so a registrant cannot learn the admin's from the
	// directories and must be told it (zk_admin_acl).
	AdminACL []zk.ACL
}

// Registry is a ZooKeeper-backed registry.Registry.
type Registry struct {
	opts Options
	conn *connRef
	log  *slog.Logger
	base string // chroot + root

	hosts *hostProvider // the server list, updatable in place (UpdateServers)

	session *sessionWatcher
	obs     *observer               // connection events and timings for coordination recipes
	authed  atomic.Pointer[zk.Conn] // the connection ensureAuth authenticated

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
	if err := checkChrootCreate(opts); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 2 * time.Second
	}
	if opts.ReconcileEvery <= 0 {
		opts.ReconcileEvery = 30 * time.Second
	}
	log := opts.Logger.With("registry", "zk")
	r := &Registry{
		opts:  opts,
		conn:  &connRef{},
		log:   log,
		base:  strings.TrimSuffix(opts.Chroot+opts.Root, "/"),
		regs:  map[*registration]struct{}{},
		paths: map[string]*registration{},
		hosts: &hostProvider{sessionTimeout: opts.SessionTimeout, log: log, tls: opts.TLS},
	}
	r.session = newSessionWatcher(log, opts, r.reconcile)
	r.session.renew = r.renew
	r.obs = newObserver(opts.SessionTimeout)
	r.obs.dialer = r.hosts.dial
	r.obs.timeout = r.session.timeout
	if err := r.dial(); err != nil {
		return nil, err
	}
	r.session.start()
	if err := r.session.waitSession(ctx); err != nil {
		r.session.stop()
		r.conn.Close()
		if derr := r.hosts.lastDialError(); derr != nil {
			err = fmt.Errorf("%w; last connection attempt: %v", err, derr)
		}
		return nil, r.unreachable("no session", err)
	}
	if err := r.ensureAuth(ctx); err != nil {
		r.session.stop()
		r.conn.Close()
		return nil, err
	}
	if err := r.checkChroot(ctx); err != nil {
		r.session.stop()
		r.conn.Close()
		return nil, err
	}
	return r, nil
}

// dial makes a new go-zookeeper connection (a new generation for the
// session watcher) and makes it the current one.
func (r *Registry) dial() error {
	gen := r.session.newGeneration()
	onEvent, answered, refused := r.session.callbacks(gen)
	// One dialer is chained through all who watch the wire: the session
	// watcher's handshake reader, the coordination guard's read clock, and
	// the host provider, which knows the current server list.
	wire := &wireObserver{dialer: r.obs.dial, answered: answered, refused: refused}
	servers := r.hosts.current(r.opts.Servers)
	r.obs.connMu.Lock()
	defer r.obs.connMu.Unlock()
	conn, _, err := zk.Connect(servers, r.opts.SessionTimeout,
		zk.WithHostProvider(r.hosts),
		zk.WithDialer(wire.dial),
		zk.WithEventCallback(func(ev zk.Event) { onEvent(ev); r.obs.callback(ev) }),
		zk.WithLogger(zkLogger{r.log}),
		zk.WithLogInfo(false),
	)
	if err != nil {
		return fmt.Errorf("zk: connect %s: %w", strings.Join(servers, ","), err)
	}
	r.conn.set(conn)
	r.obs.conn = conn
	return nil
}

// renew replaces a connection whose session the servers keep refusing by
// a fresh one (zxid 0, new session); reconcile then re-registers everything
// on it. The old connection is closed: its watches end with
// EventNotWatching, which makes every Watch re-arm on the new one.
func (r *Registry) renew(reason string) {
	old := r.conn.get()
	if err := r.dial(); err != nil {
		r.log.Error("fresh zookeeper connection failed", "err", err, "why", reason)
		return
	}
	old.Close()
	if r.session.stopped() { // closed meanwhile: Close may have missed the new one
		r.conn.Close()
	}
}

// Conn exposes the underlying connection for packages that work on raw
// znodes (chroot priming, coordination recipes).
// It is the current connection: after the servers refused the session for
// good, the Registry replaces it (SessionEvents then reports a
// SessionConnected with a new ID), so call Conn for each operation rather
// than keeping the result.
func (r *Registry) Conn() *zk.Conn { return r.conn.get() }

// Base is the absolute path (chroot + root) svcdisco writes under.
func (r *Registry) Base() string { return r.base }

func (r *Registry) servicesPath() string { return r.base + "/services" }

func (r *Registry) servicePath(service string) string {
	return r.servicesPath() + "/" + service
}

func (r *Registry) unreachable(what string, err error) error {
	return exitcode.New(exitcode.Unreachable, fmt.Errorf("zookeeper %s: %w: %s (%w)",
		strings.Join(r.opts.Servers, ","), registry.ErrUnreachable, what, err))
}

// wrap classifies a ZooKeeper error (zkcall.Unreachable is the one place
// that knows which errors mean unreachable): those are exit 4 and match
// registry.ErrUnreachable, the rest is a plain failure.
func (r *Registry) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if zkcall.Unreachable(err) {
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

// checkChrootCreate refuses --chroot-create with authentication: the
// chroot would be created world:anyone:cdrwa (or with the ACL of its
// parent, usually the same), under a tree whose ACLs are the point. The
// chroot's ACL is the operator's to choose, with `chroot prime --acl`.
func checkChrootCreate(opts Options) error {
	if !opts.CreateChroot || len(opts.Auth) == 0 || opts.Chroot == "" {
		return nil
	}
	return exitcode.Usagef("--chroot-create with ZooKeeper authentication would create %s world-writable; create it with its ACL as an admin: `svcdisco chroot prime %s --acl …`",
		opts.Chroot, opts.Chroot)
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

// Close deregisters every provider still held, within Options.CloseTimeout,
// then closes the session. Without a session there is nobody to tell: the
// server removes the ephemeral znodes when the session expires, so Close
// does not wait.
func (r *Registry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.CloseTimeout)
	defer cancel()
	return r.CloseContext(ctx)
}

// CloseContext is Close bounded by ctx instead of Options.CloseTimeout.
func (r *Registry) CloseContext(ctx context.Context) error {
	var errs []error
	if r.session.connected() {
		r.mu.Lock()
		regs := make([]*registration, 0, len(r.regs))
		for reg := range r.regs {
			regs = append(regs, reg)
		}
		r.mu.Unlock()
		errs = make([]error, len(regs))
		var wg sync.WaitGroup
		for i, reg := range regs {
			wg.Go(func() { errs[i] = reg.Deregister(ctx) })
		}
		wg.Wait()
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
