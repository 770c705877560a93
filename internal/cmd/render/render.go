// Package render is `svcdisco render`: the templating engine's command.
package render

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
	"github.com/svcdisco/svcdisco/templates"
)

// Report formats.
const (
	ReportText = "text"
	ReportJSON = "json"
)

// Options is everything `render` needs, parsed from flags.
type Options struct {
	F              *cmdutil.Factory
	Templates      []string // --template SRC:DEST[:COMMAND]
	Watch          bool
	DryRun         bool
	Wait           templates.Wait
	Report         string
	CommandTimeout time.Duration
	// MaxSize bounds each template's output (and source), in bytes, for
	// templates whose stanza sets no max_size.
	MaxSize int64
	// Settle is watch mode's settle window; 0 = twice the session timeout.
	Settle time.Duration
	// FunctionDenylist is added to every template's function_denylist;
	// SandboxPath is the sandbox_path of templates without their own.
	FunctionDenylist []string
	SandboxPath      string
	// Reload re-reads the configuration (SIGHUP in watch mode).
	Reload func() (*config.Config, error)
	// Ensemble answers the templates' `ensemble` function for cfg; nil uses
	// the registry's own chain (Exhibitor → cache → backup for exhibitor://).
	// Tests replace it.
	Ensemble func(ctx context.Context, cfg *config.Config) (string, error)
	// MetricsAddr serves Prometheus metrics in watch mode ("" none).
	MetricsAddr string

	pass *firstPass // watch mode: READY=1 after every template's first pass
}

// NewCmdRender parses flags into Options and hands them to runF (or Run).
func NewCmdRender(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{F: f}
	var once bool
	var wait, maxSize string
	cmd := &cobra.Command{
		Use:   "render --template SRC:DEST[:COMMAND]... [--once | --watch]",
		Short: "Render config files from providers, once (Chef) or continuously",
		Long:  longHelp,
		Example: `  svcdisco render --once --template haproxy.cfg.tmpl:/etc/haproxy/haproxy.cfg:'systemctl reload haproxy'
  svcdisco render --once --config /etc/svcdisco/render.yaml --report json
  svcdisco render --once --dry-run --template nginx.tmpl:/etc/nginx/conf.d/web.conf
  svcdisco render --watch --wait 2s:10s --config /etc/svcdisco/render.yaml`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if once && opts.Watch {
				return exitcode.Usagef("render: --once and --watch are mutually exclusive")
			}
			w, err := templates.ParseWait(wait)
			if err != nil {
				return exitcode.Usagef("--wait: %v", err)
			}
			opts.Wait = w
			if opts.MaxSize, err = templates.ParseSize(maxSize); err != nil {
				return exitcode.Usagef("--max-size: %v", err)
			}
			if opts.Settle < 0 {
				return exitcode.Usagef("invalid --settle %s: must not be negative", opts.Settle)
			}
			if opts.MetricsAddr != "" && !opts.Watch {
				return exitcode.Usagef("render: --metrics-addr needs --watch")
			}
			if opts.Report != ReportText && opts.Report != ReportJSON {
				return exitcode.Usagef("invalid --report %q: want text or json", opts.Report)
			}
			opts.Reload = func() (*config.Config, error) { return config.Load(cmd.Flags()) }
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&opts.Templates, "template", nil, "SRC:DEST[:COMMAND] (repeatable); COMMAND runs through sh -c when DEST changed")
	fs.BoolVar(&once, "once", false, "render once and exit (the default)")
	fs.BoolVar(&opts.Watch, "watch", false, "keep running: re-render when providers change")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "print a unified diff against each destination; write nothing, run nothing")
	fs.StringVar(&wait, "wait", "", "watch mode debounce MIN:MAX (e.g. 200ms:1s) for templates without their own wait")
	fs.StringVar(&opts.Report, "report", ReportText, "once mode report on stdout: text or json")
	fs.DurationVar(&opts.CommandTimeout, "command-timeout", time.Minute, "bound on each check_command and reload command")
	fs.StringSliceVar(&opts.FunctionDenylist, "function-denylist", nil, "template functions no template may call, e.g. env,file (added to each template's function_denylist)")
	fs.StringVar(&opts.SandboxPath, "sandbox-path", "", "directory the template function file may read in (a template's sandbox_path wins); none: file is off")
	fs.StringVar(&maxSize, "max-size", "16MiB", "largest output (and source) of a template, e.g. 512KiB; a template's max_size wins")
	cmdutil.AddReaderFlags(cmd)
	fs.StringVar(&opts.MetricsAddr, "metrics-addr", "", "watch mode: serve Prometheus metrics on this host:port, e.g. 127.0.0.1:9464 (default: none)")
	fs.DurationVar(&opts.Settle, "settle", 0, "watch mode: after the registry comes back or every provider was replaced, how long no file shrinks and reloads are rate-limited (default twice --session-timeout)")
	return cmd
}

// Run renders once (bounded by --timeout) or watches until SIGTERM/SIGINT.
func Run(ctx context.Context, opts *Options) error {
	ts, err := opts.load(opts.config())
	if err != nil {
		if !opts.Watch { // a report was promised for every once run
			if werr := writeReport(opts.F.IO.Out, opts.Report, nil, err); werr != nil {
				return werr
			}
		}
		return err
	}
	if opts.Watch {
		return runWatch(ctx, opts, ts)
	}
	return runOnce(ctx, opts, ts)
}

func (opts *Options) config() *config.Config {
	if opts.F.Config != nil {
		return opts.F.Config
	}
	return &config.Defaults
}

// engineOptions are the templates.Options for cfg.
func (opts *Options) engineOptions(ctx context.Context, cfg *config.Config, ts []*templates.Template) templates.Options {
	return templates.Options{
		Templates: ts,
		Open: func(ctx context.Context) (registry.Registry, error) {
			cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			per, err := cfg.TemplateSources() // checked when cfg was loaded
			if err != nil {
				return nil, exitcode.New(exitcode.Usage, err)
			}
			if !opts.Watch { // a watching render holds its own session anyway
				return opts.F.OpenReader(cctx, cfg, per)
			}
			return opts.F.OpenSourced(cctx, cfg, per)
		},
		Ensemble: func() (string, error) {
			if opts.Ensemble != nil {
				return opts.Ensemble(ctx, cfg)
			}
			return opts.ensemble(ctx, cfg)
		},
		Settle:         opts.settle(cfg),
		DryRun:         opts.DryRun,
		CommandOutput:  opts.F.IO.ErrOut,
		CommandTimeout: opts.CommandTimeout,
		Logger:         opts.F.Logger,
		Answers:        opts.F.AnswersFor(cfg),
		OnResult: func(r templates.Result) {
			if !opts.Watch {
				return
			}
			if r.Diff != "" { // a watching dry run shows each change
				fmt.Fprint(opts.F.IO.Out, r.Diff)
			}
			recordMetrics(r)
			opts.pass.observe(r)
		},
	}
}

// settle is the settle window: --settle, else twice the session timeout
// (providers re-register within one session timeout or TTL of the
// registry coming back).
func (opts *Options) settle(cfg *config.Config) time.Duration {
	if opts.Settle > 0 {
		return opts.Settle
	}
	return 2 * cfg.SessionTimeout
}

// ensemble answers the templates' `ensemble` function: the sorted
// connection string with the chroot, h1:2181,h2:2181/chroot. For an
// exhibitor:// registry it comes from Exhibitor, else its cache, else the
// backup list — the same chain every command uses.
func (opts *Options) ensemble(ctx context.Context, cfg *config.Config) (string, error) {
	ens, u, err := dial.Ensemble(ctx, opts.F.DialOptionsFor(cfg))
	if err != nil {
		return "", err
	}
	return registry.ConnectString(ens.Servers, u.Chroot), nil
}
