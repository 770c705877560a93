// Package lock is `svcdisco lock`: run a command only while holding an
// exclusive lock and while its mounts are there.
package lock

import (
	"context"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/lock"
	"github.com/svcdisco/svcdisco/register/child"
	"github.com/svcdisco/svcdisco/registry"
)

// Options is everything `lock` needs, parsed from flags.
type Options struct {
	F             *cmdutil.Factory
	Name          string
	Limit         int
	Mounts        []string
	Grace         time.Duration
	Wait          time.Duration
	CheckInterval time.Duration
	StatTimeout   time.Duration
	Command       []string
}

const long = `Take the exclusive lock NAME, check every --require-mount, then run CMD
(in its own process group, with SVCDISCO_LOCK_NAME and SVCDISCO_LOCK_TOKEN in
its environment) for as long as the lock is held and the mounts are there.

The child is stopped (SIGTERM to its group, --grace, then SIGKILL) when the
lock node is gone or the session expired, when nothing has been heard from
ZooKeeper for half the negotiated session timeout (then the grace is capped
at a quarter of it, so the child is dead before the server can expire the
session and grant the lock to someone else), or when a mount check fails.
The lock is released only after the child and its whole tree are dead. As
root, CMD runs as PID 1 of its own PID namespace, so a SIGKILL of svcdisco
takes CMD's whole tree with it.

A required mount is a directory whose device differs from its parent's (or
that /proc/self/mountinfo lists) and whose stat answers within
--stat-timeout; it is re-checked every --check-interval while CMD runs.

Without -- CMD, svcdisco prints "locked NAME token N" once acquired and
holds the lock until SIGTERM/SIGINT.

ZooKeeper: nodes <chroot><root>/locks/NAME/_c_<uuid>-lock-<seq>, Curator's
InterProcessMutex layout (they exclude Curator users of the same path);
the token is the lock node's czxid. Consul: the key <root>/locks/NAME/.lock
as "consul lock <root>/locks/NAME" uses it; the token is the key's
ModifyIndex after the acquire.

--limit N (N > 1, Consul only) holds one of N slots instead, with the
layout of "consul lock -n N <root>/locks/NAME" (state in .lock, one
contender key per session), so both count against the same N. ZooKeeper
and etcd have no counting lock: --limit above 1 exits 2 there.

Exit codes: CMD's own when it exits by itself · 10 not acquired within
--wait (the message names the holder) · 11 lock lost · 12 a required mount
is missing or hung · 4 registry unreachable · 2 bad input · 127 CMD not found.`

// NewCmdLock parses flags into Options and hands them to runF (or Run).
func NewCmdLock(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "lock NAME [--require-mount PATH]... [--wait D] [-- CMD ARGS...]",
		Short: "Run CMD only while holding the exclusive lock NAME (and its mounts are there)",
		Long:  long,
		Example: `  svcdisco lock mysql-main --require-mount /srv/mysql -- /usr/bin/mysqld_safe
  svcdisco lock nightly-report --wait 10s -- /usr/local/bin/report
  svcdisco lock maintenance-window     # prints one line once held; SIGTERM releases`,
		Args: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				args = args[:n]
			}
			return cmdutil.ExactArgs(1, "one lock NAME (then -- CMD ARGS... to wrap a command)")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := cmd.ArgsLenAtDash(); n >= 0 {
				opts.Command = args[n:]
				if len(opts.Command) == 0 {
					return exitcode.Usagef("lock: nothing after --: want -- CMD ARGS...")
				}
			}
			opts.Name = args[0]
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&opts.Limit, "limit", 1, "hold one of N slots of a counting lock, as `consul lock -n N` does (Consul only)")
	fs.StringArrayVar(&opts.Mounts, "require-mount", nil, "PATH that must be a mounted, answering file system (repeatable)")
	fs.DurationVar(&opts.Grace, "grace", child.DefaultGrace, "time between SIGTERM and SIGKILL when stopping CMD")
	fs.DurationVar(&opts.Wait, "wait", 0, "give up (exit 10) if the lock is still held elsewhere after this long (0: wait until signalled)")
	fs.DurationVar(&opts.CheckInterval, "check-interval", time.Second, "time between mount checks while CMD runs")
	fs.DurationVar(&opts.StatTimeout, "stat-timeout", lock.DefaultStatTimeout, "a required mount whose stat takes longer counts as missing")
	return cmd
}

func (opts *Options) validate() error {
	if err := registry.ValidateService(opts.Name); err != nil {
		return exitcode.Usagef("lock: invalid lock name: %v", err)
	}
	for name, d := range map[string]time.Duration{"--grace": opts.Grace, "--check-interval": opts.CheckInterval, "--stat-timeout": opts.StatTimeout} {
		if d <= 0 {
			return exitcode.Usagef("lock: invalid %s %s: must be positive", name, d)
		}
	}
	if opts.Limit < 1 {
		return exitcode.Usagef("lock: invalid --limit %d: must be at least 1", opts.Limit)
	}
	if opts.Wait < 0 {
		return exitcode.Usagef("lock: invalid --wait %s: must not be negative", opts.Wait)
	}
	for _, m := range opts.Mounts {
		if m == "" {
			return exitcode.Usagef("lock: empty --require-mount")
		}
	}
	return nil
}

// Run connects, then hands over to lock.Run.
func Run(ctx context.Context, opts *Options) error {
	if m := opts.F.MirrorConfigured(); m != "" {
		return exitcode.Usagef("lock: --mirror %s: a lock has one home and is never mirrored (two ensembles could each grant it); unset mirror for lock", registry.Redact(m))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, child.Signals...)
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
	backend := registry.Registry(reg)
	if w, ok := reg.(interface{ Current() registry.Registry }); ok {
		backend = w.Current() // exhibitor://: the lock lives on the ZooKeeper session
	}
	locker, ok := backend.(coord.Locker)
	if !ok {
		return exitcode.Usagef("lock: the %T registry has no locks (use zk://, exhibitor://, consul:// or etcd://)", backend)
	}
	sem, _ := backend.(coord.Semaphorer)
	if opts.Limit > 1 && sem == nil {
		return exitcode.Usagef("lock: the %T registry has no counting lock for --limit %d (use consul://)", backend, opts.Limit)
	}
	out := opts.F.IO.Out
	if len(opts.Command) > 0 {
		out = os.Stdout // CMD writes straight to our stdout
	}
	_, err = lock.Run(ctx, lock.Input{
		Locker:        locker,
		Name:          opts.Name,
		Limit:         opts.Limit,
		Semaphorer:    sem,
		Mounts:        opts.Mounts,
		CheckInterval: opts.CheckInterval,
		StatTimeout:   opts.StatTimeout,
		Wait:          opts.Wait,
		Grace:         opts.Grace,
		Command:       opts.Command,
		Signals:       sigs,
		Stdin:         os.Stdin,
		Stdout:        out,
		Stderr:        os.Stderr,
		Logger:        opts.F.Logger,
	})
	return err
}
