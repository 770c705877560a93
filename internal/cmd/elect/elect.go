// Package elect is `svcdisco elect`: contend for a group's leadership.
package elect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/elect"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/sdnotify"
	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/register/child"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Options is everything `elect` needs, parsed from flags.
type Options struct {
	F     *cmdutil.Factory
	Group string
	Me    registry.Provider
	// Command, when set, runs only while leading.
	Command []string
	Grace   time.Duration
	// Reload re-reads the configuration (SIGHUP without CMD, a changed
	// config file) to follow a changed mirror.
	Reload func() (*config.Config, error)
}

// NewCmdElect parses flags into Options and hands them to runF (or Run).
func NewCmdElect(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	var attrs []string
	cmd := &cobra.Command{
		Use:   "elect GROUP [--id ID] [--host H] [--port P] [--attr k=v]... [-- CMD ARGS...]",
		Short: "Contend for the leadership of GROUP; run CMD only while leading",
		Long: `Join the election GROUP and hold the candidacy until SIGTERM or SIGINT.

At most one contender of a group leads at a time. On ZooKeeper a contender
is an ephemeral sequential znode <chroot><root>/elections/GROUP/json.info_<seq>
holding a MasterInfo-shaped JSON (Mesos' contender layout, so Mesos tools
read it); the lowest sequence leads once a read confirms its session owns it.
On Consul the leader holds the lock <root>/elections/GROUP/.lock, whose value
is the leader's JSON. Every term has a fencing token that strictly increases
from one leader to the next.

Without CMD, one JSON line per change is printed:
  {"leader":false,"id":"ID","token":0}     joined, standing by
  {"leader":true,"id":"ID","token":N}      elected
  {"leader":false,"id":"ID","token":N}     term N lost; standing by again

With -- CMD ARGS..., CMD starts when elected (SVCDISCO_ELECT_GROUP and
SVCDISCO_ELECT_TOKEN in its environment), in its own process group (its own
PID namespace as root) under a parent-death signal, and is stopped (SIGTERM
to its group, then SIGKILL) when the term is lost: the member is gone, the
session expired, or svcdisco heard nothing from ZooKeeper for half the
negotiated session timeout. It must be dead before another contender can
be elected, so the grace then is at most a quarter of the session timeout.
svcdisco then exits 11 (like a Mesos master, it does not stand by again:
let systemd restart it). CMD exiting ends the candidacy with CMD's code;
SIGTERM or SIGINT is forwarded to CMD's group, --grace, SIGKILL, exit 0.

With --mirror URL (ZooKeeper only) the registry alone decides; the leader's
member is copied into the mirror under the same name (ephemeral, not
sequential, on a mirror session of its own) so detectors on either
ensemble name the same leader. A contender never joins an election that
holds members mirrored from another ensemble: it waits until every
contender there has stopped, so a group moves between ensembles without a
second leader. A mirror that is down never holds the election up. A
changed mirror in the configuration (SIGHUP without CMD, or the config
file changing) is followed without touching the candidacy; a changed
registry needs a restart.

Exit codes: 0 ok, 2 invalid input, 4 registry unreachable within
--timeout, 11 leadership lost (CMD stopped), 127 CMD not found, else CMD's.`,
		Example: `  svcdisco elect scheduler --port 7070
  svcdisco elect scheduler --port 7070 --attr zone=a -- /usr/bin/scheduler --port 7070
  svcdisco leader scheduler -o lines`,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				args = args[:n]
			}
			return cmdutil.ExactArgs(1, "one GROUP (then -- CMD ARGS... to run while leading)")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				opts.Command = args[n:]
				if len(opts.Command) == 0 {
					return exitcode.Usagef("elect: nothing after --: want -- CMD ARGS...")
				}
			}
			if err := opts.complete(args[0], attrs); err != nil {
				return err
			}
			opts.Reload = func() (*config.Config, error) { return config.Load(cmd.Flags()) }
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	p := &opts.Me
	fs := cmd.Flags()
	fs.StringVar(&p.ID, "id", "", "contender ID (default: GROUP-HOST-PORT)")
	fs.StringVar(&p.Host, "host", "", "host name the leader is reached at (default: this machine's FQDN)")
	fs.StringVar(&p.Address, "address", "", "IP address (default: this machine's primary IP)")
	fs.IntVar(&p.Port, "port", 0, "port the leader serves on (0: none)")
	fs.StringArrayVar(&attrs, "attr", nil, "attribute key=value (repeatable)")
	fs.DurationVar(&opts.Grace, "grace", child.DefaultGrace, "with -- CMD: time between the forwarded signal and SIGKILL")
	return cmd
}

func (opts *Options) complete(group string, attrs []string) error {
	opts.Group = group
	p := &opts.Me
	if p.Host == "" {
		p.Host = register.DefaultHost()
	}
	if p.Address == "" {
		p.Address = register.DefaultAddress()
	}
	var err error
	if p.Attributes, err = register.ParseAttrs(attrs); err != nil {
		return err
	}
	if p.ID == "" {
		p.ID = registry.DefaultID(group, p.Host, p.Port)
	}
	if err := coord.ValidateContender(group, *p); err != nil {
		return exitcode.New(exitcode.Usage, fmt.Errorf("elect: %w", err))
	}
	if opts.Grace <= 0 {
		return exitcode.Usagef("elect: invalid --grace %s: must be positive", opts.Grace)
	}
	return nil
}

// Run connects within --timeout, contends, and turns the outcome into an
// exit code.
func Run(ctx context.Context, opts *Options) error {
	sigs := make(chan os.Signal, 1)
	stopSignals := child.Signals // forwarded to CMD
	var hup chan os.Signal       // without CMD: reload the mirror
	if opts.Command == nil {
		// SIGHUP neither stops nor kills it: it re-reads the mirror.
		stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT}
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
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
	defer reg.Close()
	sd := sdnotify.Start(ctx, opts.F.Logger) // STOPPING=1 once resigned, at exit
	defer sd.Close()
	if w, ok := reg.(interface{ Current() registry.Registry }); ok {
		reg = w.Current()
	}
	el, ok := reg.(coord.Elector)
	if !ok {
		return errors.New("elect: this registry backend has no elections")
	}
	var joined func(coord.Candidacy)
	if primary, ok := reg.(*zk.Registry); ok {
		// Always able to mirror, so that a reload can add a mirror.
		fl := &follower{f: opts.F, load: opts.Reload, cur: *opts.F.Config}
		me := &zk.MirroredElector{Primary: primary, Origin: registry.Redact(opts.F.Config.Registry)}
		if opts.F.Config.Mirror != "" {
			me.Mirror = mirrorOpener(opts.F, opts.F.Config)
		}
		el, joined = me, fl.joined
		if opts.Reload != nil {
			go fl.watch(ctx, hup, opts.F.Config.File)
		}
	} else if m := opts.F.MirrorConfigured(); m != "" {
		return exitcode.Usagef("elect: --mirror %s: elections are mirrored between ZooKeeper registries only", registry.Redact(m))
	}
	in := elect.Input{
		Elector: el, Group: opts.Group, Me: opts.Me, Command: opts.Command,
		Grace: opts.Grace, Signals: sigs, Out: opts.F.IO.Out,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Timeout: opts.F.TimeoutValue(), Logger: opts.F.Logger, Joined: joined,
		OnCandidate: func() { sd.Ready("contending for " + opts.Group) },
	}
	res, err := elect.Run(ctx, in)
	switch {
	case err != nil:
		return err
	case res.Lost != nil:
		return exitcode.New(exitcode.LockLost, fmt.Errorf("elect %s: leadership lost, command stopped: %w", opts.Group, res.Lost))
	case res.ExitCode != 0:
		return exitcode.New(res.ExitCode, fmt.Errorf("%s exited with code %d", opts.Command[0], res.ExitCode))
	}
	return nil
}
