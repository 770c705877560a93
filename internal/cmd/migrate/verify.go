package migrate

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/migrate"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

func newCmdVerify(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "verify --from URL --to URL [--wait D]",
		Short: "Check that two ensembles show the same providers and leaders (go/no-go)",
		Long: `Compare both ensembles service by service (providers by znode name, their
data, their maintenance status) and election by election (the same leader,
as ` + "`svcdisco leader`" + ` would name it on each side), and print the differences.
This is the go/no-go check before readers move to the new ensemble.

With --wait D, compare again until both sides agree or D passes.

Exit 0 only when both sides agree; 1 when they differ; 2 on bad input; 4
when an ensemble cannot be reached in --timeout.`,
		Example: `  svcdisco migrate verify --from zk://old1:2181/prod --to zk://new1:2181/prod --wait 1m
  svcdisco migrate verify --from zk://old1:2181/prod --to zk://new1:2181/prod -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check("verify"); err != nil {
				return err
			}
			if opts.Wait < 0 {
				return exitcode.Usagef("migrate verify: invalid --wait %s: must not be negative", opts.Wait)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunVerify(cmd.Context(), opts)
		},
	}
	addSides(cmd, opts)
	cmd.Flags().DurationVar(&opts.Wait, "wait", 0, "compare again until both sides agree or this passes (0: once)")
	return cmd
}

// RunVerify connects to both sides (each within --timeout) and compares.
func RunVerify(ctx context.Context, opts *Options) error {
	from, err := open(ctx, opts, "--from", opts.From)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := open(ctx, opts, "--to", opts.To)
	if err != nil {
		return err
	}
	defer to.Close()
	// Each comparison is bounded by --timeout; the waiting by --wait.
	vctx, cancel := context.WithTimeout(ctx, opts.Wait+opts.F.TimeoutValue())
	defer cancel()
	res, err := migrate.Verify(vctx, migrate.VerifyInput{From: from, To: to, Wait: opts.Wait})
	if err != nil {
		return err
	}
	if opts.Output == query.FormatJSON {
		if err := writeJSON(opts.F.IO.Out, res); err != nil {
			return err
		}
	} else if err := writeVerify(opts, res); err != nil {
		return err
	}
	if !res.Agree {
		return exitcode.New(exitcode.Failure, fmt.Errorf("migrate verify: %d differences between %s and %s",
			len(res.Differences), registry.Redact(opts.From), registry.Redact(opts.To)))
	}
	return nil
}

func open(ctx context.Context, opts *Options, flag, url string) (registry.Registry, error) {
	cctx, cancel := opts.F.Timeout(ctx)
	defer cancel()
	r, err := dial.Open(cctx, opts.dialOptions(url))
	if err != nil {
		return nil, fmt.Errorf("migrate verify: %s: %w", flag, err)
	}
	return r, nil
}

func writeVerify(opts *Options, res *migrate.VerifyResult) error {
	w := opts.F.IO.Out
	if len(res.Differences) > 0 {
		t := query.NewTable(w)
		t.Header("KIND", "NAME", "ITEM", "FROM", "TO", "REASON")
		for _, d := range res.Differences {
			if err := t.Append(d.Kind, d.Name, d.Item, d.From, d.To, d.Reason); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	verdict := "agree"
	if !res.Agree {
		verdict = fmt.Sprintf("DIFFER (%d differences)", len(res.Differences))
	}
	_, err := fmt.Fprintf(w, "%s: %d services, %d providers, %d elections\n", verdict, res.Services, res.Providers, res.Elections)
	return err
}
