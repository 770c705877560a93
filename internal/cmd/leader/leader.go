// Package leader is `svcdisco leader`: the election detector.
package leader

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Options is everything `leader` needs, parsed from flags.
type Options struct {
	F      *cmdutil.Factory
	Group  string
	Watch  bool
	Output string
	// Path, when set, is a Mesos election znode read instead of GROUP's.
	Path string
}

// NewCmdLeader parses flags into Options and hands them to runF (or Run).
func NewCmdLeader(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "leader GROUP [--watch] [-o text|json|lines] [--path /mesos]",
		Short: "Print the leader of an election (Mesos' master detector)",
		Long: `Print the current leader of the election GROUP, as held by ` + "`svcdisco elect GROUP`" + `.

On ZooKeeper the election is <chroot><root>/elections/GROUP in Mesos' layout:
the member with the lowest sequence leads. --path reads any Mesos-layout
election instead (e.g. a Mesos cluster's --zk znode, /mesos; GROUP then only
names it in the output) and -o lines prints what mesos-resolve prints, the
leader's ip:port. On Consul the leader is the holder of the election's lock.

Output: text (default), json (the leader in the provider shape, null for
none), lines (host:port). --watch prints one line per change (an empty line
or null when there is no leader) until SIGTERM or SIGINT; a watcher cut off
from the registry for longer than the session timeout reports no leader.

Exit codes: 0 ok, 2 invalid input, 3 no leader, 4 registry unreachable
within --timeout.`,
		Example: `  svcdisco leader scheduler
  svcdisco leader scheduler -o lines --watch
  svcdisco leader mesos --path /mesos -o lines --registry zk://zk1:2181,zk2:2181`,
		Args: cmdutil.ExactArgs(1, "one GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Group = args[0]
			if err := opts.complete(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.Watch, "watch", false, "print a line on every change until signalled")
	fs.StringVarP(&opts.Output, "output", "o", coord.FormatText, "output format: text, json or lines (host:port)")
	fs.StringVar(&opts.Path, "path", "", "read the Mesos-layout election at this znode (ZooKeeper only)")
	return cmd
}

func (opts *Options) complete() error {
	if err := coord.ValidateGroup(opts.Group); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	format, err := coord.ParseFormat(opts.Output)
	opts.Output = format
	return err
}

// Run connects within --timeout and prints the leader, or every change
// with --watch.
func Run(ctx context.Context, opts *Options) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cctx, cancel := opts.F.Timeout(ctx)
	defer cancel()
	reg, err := opts.F.OpenRegistry(cctx)
	if err != nil {
		if ctx.Err() != nil { // stopped while connecting
			return nil
		}
		return err
	}
	defer reg.Close()
	det, err := detector(reg, opts)
	if err != nil {
		return err
	}
	format := coord.LeaderFormat{Format: opts.Output, Group: opts.Group}
	if opts.Path != "" {
		format.Addr = func(lc coord.LeaderChange) string { return zk.ResolveAddr(lc.Leader) }
	}
	if !opts.Watch {
		lc, err := det.Leader(cctx, opts.Group)
		if err != nil {
			return err
		}
		if !lc.OK {
			return exitcode.New(exitcode.NotEnough, fmt.Errorf("leader: %s has no leader", opts.Group))
		}
		return format.Write(opts.F.IO.Out, lc)
	}
	changes, err := det.WatchLeader(ctx, opts.Group)
	if err != nil {
		return err
	}
	cancel()
	for lc := range changes {
		if err := format.Write(opts.F.IO.Out, lc); err != nil {
			return err
		}
	}
	return nil
}

// detector finds the registry's coord.Detector (through an Exhibitor
// wrapper) and, with --path, one reading that znode instead.
func detector(reg registry.Registry, opts *Options) (coord.Detector, error) {
	if w, ok := reg.(interface{ Current() registry.Registry }); ok {
		reg = w.Current()
	}
	if opts.Path != "" {
		z, ok := reg.(*zk.Registry)
		if !ok {
			return nil, exitcode.Usagef("leader --path: only ZooKeeper registries hold Mesos elections")
		}
		znode, err := z.MesosPath(opts.Path)
		if err != nil {
			return nil, err
		}
		return pathDetector{z, znode}, nil
	}
	det, ok := reg.(coord.Detector)
	if !ok {
		return nil, errors.New("leader: this registry backend has no elections")
	}
	return det, nil
}

// pathDetector reads the election at one znode whatever the group is called.
type pathDetector struct {
	z     *zk.Registry
	znode string
}

func (d pathDetector) Leader(ctx context.Context, group string) (coord.LeaderChange, error) {
	return d.z.LeaderAt(ctx, d.znode, group)
}

func (d pathDetector) WatchLeader(ctx context.Context, group string) (<-chan coord.LeaderChange, error) {
	return d.z.WatchLeaderAt(ctx, d.znode, group)
}
