// Package agent is `svcdisco agent`: register every provider a directory
// declares, and keep them in step with it.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/metrics"
	"github.com/svcdisco/svcdisco/internal/sdnotify"
	"github.com/svcdisco/svcdisco/nodecache"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/agent"
	"github.com/svcdisco/svcdisco/registry"
)

// DefaultConfigDir is where Chef (or a package) drops provider files.
const DefaultConfigDir = "/etc/svcdisco/services.d"

// Options is everything `agent` needs, parsed from flags.
type Options struct {
	F         *cmdutil.Factory
	ConfigDir string
	Once      bool
	// Reload re-reads the configuration (SIGHUP, config file change):
	// a changed mirror is followed, and a registry that was the mirror
	// promotes it.
	Reload func() (*config.Config, error)
	// MetricsAddr serves Prometheus metrics ("" none).
	MetricsAddr string
	// configDirSet: --config-dir was given (a missing default directory
	// is fine for a pure node cache, a missing named one never is).
	configDirSet bool
}

// NewCmdAgent parses flags into Options and hands them to runF (or Run).
func NewCmdAgent(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "agent [--config-dir DIR] [--once]",
		Short: "Register every provider declared in a directory; the node's boot hook",
		Long: `Register every provider declared in --config-dir and hold them all on one
registry session until stopped. Each *.json, *.yaml or *.yml file declares
one provider with the fields of register's flags:

  service: web                          # required
  port: 8080                            # required
  host: web1.example.com                # default: this machine's FQDN
  address: 10.0.0.5                     # default: this machine's primary IP
  id: web-main                          # default: SERVICE-HOST-PORT
  attributes: {zone: us-east-1a}
  endpoints: {admin: "web1.example.com:9090"}
  weight: 1
  maintenance: false                    # true: registered, hidden from queries
  check: http://127.0.0.1:8080/health   # or tcp://host:port, exec:COMMAND
  check_interval: 2s
  check_timeout: 1s
  rise: 2
  fall: 3

On SIGHUP, and whenever a file in the directory changes, the agent
reconciles: added files register, removed files deregister, changed files
re-register, untouched providers are not touched. A malformed file is
reported (file name and reason) and skipped; a file that was valid before
keeps its previous provider until it is fixed or removed. SIGTERM or SIGINT
deregisters everything, then exits 0.

SIGHUP, and a change of the config file, also re-read the configuration: a
mirror added, changed or removed (--mirror, config key mirror) is followed
without touching the providers on the registry, and a registry changed to
what was the mirror promotes the mirror's session (its znodes stay, the old
registry drains). See README "Moving to another ensemble".

Under systemd (Type=notify) the agent sends READY=1 once every provider
without a check is registered (one with a check registers when it passes),
STOPPING=1 when it begins to deregister, and WATCHDOG=1 every half
WatchdogSec=. --metrics-addr serves Prometheus metrics at /metrics.

--once validates the directory and exits: 0 when every file is valid,
2 (naming each bad file) otherwise. Nothing is registered.

--serve PATH also runs the node cache on a unix socket (mode 0660, group
--serve-group): query, services, render --once and the Chef helpers given
--agent-socket PATH ask it instead of opening a registry session each. The
first ask of a service starts one watch on it; later asks are answered from
memory; a service not asked for during --serve-idle loses its watch. While
the agent's session is disconnected, the cache answers only callers that
accept stale answers. With --serve and no --config-dir, a missing default
directory means a pure cache node. The socket appears once the registry
answers; it speaks HTTP with JSON (see the README: curl --unix-socket PATH
http://agent/v1/status), and also runs whole query command lines for the
Chef library (POST /v1/query) with no process per call.`,
		Example: `  svcdisco agent --config-dir /etc/svcdisco/services.d
  svcdisco agent --serve /run/svcdisco/agent.sock --serve-group chef
  svcdisco agent --config-dir /etc/svcdisco/services.d --once   # validate only
  systemctl reload svcdisco-agent                              # SIGHUP: reconcile`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Reload = func() (*config.Config, error) { return config.Load(cmd.Flags()) }
			opts.configDirSet = cmd.Flags().Changed("config-dir")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ConfigDir, "config-dir", DefaultConfigDir, "directory of provider files (*.json, *.yaml)")
	cmd.Flags().BoolVar(&opts.Once, "once", false, "validate the directory and exit (registers nothing)")
	cmd.Flags().StringVar(&opts.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics on this host:port, e.g. "+metrics.DefaultAddr+" (default: none)")
	cmd.Flags().String("serve", "", "also answer reads from a node cache on this unix socket (config serve)")
	cmd.Flags().String("serve-group", "", "group owning the --serve socket, mode 0660 (config serve_group)")
	cmd.Flags().Duration("serve-idle", config.Defaults.ServeIdle, "drop a service's watch when nobody asked for it this long (config serve_idle)")
	return cmd
}

// Run validates (--once) or runs the agent until SIGTERM/SIGINT.
func Run(ctx context.Context, opts *Options) error {
	defaults := agent.Defaults{Host: register.DefaultHost(), Address: register.DefaultAddress()}
	if opts.Once {
		return validate(opts, defaults)
	}
	cfg := opts.config()
	cacheOnly := cfg.Serve != "" && !opts.configDirSet && missing(opts.ConfigDir)
	if !cacheOnly {
		if _, _, err := agent.LoadDir(opts.ConfigDir, defaults); err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
	}
	residentGC()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	stopMetrics, err := opts.F.ServeMetrics(opts.MetricsAddr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sd := sdnotify.Start(ctx, opts.F.Logger)
	defer sd.Close()

	cctx, cancel := opts.F.Timeout(ctx)
	reg, err := opts.F.OpenRegistry(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	// Always wrapped, so that a mirror can be added by a reload.
	w := opts.F.Mirrored(reg, opts.F.Config)
	defer w.Close()
	cmdutil.WatchSessionMetrics(ctx, reg)
	// The socket appears once the registry answers: until then a caller
	// finds no socket and asks the registry itself instead of waiting.
	served, err := serve(ctx, opts, reg)
	if err != nil {
		return err
	}
	defer func() { <-served }()
	if cacheOnly {
		opts.F.Logger.Info("node cache only: no provider directory", "dir", opts.ConfigDir)
		sd.Ready("node cache serving")
		<-ctx.Done()
		return nil
	}
	fl := &follower{f: opts.F, w: w, cur: *opts.F.Config, load: opts.Reload}
	a := &agent.Agent{
		Dir:        opts.ConfigDir,
		Registry:   w,
		Defaults:   defaults,
		Timeout:    opts.F.TimeoutValue(),
		Logger:     opts.F.Logger,
		ConfigFile: opts.F.Config.File,
		Ready:      func() { sd.Ready("providers registered") },
	}
	if opts.Reload != nil {
		a.Reload = fl.reload
	}
	if err := a.Run(ctx, hup); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	opts.F.Logger.Info("stopped; every provider deregistered")
	return nil
}

func (opts *Options) config() *config.Config {
	if opts.F.Config != nil {
		return opts.F.Config
	}
	return &config.Defaults
}

func missing(dir string) bool {
	_, err := os.Stat(dir)
	return errors.Is(err, fs.ErrNotExist)
}

// serve runs the node cache on the --serve socket (when there is one)
// until ctx ends; the returned channel is closed once it has stopped.
func serve(ctx context.Context, opts *Options, reg registry.Registry) (<-chan struct{}, error) {
	done := make(chan struct{})
	cfg := opts.config()
	if cfg.Serve == "" {
		close(done)
		return done, nil
	}
	sock, err := nodecache.Listen(cfg.Serve, cfg.ServeGroup)
	if err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	full := strings.HasPrefix(cfg.Registry, "consul:") // Consul lists in full anyway
	cache := nodecache.New(ctx, reg, nodecache.Options{Idle: cfg.ServeIdle, Logger: opts.F.Logger, FullFieldsOnly: full})
	srv := &nodecache.Server{Cache: cache, Logger: opts.F.Logger, Query: runQuery(cfg.Timeout, opts.F.AnswersFor(cfg)),
		Registry: cfg.Registry, Root: cfg.Root}
	opts.F.Logger.Info("serving the node cache", "socket", cfg.Serve, "idle", cfg.ServeIdle)
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, sock); err != nil {
			opts.F.Logger.Error("node cache stopped", "socket", cfg.Serve, "err", err)
		}
	}()
	return done, nil
}

func validate(opts *Options, d agent.Defaults) error {
	specs, problems, err := agent.LoadDir(opts.ConfigDir, d)
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	for _, p := range problems {
		fmt.Fprintf(opts.F.IO.ErrOut, "svcdisco: %s\n", p.Error())
	}
	if len(problems) > 0 {
		return exitcode.Usagef("%d of %d provider files in %s are invalid", len(problems), len(problems)+len(specs), opts.ConfigDir)
	}
	fmt.Fprintf(opts.F.IO.Out, "%d provider files OK in %s\n", len(specs), opts.ConfigDir)
	return nil
}

// residentGC tunes the garbage collector for a daemon that sits on every
// node for months: its live heap is a few MB (about 4 MB holding 100
// checked providers), so Go's default of letting the heap double before a
// collection costs more memory than the collections cost CPU. At 25 the
// agent holding 100 providers stays near 21 MB RSS instead of 25–26 MB. An
// explicit GOGC in the environment wins.
func residentGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
}
