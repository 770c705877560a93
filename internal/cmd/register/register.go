// Package register is `svcdisco register`: hold one provider registration
// until stopped.
package register

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/check"
	"github.com/svcdisco/svcdisco/register/child"
	"github.com/svcdisco/svcdisco/registry"
)

// Options is everything `register` needs, parsed from flags.
type Options struct {
	F        *cmdutil.Factory
	Provider registry.Provider
	// Check gates the registration (nil: none).
	Check *check.Config
	// Command, when set, is wrapped: registered only while it runs.
	Command     []string
	KillTimeout time.Duration
}

type flags struct {
	attrs       []string
	endpoints   []string
	maintenance bool
	check       check.Config
}

// NewCmdRegister parses flags into Options and hands them to runF (or Run).
func NewCmdRegister(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	var fl flags
	cmd := &cobra.Command{
		Use:   "register SERVICE --port N [--check URL] [-- CMD ARGS...]",
		Short: "Register this machine as a provider of SERVICE until stopped (provide_service)",
		Long: `Register this machine as a provider of SERVICE and hold the registration
until svcdisco is stopped.

The provider is an ephemeral znode <chroot><root>/services/SERVICE/HOST:PORT@MILLIS
holding the provider JSON. SIGTERM or SIGINT deletes it and closes the session
before exiting 0, so watchers see the provider vanish at once. If svcdisco is
killed, the provider vanishes when the session expires (--session-timeout).
After a session expiry (e.g. a long pause) it is re-registered on a new
session, with a new timestamp, never twice. SIGHUP is ignored.

--check makes the registration follow a health check (Nerve's rise/fall):
  http://127.0.0.1:8080/health    up on 2xx/3xx
  tcp://127.0.0.1:8080            up when a connection opens
  'exec:/usr/local/bin/probe -q'  up when the command exits 0 (run by sh -c)
The provider starts down; after --rise consecutive passes it is registered,
after --fall consecutive failures it is deleted, and when it comes back it
is registered anew with a new timestamp. Flapping inside the thresholds
never writes to the registry.

With -- CMD ARGS..., svcdisco starts CMD in its own process group and holds
the registration only while CMD runs (and its check is up). When CMD exits,
svcdisco deregisters and exits with CMD's exit code. SIGTERM, SIGINT or
SIGHUP deregisters FIRST (drain), then is forwarded to CMD's process group;
whatever is left after --kill-timeout is SIGKILLed. CMD's output is passed
through unchanged.

--timeout bounds the first registration (exit 4 if the registry cannot be
reached in time); after that svcdisco keeps trying for as long as it runs.`,
		Example: `  svcdisco register web --port 8080
  svcdisco register web --port 8080 --attr zone=us-east-1a --attr version=1.4.2 \
      --endpoint admin=host1.example.com:9090 --weight 2
  svcdisco register web --port 8080 --check http://127.0.0.1:8080/health --rise 2 --fall 3
  svcdisco register web --port 8080 --check tcp://127.0.0.1:8080 -- /usr/bin/webapp --port 8080`,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				args = args[:n]
			}
			return cmdutil.ExactArgs(1, "one SERVICE (then -- CMD ARGS... to wrap a command)")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				opts.Command = args[n:]
				if len(opts.Command) == 0 {
					return exitcode.Usagef("register: nothing after --: want -- CMD ARGS...")
				}
			}
			if err := opts.complete(args[0], fl); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	p := &opts.Provider
	fs := cmd.Flags()
	fs.IntVar(&p.Port, "port", 0, "port the provider serves on (required)")
	fs.StringVar(&p.Host, "host", "", "host name to register (default: this machine's FQDN)")
	fs.StringVar(&p.Address, "address", "", "IP address to register (default: this machine's primary IP)")
	fs.StringVar(&p.ID, "id", "", "provider ID (default: SERVICE-HOST-PORT)")
	fs.StringArrayVar(&fl.attrs, "attr", nil, "attribute key=value (repeatable)")
	fs.StringArrayVar(&fl.endpoints, "endpoint", nil, "extra endpoint name=host:port (repeatable)")
	fs.IntVar(&p.Weight, "weight", 1, "relative weight for load balancers")
	fs.BoolVar(&fl.maintenance, "maintenance", false, "register in maintenance (listed only with query --include-maintenance)")
	fs.StringVar(&fl.check.Target, "check", "", "health check: http://…, https://…, tcp://host:port or exec:COMMAND")
	fs.DurationVar(&fl.check.Interval, "check-interval", check.DefaultInterval, "time between health checks")
	fs.DurationVar(&fl.check.Timeout, "check-timeout", check.DefaultTimeout, "time a health check may take")
	fs.IntVar(&fl.check.Rise, "rise", check.DefaultRise, "consecutive passing checks before the provider is registered")
	fs.IntVar(&fl.check.Fall, "fall", check.DefaultFall, "consecutive failing checks before the provider is deregistered")
	fs.DurationVar(&opts.KillTimeout, "kill-timeout", register.DefaultKillTimeout, "with -- CMD: grace between the forwarded signal and SIGKILL")
	_ = cmd.MarkFlagRequired("port")
	return cmd
}

func (opts *Options) complete(service string, fl flags) error {
	p := &opts.Provider
	p.Service = service
	if p.Host == "" {
		p.Host = register.DefaultHost()
	}
	if p.Address == "" {
		p.Address = register.DefaultAddress()
	} else if net.ParseIP(p.Address) == nil {
		return exitcode.Usagef("register: invalid --address %q: want an IP address", p.Address)
	}
	if err := register.ValidateID(p.ID); err != nil {
		return exitcode.New(exitcode.Usage, fmt.Errorf("register: %w", err))
	}
	var err error
	if p.Attributes, err = register.ParseAttrs(fl.attrs); err != nil {
		return err
	}
	if p.Endpoints, err = register.ParseEndpoints(fl.endpoints); err != nil {
		return err
	}
	if fl.maintenance {
		p.Status = registry.StatusMaintenance
	}
	if err := p.Validate(); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	if fl.check.Target != "" {
		if fl.check.Interval <= 0 || fl.check.Timeout <= 0 || fl.check.Rise < 1 || fl.check.Fall < 1 {
			return exitcode.Usagef("register: --check-interval, --check-timeout must be positive and --rise, --fall at least 1")
		}
		if err := fl.check.Validate(); err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
		c := fl.check
		opts.Check = &c
	}
	if opts.KillTimeout <= 0 {
		return exitcode.Usagef("register: invalid --kill-timeout %s: must be positive", opts.KillTimeout)
	}
	return nil
}

// Run registers and holds until SIGTERM/SIGINT, or wraps opts.Command.
func Run(ctx context.Context, opts *Options) error {
	// Catch the stop signals before connecting, so a stop while
	// connecting is not the default (abrupt) exit.
	sigs := make(chan os.Signal, 1)
	stopSignals := child.Signals
	if opts.Command == nil {
		stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT}
		ignoreHUP(opts.F)
	}
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg, stopped, err := opts.F.OpenRegistryUnlessStopped(ctx, sigs)
	if stopped { // signalled while connecting
		return nil
	}
	if err != nil {
		return err
	}
	if opts.F.MirrorConfigured() != "" {
		reg = opts.F.Mirrored(reg, opts.F.Config)
	}
	defer reg.Close()
	in := register.KeepInput{
		Registry: reg,
		Provider: opts.Provider,
		Check:    opts.Check,
		Timeout:  opts.F.TimeoutValue(),
		Logger:   opts.F.Logger,
		OnChange: func(up bool, p registry.Provider) {
			switch {
			case up && opts.Command != nil: // stdout belongs to CMD
				opts.F.Logger.Info("registered", "service", p.Service, "id", p.ID, "addr", p.Addr())
			case up:
				fmt.Fprintf(opts.F.IO.Out, "registered %s provider %s at %s\n", p.Service, p.ID, p.Addr())
			default:
				opts.F.Logger.Info("deregistered", "service", p.Service, "id", p.ID)
			}
		},
	}
	if opts.Command != nil {
		return wrap(ctx, opts, in, sigs)
	}
	if opts.Check != nil {
		in.RetryEvery = opts.Check.Interval
	}
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	go func() {
		select {
		case <-sigs:
			kcancel()
		case <-kctx.Done():
		}
	}()
	return register.Keep(kctx, in)
}

// wrap runs `register -- CMD` and turns CMD's exit code into ours.
func wrap(ctx context.Context, opts *Options, in register.KeepInput, sigs <-chan os.Signal) error {
	in.RetryEvery = time.Second
	if opts.Check != nil {
		in.RetryEvery = opts.Check.Interval
	}
	res, err := register.Wrap(ctx, register.WrapInput{
		Keep:        in,
		Command:     opts.Command,
		KillTimeout: opts.KillTimeout,
		Signals:     sigs,
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
	})
	if err != nil && res.ExitCode == 127 {
		// Could not start: 127, as shells say "command not found".
		return exitcode.New(127, fmt.Errorf("register: %w", err))
	}
	if err != nil {
		opts.F.Logger.Warn("registration trouble", "err", err)
	}
	if res.ExitCode != 0 {
		return exitcode.New(res.ExitCode, fmt.Errorf("%s exited with code %d", opts.Command[0], res.ExitCode))
	}
	return nil
}

func ignoreHUP(f *cmdutil.Factory) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			f.Logger.Info("SIGHUP: nothing to reload for a single registration")
		}
	}()
}
