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
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
	"github.com/svcdisco/svcdisco/registry/zk"
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
	f.Logger = slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: level}))
	return nil
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

// adminACL is the validated zk_admin_acl (Load validated it already).
func adminACL(cfg *config.Config) []gozk.ACL {
	acl, _ := config.ParseAdminACL(cfg.ZKAdminACL)
	return acl
}
