package render

import (
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/metrics"
	"github.com/svcdisco/svcdisco/internal/sdnotify"
	"github.com/svcdisco/svcdisco/templates"
)

// firstPass calls ready once every template has had a pass on data from
// the registry (written, unchanged, or refused by a guard: an answer
// either way), counting destinations in the results it is shown. A pass
// that only waits for its services' first fetch does not count.
type firstPass struct {
	want  int
	seen  map[string]bool
	ready func()
}

func newFirstPass(ts []*templates.Template, sd *sdnotify.Daemon) *firstPass {
	return &firstPass{want: len(ts), seen: map[string]bool{}, ready: func() { sd.Ready("first render done") }}
}

func (p *firstPass) observe(r templates.Result) {
	if p == nil || p.seen == nil {
		return
	}
	if waiting(r) {
		return
	}
	p.seen[r.Destination] = true
	if len(p.seen) >= p.want {
		p.seen = nil
		p.ready()
	}
}

// waiting says r only waited for its services' data (the first fetch,
// or a registry that does not answer): nothing was rendered.
func waiting(r templates.Result) bool {
	ex := r.Execution
	return r.Status == templates.StatusRefused && ex != nil && !ex.Complete
}

// recordMetrics counts a watch-mode pass for --metrics-addr. A pass that
// waited for data counts as status "waiting", not as a failure: every
// start has one per template.
func recordMetrics(r templates.Result) {
	if waiting(r) {
		metrics.Rendered(r.Destination, "waiting", "", time.Now())
		return
	}
	metrics.Rendered(r.Destination, r.Status, failureReason(r), time.Now())
}

// failureReason is the svcdisco_render_failures_total reason of a pass, ""
// for a pass that went well: a bounded set, unlike Result.Reason.
func failureReason(r templates.Result) string {
	switch {
	case r.Command == "failed":
		return "command"
	case r.Code == 0:
		return ""
	case r.Code == exitcode.Unreachable:
		return "registry"
	case r.Code == exitcode.NotEnough:
		return "min_providers"
	case r.Code == exitcode.CheckFailed:
		return "check_command"
	case r.Code == exitcode.Usage:
		return "template"
	}
	return "other"
}
