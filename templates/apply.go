package templates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/templates/renderer"
)

// Statuses of a Result.
const (
	StatusWritten    = "written"
	StatusUnchanged  = "unchanged"
	StatusRefused    = "refused"
	StatusWouldWrite = "would write" // dry run
)

// Result is what happened to one template in one pass.
type Result struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Status is written, unchanged, refused or "would write".
	Status string `json:"status"`
	// Reason says why a template was refused, or why its command failed.
	Reason string `json:"reason,omitempty"`
	// Code is the exit code this result stands for (0 when all went well).
	Code int `json:"code"`
	// Command is "ok" or "failed" when a reload command ran.
	Command string `json:"command,omitempty"`
	// Diff is the unified diff of a dry run.
	Diff string `json:"diff,omitempty"`
	// Services are the services the template read.
	Services []string `json:"services"`
	// Stale is true when the file was rendered from the answer cache
	// because the registry could not be reached (--stale-ok): Code is 6
	// and Reason names each stale answer's age.
	Stale bool `json:"stale,omitempty"`

	// Execution is the last execution (nil when the template could not run).
	Execution *Execution `json:"-"`
	// Err is the error behind Code.
	Err error `json:"-"`
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	DryRun bool
	// CommandOutput receives the reload command's output.
	CommandOutput io.Writer
	// CommandTimeout bounds the check and reload commands (default 1m).
	CommandTimeout time.Duration
}

// Apply renders t from d and puts the result in place, unless a guard
// says no: data not yet fetched (exit 4), a template error (exit 2), a
// service below its min_providers (exit 3), or the check command rejecting
// the staged file (exit 5). In every refusal the destination is untouched.
func (t *Template) Apply(ctx context.Context, d Data, o ApplyOptions) Result {
	res := Result{Source: t.Source, Destination: t.Destination}
	ex, err := t.Execute(d)
	t.setStuck(nil) // the next pass may try again
	if ex != nil {
		res.Execution, res.Services = ex, ex.Services
	}
	switch {
	case ex != nil && !ex.Complete:
		return res.refuse(exitcode.Unreachable, fmt.Errorf("data not yet fetched: %s", ex.missingList()))
	case err != nil:
		code := exitcode.Of(err) // a render bound that tripped (4 or 2)
		if code == exitcode.Failure {
			code = exitcode.Usage // a template error
		}
		return res.refuse(code, err)
	}
	if err := t.guard(d); err != nil {
		return res.refuse(exitcode.NotEnough, err)
	}
	timeout := o.CommandTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rr, err := renderer.Render(cctx, &renderer.RenderInput{
		Path: t.Destination, Contents: ex.Contents, Perms: t.Perms, Backup: t.Backup,
		CreateDestDirs: t.CreateDestDirs, CheckCommand: t.CheckCommand, DryRun: o.DryRun,
	})
	var checkErr *renderer.CheckError
	switch {
	case errors.As(err, &checkErr):
		return res.refuse(exitcode.CheckFailed, err)
	case err != nil:
		return res.refuse(exitcode.Failure, err)
	case o.DryRun && rr.WouldRender:
		res.Status, res.Diff = StatusWouldWrite, rr.Diff
		return res
	case !rr.DidRender:
		res.Status = StatusUnchanged
		switch {
		case t.Command == "" || !commandOwed(t.Destination):
		case o.DryRun:
			res.Reason = fmt.Sprintf("command %q is owed from an earlier pass (a dry run does not run it)", t.Command)
		default:
			t.runCommand(cctx, &res, o.CommandOutput, true)
		}
		return res
	}
	res.Status = StatusWritten
	if t.Command != "" {
		t.runCommand(cctx, &res, o.CommandOutput, false)
	}
	return res
}

func (r Result) refuse(code int, err error) Result {
	r.Status, r.Code, r.Err = StatusRefused, code, exitcode.New(code, err)
	r.Reason = strings.Join(strings.Fields(err.Error()), " ")
	return r
}

// guard enforces min_providers, counting every provider of the service
// (before any filter a template applies).
func (t *Template) guard(d Data) error {
	for _, svc := range sortedKeys(t.MinProviders) {
		ps, _ := d.Providers(svc)
		if min := t.MinProviders[svc]; len(ps) < min {
			return fmt.Errorf("service %s has %d provider(s), min_providers is %d", svc, len(ps), min)
		}
	}
	return nil
}

func sortedKeys(m map[string]int) []string {
	b := make(map[string]bool, len(m))
	for k := range m {
		b[k] = true
	}
	return keys(b)
}

func (ex *Execution) missingList() string {
	m := append([]string(nil), ex.Missing...)
	if ex.MissingCatalog {
		m = append(m, "the service list")
	}
	return strings.Join(m, ", ")
}
