package agent

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/svcdisco/svcdisco/internal/cmd/query"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	libquery "github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk/foreign"
)

// runQuery answers the socket's /v1/query: the command line is parsed by
// the query command's own flags (so options, validation and errors are the
// command's), run on the node cache and printed as the command prints.
// Global flags parse and are ignored: the agent's registry is the one asked.
// Each answer is kept in the agent's answer cache (answers, as the command
// would keep it), so a node whose calls all go through the agent still has
// last known good answers for --stale-ok when the agent cannot help.
func runQuery(timeout time.Duration, answers *libquery.Answers) func(context.Context, registry.Registry, []string, io.Writer) error {
	return func(ctx context.Context, reg registry.Registry, args []string, w io.Writer) error {
		if len(args) == 0 || args[0] != "query" {
			return exitcode.Usagef("node cache: only query command lines are answered, got %q", args)
		}
		var opts *query.Options
		f := cmdutil.New(&cmdutil.IOStreams{Out: io.Discard, ErrOut: io.Discard})
		cmd := query.NewCmdQuery(f, func(_ context.Context, o *query.Options) error { opts = o; return nil })
		config.AddGlobalFlags(cmd.Flags())
		cmd.SetArgs(args[1:])
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.ExecuteContext(ctx); err != nil {
			if exitcode.Of(err) != exitcode.Usage {
				err = exitcode.New(exitcode.Usage, err)
			}
			return err
		}
		if foreignSource(cmd.Flags()) {
			// Not this cache's entries: 503 sends the caller to the registry.
			return exitcode.New(exitcode.Unreachable, fmt.Errorf("node cache: --format and --path are read from the registry, not served here"))
		}
		opts.Query.Answers = answers
		ctx, cancel := context.WithTimeout(ctx, timeout+opts.Query.Wait)
		defer cancel()
		ps, err := libquery.Run(ctx, reg, opts.Query)
		if err != nil {
			return err
		}
		return libquery.Write(w, opts.Output, ps, time.Now())
	}
}

// foreignSource reports whether a query command line reads other systems'
// entries (--format other than svcdisco, or --path): the node cache holds
// svcdisco's own entries only.
func foreignSource(fs *pflag.FlagSet) bool {
	format, _ := fs.GetString("format")
	path, _ := fs.GetString("path")
	return !(foreign.Source{Format: foreign.Format(format), Path: path}).Own()
}
