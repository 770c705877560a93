package root

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
)

// CompletionTimeout bounds the registry round trip behind completing a
// service name: a shell must not hang on an unreachable registry (--timeout
// wins when shorter).
const CompletionTimeout = 2 * time.Second

// outputFormats are the -o values of every command that has -o, by
// command path (without the program's name).
var outputFormats = map[string][]string{
	"query":          {"table", "json", "lines"},
	"services":       {"table", "json"},
	"leader":         {"text", "json", "lines"},
	"ensemble":       {"text", "json"},
	"chroot prime":   {"text", "json"},
	"chroot check":   {"text", "json"},
	"chroot export":  {"text", "json"},
	"chroot import":  {"text", "json"},
	"migrate copy":   {"table", "json"},
	"migrate verify": {"table", "json"},
}

// serviceArgCommands take a service name as their first argument.
var serviceArgCommands = map[string]bool{"query": true, "register": true, "maintenance": true}

// addCompletions registers value completion on the whole tree: -o,
// --report, --log-level, --log-format, and service names (asked of the
// registry) for the commands taking one.
func addCompletions(root *cobra.Command, f *cmdutil.Factory) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
	}
	_ = root.RegisterFlagCompletionFunc("log-level", fixed(config.LogLevels...))
	_ = root.RegisterFlagCompletionFunc("log-format", fixed(config.LogFormats...))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := cmdutil.CommandName(c)
		// Flags(), not LocalNonPersistentFlags(): that builds a new flag set
		// per command, which every process paid at start-up for the whole
		// tree (3% of a `query -o lines` at 10 providers).
		if vs, ok := outputFormats[path]; ok && c.Flags().Lookup("output") != nil {
			_ = c.RegisterFlagCompletionFunc("output", fixed(vs...))
		}
		if path == "render" {
			_ = c.RegisterFlagCompletionFunc("report", fixed("text", "json"))
		}
		if serviceArgCommands[path] {
			c.ValidArgsFunction = completeServices(f)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeServices completes the first argument with the registry's
// service names, within CompletionTimeout; an unreachable registry
// completes nothing rather than hang the shell.
func completeServices(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		const none = cobra.ShellCompDirectiveNoFileComp
		if len(args) > 0 {
			return nil, none
		}
		if err := f.Init(cmd); err != nil { // PersistentPreRunE does not run for completions
			return nil, none
		}
		f.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, min(CompletionTimeout, f.TimeoutValue()))
		defer cancel()
		reg, err := f.OpenRegistry(ctx)
		if err != nil {
			return nil, none
		}
		defer reg.Close()
		svcs, err := reg.Services(ctx)
		if err != nil {
			return nil, none
		}
		var names []cobra.Completion
		for _, s := range svcs {
			if strings.HasPrefix(s.Service, toComplete) {
				names = append(names, s.Service)
			}
		}
		sort.Strings(names)
		return names, none
	}
}
