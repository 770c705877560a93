// Package cmdutil is what every svcdisco command shares: IO streams, the
// loaded configuration, a logger and a way to open the registry. Commands
// get it as a Factory so tests can swap any part.
package cmdutil

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/nodecache"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/query/answercache"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
	"github.com/svcdisco/svcdisco/registry/zk"
	"github.com/svcdisco/svcdisco/registry/zk/foreign"
)

// IOStreams are a command's stdin, stdout (data) and stderr (logs, errors).
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// System returns the process's own streams.
func System() *IOStreams { return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// Factory is handed to every command constructor.
type Factory struct {
	IO *IOStreams
	// Config is loaded by the root command before any command runs.
	Config *config.Config
	// Logger writes to IO.ErrOut at the configured level.
	Logger *slog.Logger
	// OpenRegistry connects to the configured registry. Tests may replace it.
	OpenRegistry func(ctx context.Context) (registry.Registry, error)
}

// New returns a Factory on io whose OpenRegistry dials f.Config.
// Everything written to io.ErrOut is scrubbed of the secrets the
// configuration carries (registry.ScrubWriter).
func New(io *IOStreams) *Factory {
	io.ErrOut = registry.ScrubWriter(io.ErrOut)
	f := &Factory{IO: io, Logger: slog.New(slog.NewTextHandler(io.ErrOut, nil))}
	f.OpenRegistry = func(ctx context.Context) (registry.Registry, error) {
		return dial.Open(ctx, f.DialOptions())
	}
	return f
}

// OpenReader opens the registry for a command that reads providers (query,
// render): it lists them where and in the layout cfg's format and
// format_path say (package registry/zk/foreign), and the services named in
// per from their own sources (render's template stanzas).
func (f *Factory) OpenReader(ctx context.Context, cfg *config.Config, per map[string]foreign.Source) (registry.Registry, error) {
	if cfg == nil {
		cfg = &config.Defaults
	}
	// The node cache serves svcdisco's own entries only: a reader of
	// other systems' entries asks the registry itself.
	if cfg.AgentSocket != "" && len(per) == 0 && cfg.Source().Own() {
		return f.openAgentReader(cfg), nil
	}
	return f.OpenSourced(ctx, cfg, per)
}

// OpenSourced opens the registry itself (no node cache), reading the
// entries of the configured sources (--format, --path, template sources).
func (f *Factory) OpenSourced(ctx context.Context, cfg *config.Config, per map[string]foreign.Source) (registry.Registry, error) {
	if cfg == nil {
		cfg = &config.Defaults
	}
	reg, err := f.OpenRegistry(ctx)
	if err != nil {
		return nil, err
	}
	r, err := foreign.WrapServices(reg, cfg.Source(), per, f.Logger)
	if err != nil {
		_ = reg.Close()
		return nil, err
	}
	return r, nil
}

// AddReaderFlags defines --format and --path, the flags of format and
// format_path, on a command that reads providers.
func AddReaderFlags(cmd *cobra.Command) {
	cmd.Flags().String("format", string(foreign.FormatSvcdisco), "layout of the entries read: svcdisco, auto, curator (x-discovery), serverset or nerve (ZooKeeper only)")
	cmd.Flags().String("path", "", "znode holding the service's entries, under the chroot; {service} stands for the service (default <root>/services/<service>)")
}

// DialOptions are the registry settings of the loaded configuration.
func (f *Factory) DialOptions() dial.Options { return f.DialOptionsFor(f.Config) }

// DialOptionsFor is DialOptions for a given configuration (e.g. one reloaded
// on SIGHUP).
func (f *Factory) DialOptionsFor(cfg *config.Config) dial.Options {
	if cfg == nil {
		cfg = &config.Defaults
	}
	return dial.Options{
		URL:               cfg.Registry,
		Root:              cfg.Root,
		SessionTimeout:    cfg.SessionTimeout,
		CreateChroot:      cfg.ChrootCreate,
		ZKAuthFile:        cfg.ZKAuthFile,
		ZKAdminACL:        adminACL(cfg),
		ConsulTokenFile:   cfg.ConsulTokenFile,
		ExhibitorAuthFile: cfg.ExhibitorAuthFile,
		ZKTLS:             zk.TLSFiles{CA: cfg.ZKTLSCA, Cert: cfg.ZKTLSCert, Key: cfg.ZKTLSKey},
		Logger:            f.Logger,
		ExhibitorCA:       cfg.ExhibitorCA,
		ExhibitorPath:     cfg.ExhibitorPath,
		EnsembleCache:     cfg.EnsembleCache,
		ExhibitorPoll:     cfg.ExhibitorPoll,
		Timeout:           cfg.Timeout,
	}
}

// Init loads the configuration from cmd's flags and sets up logging. The
// root command calls it before every command.
func (f *Factory) Init(cmd *cobra.Command) error {
	cfg, err := config.Load(cmd.Flags())
	if err != nil {
		return err
	}
	level, _ := config.ParseLevel(cfg.LogLevel)
	f.Config = cfg
	f.Logger = config.NewLogger(f.IO.ErrOut, level, cfg.LogFormat)
	return nil
}

// Answers is the answer cache of the loaded configuration (--answer-cache,
// --stale-ok), for the commands that answer queries.
func (f *Factory) Answers() *query.Answers { return f.AnswersFor(f.Config) }

// AnswersFor is Answers for a given configuration (e.g. one reloaded on
// SIGHUP).
func (f *Factory) AnswersFor(cfg *config.Config) *query.Answers {
	if cfg == nil {
		cfg = &config.Defaults
	}
	return &query.Answers{
		Cache:    answercache.New(cfg.AnswerCache),
		Registry: cfg.Registry,
		Root:     cfg.Root,
		Source:   answerSource(cfg),
		StaleOK:  cfg.StaleOK,
		Logger:   f.Logger,
	}
}

// answerSource keys answers read from another system's entries apart from
// svcdisco's own (--format, --path).
func answerSource(cfg *config.Config) string {
	if cfg.Source().Own() {
		return ""
	}
	return cfg.Format + " " + cfg.FormatPath
}

// TimeoutValue is the configured --timeout.
func (f *Factory) TimeoutValue() time.Duration {
	if f.Config != nil {
		return f.Config.Timeout
	}
	return config.Defaults.Timeout
}

// Timeout returns a context bounded by the configured --timeout.
func (f *Factory) Timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.TimeoutValue())
}

// CommandName is the command's path without the program's name ("chroot
// prime"): main prefixes every error with "svcdisco: " already.
func CommandName(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return cmd.Name()
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// ExactArgs is cobra.ExactArgs with a usage error (exit 2).
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return exitcode.Usagef("%s: want %s, got %d argument(s)", CommandName(cmd), what, len(args))
		}
		return nil
	}
}

// NoArgs is cobra.NoArgs with a usage error (exit 2).
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return exitcode.Usagef("%s takes no arguments, got %q", CommandName(cmd), args[0])
	}
	return nil
}

// OpenRegistryUnlessStopped opens the registry within --timeout for a
// command that holds something until signalled (register, lock, elect): a
// signal on sigs while it connects gives up quietly, with stopped true and
// no error, since there is nothing to release yet.
func (f *Factory) OpenRegistryUnlessStopped(ctx context.Context, sigs <-chan os.Signal) (reg registry.Registry, stopped bool, err error) {
	cctx, cancel := f.Timeout(ctx)
	defer cancel()
	var signalled atomic.Bool
	go func() {
		select {
		case <-sigs:
			signalled.Store(true)
			cancel()
		case <-cctx.Done():
		}
	}()
	reg, err = f.OpenRegistry(cctx)
	if err != nil && (signalled.Load() || ctx.Err() != nil) {
		return nil, true, nil
	}
	return reg, false, err
}

// openAgentReader reads through the node cache of an agent's --serve socket
// (agent_socket), falling back to the registry itself when the agent does
// not answer.
func (f *Factory) openAgentReader(cfg *config.Config) registry.Registry {
	// The agent's stale answers are not asked for: a stale agent sends the
	// command to the registry, and past that to the answer cache
	// (--stale-ok, exit 6), so stale answers have one source and one exit
	// code whichever path failed.
	c := nodecache.NewClient(cfg.AgentSocket)
	c.Registry, c.Root = cfg.Registry, cfg.Root
	open := func(ctx context.Context) (registry.Registry, error) {
		cctx, cancel := f.Timeout(ctx)
		defer cancel()
		return f.OpenRegistry(cctx)
	}
	return &nodecache.Reader{Agent: c, Open: open, Logger: f.Logger}
}

// adminACL is the validated zk_admin_acl (Load validated it already).
func adminACL(cfg *config.Config) []gozk.ACL {
	acl, _ := config.ParseAdminACL(cfg.ZKAdminACL)
	return acl
}
