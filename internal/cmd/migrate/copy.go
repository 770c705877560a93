package migrate

import (
	"context"
	"fmt"
	"path"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/migrate"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

func newCmdCopy(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "copy --from URL --to URL [--path P] [--dry-run] [--acl]",
		Short: "Copy the persistent part of a tree to another ensemble",
		Long: `Copy every persistent znode under --path (default: --root), inside the --from
URL's chroot, to the same path inside the --to URL's chroot: the chroot and
root, service directories, election and lock directories, their data.
Missing parents are created. Existing znodes are left as they are; one whose
data differs is reported as a conflict.

Not copied, and reported: ephemeral znodes (registrations, candidacies,
locks: only the sessions owning them can recreate them, which --mirror
does), and sequence counters (a parent's counter cannot be set, so
sequential children on the new ensemble start from 0). ACLs are copied
with --acl; otherwise copies get an open ACL.

Exit 0 when everything was copied (or already there), 1 with conflicts,
2 on bad input, 4 when an ensemble cannot be reached in --timeout.`,
		Example: `  svcdisco migrate copy --from zk://old1:2181/prod --to zk://new1:2181/prod --dry-run
  svcdisco migrate copy --from zk://old1:2181/prod --to zk://new1:2181/prod --acl`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check("copy"); err != nil {
				return err
			}
			if opts.Path != "" {
				if err := registry.ValidatePath(opts.Path); err != nil {
					return exitcode.Usagef("migrate copy: --path: %v", err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunCopy(cmd.Context(), opts)
		},
	}
	addSides(cmd, opts)
	cmd.Flags().StringVar(&opts.Path, "path", "", "subtree to copy, inside each URL's chroot (default: --root; / for the whole chroot)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "report what would be copied; write nothing")
	cmd.Flags().BoolVar(&opts.ACL, "acl", false, "copy each znode's ACL (default: an open ACL)")
	return cmd
}

// RunCopy connects to both ensembles (without their chroots) and copies.
func RunCopy(ctx context.Context, opts *Options) error {
	ctx, cancel := opts.F.Timeout(ctx)
	defer cancel()
	from, fu, err := dial.OpenZK(ctx, opts.dialOptions(opts.From))
	if err != nil {
		return fmt.Errorf("migrate copy: --from: %w", err)
	}
	defer from.Close()
	to, tu, err := dial.OpenZK(ctx, opts.dialOptions(opts.To))
	if err != nil {
		return fmt.Errorf("migrate copy: --to: %w", err)
	}
	defer to.Close()
	p := opts.Path
	if p == "" {
		p = opts.F.Config.Root
	}
	res, err := migrate.Copy(ctx, migrate.CopyInput{
		From: from.Conn(), To: to.Conn(), FromPath: under(fu.Chroot, p), ToPath: under(tu.Chroot, p),
		ACL: opts.ACL, DryRun: opts.DryRun,
	})
	if err != nil {
		return err
	}
	if opts.Output == query.FormatJSON {
		if err := writeJSON(opts.F.IO.Out, res); err != nil {
			return err
		}
	} else {
		writeCopy(opts, res)
	}
	if len(res.Conflicts) > 0 {
		return exitcode.New(exitcode.Failure, fmt.Errorf("migrate copy: %d conflicts on --to", len(res.Conflicts)))
	}
	return nil
}

func under(chroot, p string) string {
	if chroot == "" {
		return p
	}
	return path.Clean(chroot + p)
}

func writeCopy(opts *Options, res *migrate.CopyResult) {
	w := opts.F.IO.Out
	verb := "copied"
	if res.DryRun {
		verb = "would copy"
	}
	fmt.Fprintf(w, "%s %d znodes (%d already there), %d conflicts\n", verb, len(res.Created), res.Unchanged, len(res.Conflicts))
	for _, c := range res.Created {
		fmt.Fprintf(w, "  + %s\n", c)
	}
	for _, c := range res.Conflicts {
		fmt.Fprintf(w, "  ! %s: %s\n", c.Path, c.Reason)
	}
	fmt.Fprintf(w, "skipped %d ephemeral znodes (only their owners can recreate them: mirror them with --mirror)\n", len(res.Ephemerals))
	for _, s := range res.SequenceCounters {
		fmt.Fprintf(w, "sequence counter not copied: %s (at %d here; sequential children there start from 0)\n", s.Path, s.Cversion)
	}
}
