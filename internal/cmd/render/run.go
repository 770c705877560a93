package render

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/sdnotify"
	"github.com/svcdisco/svcdisco/templates"
)

// load parses every template: --template flags first, then the config
// file's stanzas. Any error is a usage error naming the template.
func (opts *Options) load(cfg *config.Config) ([]*templates.Template, error) {
	var specs []templates.Spec
	for _, s := range opts.Templates {
		sp, err := templates.ParseFlag(s)
		if err != nil {
			return nil, exitcode.New(exitcode.Usage, err)
		}
		sp.Wait, sp.MaxSize = opts.Wait, opts.MaxSize
		specs = append(specs, sp)
	}

	for i, tc := range cfg.Templates {
		sp, err := specFromConfig(tc, opts.Wait)
		if err != nil {
			return nil, exitcode.Usagef("config%s: templates[%d]: %v", inFile(cfg.File), i, err)
		}
		if sp.MaxSize == 0 {
			sp.MaxSize = opts.MaxSize
		}
		specs = append(specs, sp)
	}
	for i := range specs {
		specs[i].FunctionDenylist = append(specs[i].FunctionDenylist, opts.FunctionDenylist...)
		if specs[i].SandboxPath == "" {
			specs[i].SandboxPath = opts.SandboxPath
		}
		if specs[i].RenderTimeout == 0 {
			specs[i].RenderTimeout = cfg.Timeout // one execution may take --timeout
		}
	}
	if len(specs) == 0 {
		return nil, exitcode.Usagef("render: no templates: give --template SRC:DEST or a templates: stanza in the config file")
	}
	if err := templates.CheckDestinations(specs); err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("render: %w", err))
	}
	ts := make([]*templates.Template, 0, len(specs))
	for _, sp := range specs {
		t, err := templates.Load(sp)
		if err != nil {
			return nil, exitcode.New(exitcode.Usage, err)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

func specFromConfig(tc config.TemplateConfig, defWait templates.Wait) (templates.Spec, error) {
	sp := templates.Spec{
		Source: tc.Source, Destination: tc.Destination, Command: tc.Command,
		CheckCommand: tc.CheckCommand, Backup: tc.Backup, MinProviders: tc.MinProviders,
		CreateDestDirs: tc.CreateDestDirs, Wait: defWait,
		FunctionDenylist: tc.FunctionDenylist, SandboxPath: tc.SandboxPath,
	}
	var err error
	if sp.Perms, err = templates.ParsePermsValue(tc.Perms); err != nil {
		return sp, err
	}
	if sp.MaxSize, err = templates.ParseSize(tc.MaxSize); err != nil {
		return sp, fmt.Errorf("max_size: %w", err)
	}
	if tc.RenderTimeout != "" {
		d, err := time.ParseDuration(tc.RenderTimeout)
		if err != nil || d <= 0 {
			return sp, fmt.Errorf("invalid render_timeout %q: want a positive duration like 2s", tc.RenderTimeout)
		}
		sp.RenderTimeout = d
	}
	if tc.Wait != "" {
		if sp.Wait, err = templates.ParseWait(tc.Wait); err != nil {
			return sp, err
		}
	}
	return sp, sp.Validate()
}

func inFile(path string) string {
	if path == "" {
		return ""
	}
	return " " + path
}

func runOnce(ctx context.Context, opts *Options, ts []*templates.Template) error {
	cfg := opts.config()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	results, err := templates.Once(ctx, opts.engineOptions(ctx, cfg, ts))
	if werr := writeReport(opts.F.IO.Out, opts.Report, results, err); werr != nil {
		return werr
	}
	return err
}

// writeReport prints one line per template (and dry-run diffs), or the
// same as one JSON object for Chef to parse: always with a templates array
// (empty when the run failed before any template was rendered).
func writeReport(w io.Writer, format string, results []templates.Result, runErr error) error {
	if format == ReportJSON {
		if results == nil {
			results = []templates.Result{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Templates []templates.Result `json:"templates"`
			Code      int                `json:"code"`
		}{results, exitcode.Of(runErr)})
	}
	for _, r := range results {
		fmt.Fprint(w, r.Diff)
		line := r.Status + " " + r.Destination
		if r.Reason != "" {
			line += " (" + r.Reason + ")"
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}

// runWatch renders until SIGTERM/SIGINT (exit 0). SIGHUP re-reads the
// configuration and restarts the engine with it; a configuration that does
// not load is logged and the running one is kept.
func runWatch(ctx context.Context, opts *Options, ts []*templates.Template) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	stopMetrics, err := opts.F.ServeMetrics(opts.MetricsAddr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sd := sdnotify.Start(ctx, opts.F.Logger)
	defer sd.Close()
	opts.pass = newFirstPass(ts, sd)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log := opts.F.Logger
	cfg := opts.config()
	for {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- templates.Watch(rctx, opts.engineOptions(rctx, cfg, ts)) }()
		for reloaded := false; !reloaded; {
			select {
			case err := <-done:
				cancel()
				return err
			case <-hup:
				next, nts, err := opts.reload()
				if err != nil {
					log.Error("SIGHUP: configuration not reloaded; keeping the running one", "err", err)
					continue
				}
				log.Info("SIGHUP: configuration reloaded", "templates", len(nts))
				cancel()
				<-done
				cfg, ts, opts.F.Config, reloaded = next, nts, next, true
			}
		}
	}
}

func (opts *Options) reload() (*config.Config, []*templates.Template, error) {
	cfg, err := opts.Reload()
	if err != nil {
		return nil, nil, err
	}
	ts, err := opts.load(cfg)
	return cfg, ts, err
}
