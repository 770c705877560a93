// Package query is `svcdisco query`: all_providers_for_service.
package query

import (
	"context"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
)

// Options is everything `query` needs, parsed from flags.
type Options struct {
	F      *cmdutil.Factory
	Query  query.Options
	Output string
}

type flags struct {
	since string
	where []string
}

// NewCmdQuery parses flags into Options and hands them to runF (or Run).
func NewCmdQuery(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	var fl flags
	cmd := &cobra.Command{
		Use:   "query SERVICE",
		Short: "List a service's providers, oldest first (all_providers_for_service)",
		Long: `List every provider of SERVICE, oldest first (by registration time, then name).

With -o lines and no --where or --tag filter only host, port and registration time are
needed, which ZooKeeper answers in ONE getChildren round trip. Table and JSON
output read every provider's data with pipelined gets.

Providers in maintenance (svcdisco maintenance SVC on) stay registered but
are hidden unless --include-maintenance; that costs no extra round trip.

--format curator|serverset|nerve|auto reads entries other systems wrote
(Curator x-discovery, Twitter ServerSets, Airbnb Nerve) at --path; those
always cost 1 + N gets, -o lines included.

Every answer is kept in the answer cache (--answer-cache). With --stale-ok
MAXAGE, a registry that cannot be reached is answered from there if the
cached answer is at most MAXAGE old: the same output, one warning line on
stderr naming its age and the failure, and exit 6.

Exit codes: 0 ok, 2 invalid input, 3 fewer than --at-least providers,
4 registry unreachable within --timeout, 6 a stale answer (--stale-ok).`,
		Example: `  svcdisco query web
  svcdisco query web -o lines                      # host:port per line
  svcdisco query web -o json --where zone=us-east-1a --where version!=1.4.1
  svcdisco query web --tag primary --tag v2        # providers with both tags
  svcdisco query web --within-last 10m --latest    # provider_for_service
  svcdisco query web --at-least 2 --wait 30s       # exit 3 if still fewer
  svcdisco query web --format curator --path /discovery/{service}
  svcdisco query web --format serverset --path /twitter/service/web/prod
  svcdisco query web --stale-ok 1h                 # ensemble down: last answer, exit 6`,
		Args: cmdutil.ExactArgs(1, "one SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(args[0], fl); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&fl.since, "since", "", "only providers registered at or after this RFC 3339 time")
	fs.DurationVar(&opts.Query.WithinLast, "within-last", 0, "only providers registered within this long (e.g. 10m)")
	fs.IntVar(&opts.Query.AtLeast, "at-least", 0, "require at least N providers (exit 3 otherwise)")
	fs.DurationVar(&opts.Query.Wait, "wait", 0, "with --at-least: wait up to this long for N providers")
	fs.StringArrayVar(&fl.where, "where", nil, "attribute filter key=value or key!=value (repeatable, all must match)")
	fs.StringArrayVar(&opts.Query.Tags, "tag", nil, "only providers with this tag (repeatable, all must match)")
	fs.BoolVar(&opts.Query.IncludeMaintenance, "include-maintenance", false, "also list providers in maintenance (svcdisco maintenance SVC on)")
	fs.BoolVar(&opts.Query.Latest, "latest", false, "only the newest provider (provider_for_service)")
	fs.StringVarP(&opts.Output, "output", "o", query.FormatTable, "output format: table, json or lines (host:port)")
	cmdutil.AddReaderFlags(cmd)
	return cmd
}

func (opts *Options) complete(service string, fl flags) error {
	opts.Query.Service = service
	if fl.since != "" {
		t, err := time.Parse(time.RFC3339Nano, fl.since)
		if err != nil {
			return exitcode.Usagef("invalid --since %q: want an RFC 3339 time like 2026-11-22T10:00:00Z", fl.since)
		}
		opts.Query.Since = t
	}
	for _, w := range fl.where {
		f, err := query.ParseFilter(w)
		if err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
		opts.Query.Where = append(opts.Query.Where, f)
	}
	format, err := query.ParseFormat(opts.Output, query.FormatTable, query.FormatJSON, query.FormatLines)
	if err != nil {
		return err
	}
	opts.Output = format
	opts.Query.FieldsOnly = query.NeedsOnlyFields(format)
	return opts.Query.Validate()
}

// Run connects (within --timeout), queries (waiting up to --wait more) and
// prints.
//
// A registry that cannot be reached is answered from the answer cache when
// --stale-ok allows it: the output is written and the stale warning is
// returned as the error (exit 6), so it is the one line on stderr.
func Run(ctx context.Context, opts *Options) error {
	if opts.Query.Answers == nil {
		opts.Query.Answers = opts.F.Answers()
	}
	if opts.Query.FieldsOnly && os.Getenv("GOGC") == "" {
		// A fields-only answer is bounded by ZooKeeper's 1 MB getChildren
		// reply, so this process's heap stays small whatever the fleet;
		// collecting it every 4 MB was a quarter of `-o lines` CPU time at
		// 10,000 providers (make bench). GOGC set by the caller wins.
		debug.SetGCPercent(400)
	}
	ps, err := ask(ctx, opts)
	if err != nil {
		ps, err = query.FromCache(opts.Query, err)
		if !query.IsStale(err) {
			return err
		}
	}
	if werr := query.Write(opts.F.IO.Out, opts.Output, ps, time.Now()); werr != nil {
		return werr
	}
	return err
}

// ask connects (within --timeout) and queries (waiting up to --wait more).
func ask(ctx context.Context, opts *Options) ([]registry.Provider, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.F.TimeoutValue()+opts.Query.Wait)
	defer cancel()
	cctx, ccancel := opts.F.Timeout(ctx)
	reg, err := opts.F.OpenReader(cctx, opts.F.Config, nil)
	ccancel()
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	return query.Run(ctx, reg, opts.Query)
}
