package register

import (
	"errors"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/register/check"
	"github.com/svcdisco/svcdisco/registry"
)

func TestHealthOf(t *testing.T) {
	fail := errors.New("HTTP 503 Service Unavailable")
	tests := []struct {
		name   string
		r      check.Result
		status string
		output string
	}{
		{"up and passing", check.Result{Up: true, Pass: true}, registry.HealthPassing, "passing"},
		{"up, failing within fall", check.Result{Up: true, Err: fail, Streak: 1, Need: 3}, registry.HealthPassing, "failed 1 of 3 times before critical: HTTP 503"},
		{"down, rising", check.Result{Pass: true, Streak: 1, Need: 2}, registry.HealthWarning, "passed 1 of 2 times"},
		{"down and failing", check.Result{Err: fail}, registry.HealthCritical, "HTTP 503 Service Unavailable"},
	}
	for _, tt := range tests {
		tt.r.Check = "http://127.0.0.1:1/health"
		h := HealthOf(tt.r)
		if h.Status != tt.status || !strings.Contains(h.Output, tt.output) || !strings.HasPrefix(h.Output, tt.r.Check) || h.Check != tt.r.Check {
			t.Errorf("%s: %+v, want %s with output containing %q", tt.name, h, tt.status, tt.output)
		}
	}
}
