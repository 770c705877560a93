package render

import (
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/metrics"
	"github.com/svcdisco/svcdisco/internal/sdnotify"
	"github.com/svcdisco/svcdisco/templates"
)

// firstPass calls ready once every template has had a pass (rendered or
// not: a file kept as it was because the registry has no data yet is
// still an answer), counting destinations in the results it is shown.
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
	p.seen[r.Destination] = true
	if len(p.seen) >= p.want {
		p.seen = nil
		p.ready()
	}
}

// recordMetrics counts a watch-mode pass for --metrics-addr.
func recordMetrics(r templates.Result) {
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
