// Package services is `svcdisco services`: every service with its provider
// count.
package services

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/query"
)

// Options is everything `services` needs.
type Options struct {
	F      *cmdutil.Factory
	Output string
}

// NewCmdServices parses flags into Options and hands them to runF (or Run).
func NewCmdServices(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:   "services",
		Short: "List every service with its provider count",
		Long: `List every service with its provider count: how many providers a plain
` + "`svcdisco query SERVICE`" + ` lists right now, on every backend. Providers in
maintenance (and, on Consul, instances whose checks do not pass) are not
counted; ` + "`query SERVICE --include-maintenance`" + ` lists them.`,
		Example: `  svcdisco services
  svcdisco services -o json | jq -r '.[].service'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := query.ParseFormat(opts.Output, query.FormatTable, query.FormatJSON); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", query.FormatTable, "output format: table or json")
	return cmd
}

// Run lists the services.
func Run(ctx context.Context, opts *Options) error {
	ctx, cancel := opts.F.Timeout(ctx)
	defer cancel()
	reg, err := opts.F.OpenReader(ctx, opts.F.Config, nil)
	if err != nil {
		return err
	}
	defer reg.Close()
	counts, err := reg.Services(ctx)
	if err != nil {
		return err
	}
	if opts.Output == query.FormatJSON {
		if counts == nil {
			return query.WriteJSON(opts.F.IO.Out, []any{})
		}
		return query.WriteJSON(opts.F.IO.Out, counts)
	}
	t := query.NewTable(opts.F.IO.Out)
	t.Header("SERVICE", "PROVIDERS")
	for _, c := range counts {
		if err := t.Append(c.Service, fmt.Sprint(c.Providers)); err != nil {
			return err
		}
	}
	return t.Render()
}
