// Package agent is `svcdisco agent`: register every provider a directory
// declares, and keep them in step with it.
package agent

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/agent"
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

--once validates the directory and exits: 0 when every file is valid,
2 (naming each bad file) otherwise. Nothing is registered.`,
		Example: `  svcdisco agent --config-dir /etc/svcdisco/services.d
  svcdisco agent --config-dir /etc/svcdisco/services.d --once   # validate only
  systemctl reload svcdisco-agent                              # SIGHUP: reconcile`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Reload = func() (*config.Config, error) { return config.Load(cmd.Flags()) }
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.ConfigDir, "config-dir", DefaultConfigDir, "directory of provider files (*.json, *.yaml)")
	cmd.Flags().BoolVar(&opts.Once, "once", false, "validate the directory and exit (registers nothing)")
	return cmd
}

// Run validates (--once) or runs the agent until SIGTERM/SIGINT.
func Run(ctx context.Context, opts *Options) error {
	defaults := agent.Defaults{Host: register.DefaultHost(), Address: register.DefaultAddress()}
	if opts.Once {
		return validate(opts, defaults)
	}
	if _, _, err := agent.LoadDir(opts.ConfigDir, defaults); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	residentGC()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

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
	fl := &follower{f: opts.F, w: w, cur: *opts.F.Config, load: opts.Reload}
	a := &agent.Agent{
		Dir:        opts.ConfigDir,
		Registry:   w,
		Defaults:   defaults,
		Timeout:    opts.F.TimeoutValue(),
		Logger:     opts.F.Logger,
		ConfigFile: opts.F.Config.File,
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
