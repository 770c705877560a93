// Package consul is the Consul implementation of registry.Registry, on
// github.com/hashicorp/consul/api.
//
// A provider is a service instance in the catalog of the Consul agent svcdisco
// talks to (Agent().ServiceRegister), so Consul's own tools see it as native:
// its service ID is the provider ID, its Address and Port are the provider's,
// extra endpoints are tagged addresses, attributes are Meta keys, and
// svcdisco's own fields are Meta keys prefixed "svcdisco-" (see meta.go). A
// TTL check that svcdisco keeps passing stands in for ZooKeeper's session: a
// crashed registrant stops passing when the TTL lapses (and queries, which
// ask for passing instances only, drop it), and the agent removes it from its
// catalog after DeregisterCriticalServiceAfter.
package consul

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Options configure a connection. Empty fields fall back to Consul's own
// environment variables (CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_HTTP_TOKEN_FILE, CONSUL_HTTP_SSL, CONSUL_CACERT, CONSUL_CAPATH,
// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME,
// CONSUL_HTTP_SSL_VERIFY), read by api.DefaultConfig.
type Options struct {
	Address string // host:port of the agent; "" = CONSUL_HTTP_ADDR, else 127.0.0.1:8500
	Token   string // ACL token; "" = TokenFile, else CONSUL_HTTP_TOKEN(_FILE)
	// TokenFile names a mode-0600 file holding the ACL token
	// (--consul-token-file); it wins over CONSUL_HTTP_TOKEN. A token never
	// comes from the registry URL.
	TokenFile  string
	Datacenter string // for queries; "" = the agent's own
	TLS        bool   // use https (also CONSUL_HTTP_SSL=true or an https:// CONSUL_HTTP_ADDR)
	// Root namespaces svcdisco's providers: each carries it in Meta, and
	// listings skip svcdisco providers of another root. Services registered
	// natively (without svcdisco Meta) are listed under every root.
	Root string
	// TTL is how long a provider stays passing without a heartbeat: the
	// crash-detection time, the analogue of ZooKeeper's session timeout.
	// Default 10s.
	TTL    time.Duration
	Logger *slog.Logger
}

// Registry is a Consul-backed registry.Registry.
type Registry struct {
	opts   Options
	client *api.Client
	log    *slog.Logger
	addr   string // for error messages
	// transport is the client's own, closed with the Registry.
	transport *http.Transport
	node      string      // the agent's node name, for Provider.Name
	seesNodes atomic.Bool // the token was seen reading nodes (see aclHidden)

	mu   sync.Mutex
	regs map[*registration]struct{}
}

var _ registry.Registry = (*Registry)(nil)

// FromURL turns the query of a consul:// URL into Options: dc and tls
// (registry.ParseURL refuses a token there). Anything else is a usage
// error, so a typo is not silently ignored.
func FromURL(u *registry.URL) (Options, error) {
	var o Options
	if len(u.Hosts) > 1 {
		return o, exitcode.Usagef("registry %s: consul takes one agent address, got %d", u.Original, len(u.Hosts))
	}
	if len(u.Hosts) == 1 {
		o.Address = u.Hosts[0]
	}
	for key, vals := range u.Query {
		v := vals[len(vals)-1]
		switch key {
		case "dc":
			o.Datacenter = v
		case "tls":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, exitcode.Usagef("registry %s: tls=%q: want true or false", u.Original, v)
			}
			o.TLS = b
		default:
			return o, exitcode.Usagef("registry %s: unknown parameter %q (want dc or tls)", u.Original, key)
		}
	}
	return o, nil
}

// Open builds a client and checks, within ctx, that the agent answers and
// its cluster has a leader. An agent that does not is unreachable (exit 4).
func Open(ctx context.Context, opts Options) (*Registry, error) {
	if opts.TTL <= 0 {
		opts.TTL = 10 * time.Second
	}
	if opts.Root == "" {
		opts.Root = DefaultRoot
	}
	if err := registry.ValidatePath(opts.Root); err != nil {
		return nil, exitcode.Usagef("invalid root: %v", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg := api.DefaultConfig()
	if opts.Address != "" {
		cfg.Address = opts.Address
	}
	if opts.Token == "" && opts.TokenFile != "" {
		tok, err := registry.ReadSecretFile("--consul-token-file", opts.TokenFile)
		if err != nil {
			return nil, exitcode.New(exitcode.Usage, err)
		}
		opts.Token = tok
	}
	if opts.Token != "" {
		cfg.Token, cfg.TokenFile = opts.Token, ""
	}
	if opts.TLS {
		cfg.Scheme = "https"
	}
	cfg.Datacenter = opts.Datacenter
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, exitcode.Usagef("consul %s: %v", cfg.Address, err)
	}
	r := &Registry{
		opts:      opts,
		client:    client,
		log:       opts.Logger.With("registry", "consul"),
		addr:      cfg.Scheme + "://" + cfg.Address,
		transport: cfg.Transport,
		regs:      map[*registration]struct{}{},
	}
	leader, err := client.Status().LeaderWithQueryOptions(r.q(ctx))
	if err != nil {
		return nil, r.wrap("connect", err)
	}
	if leader == "" {
		return nil, r.unreachable("connect", errors.New("the cluster has no leader"))
	}
	r.node = nodeName(ctx, client)
	return r, nil
}

// nodeName is the agent's node name, "" when it cannot be read (a token
// without agent:read): it only names registrations (Provider.Name).
func nodeName(ctx context.Context, client *api.Client) string {
	ch := make(chan string, 1)
	go func() { // Agent().NodeName takes no context
		name, _ := client.Agent().NodeName()
		ch <- name
	}()
	select {
	case name := <-ch:
		return name
	case <-ctx.Done():
		return ""
	}
}

// Client exposes the API client for what svcdisco does not wrap (tests,
// benchmarks, coordination recipes).
func (r *Registry) Client() *api.Client { return r.client }

// q returns query options bounded by ctx, for the configured datacenter.
func (r *Registry) q(ctx context.Context) *api.QueryOptions {
	return (&api.QueryOptions{Datacenter: r.opts.Datacenter}).WithContext(ctx)
}

func (r *Registry) unreachable(what string, err error) error {
	return exitcode.New(exitcode.Unreachable, fmt.Errorf("consul %s: %w: %s (%v)",
		r.addr, registry.ErrUnreachable, what, err))
}

// wrap classifies an API error: deadlines, transport failures and 5xx
// answers (no cluster leader) are "unreachable" (exit 4); other answers
// from Consul (403 ACL denied, 400 bad request, …) are plain failures that
// quote Consul.
func (r *Registry) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se api.StatusError
	if errors.As(err, &se) {
		if se.Code >= 500 { // no leader, a server restarting: Consul cannot answer now
			return r.unreachable(op, err)
		}
		return fmt.Errorf("consul %s: %s: %w", r.addr, op, err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &ne) || errors.As(err, &ue) {
		return r.unreachable(op, err)
	}
	return fmt.Errorf("consul %s: %s: %w", r.addr, op, err)
}

// statusCode is the HTTP status of an answer from Consul, 0 for anything
// else (transport errors).
func statusCode(err error) int {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// Close deregisters every provider still held and releases idle
// connections.
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
	if r.transport != nil {
		r.transport.CloseIdleConnections()
	}
	return errors.Join(errs...)
}
