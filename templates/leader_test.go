package templates

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/registry"
)

// fakeDetector answers Leader from a map; err fails every lookup.
type fakeDetector struct {
	leaders map[string]registry.Provider
	err     error
}

func (f fakeDetector) Leader(_ context.Context, group string) (coord.LeaderChange, error) {
	if f.err != nil {
		return coord.LeaderChange{}, f.err
	}
	p, ok := f.leaders[group]
	return coord.LeaderChange{Leader: p, OK: ok, Token: 7}, nil
}

func (fakeDetector) WatchLeader(context.Context, string) (<-chan coord.LeaderChange, error) {
	return nil, errors.New("not used")
}

func TestLeaderFunction(t *testing.T) {
	src := writeTemplate(t, `{{with leader "sched"}}{{.ID}} {{.Host}}:{{.Port}} {{.Attributes.zone}}{{else}}none{{end}}
{{with leader "idle"}}{{.Host}}{{else}}none{{end}}
`)
	tm, err := Load(Spec{Source: src, Destination: src + ".out"})
	if err != nil {
		t.Fatal(err)
	}
	store := NewStore(nil)
	store.detector = fakeDetector{leaders: map[string]registry.Provider{
		"sched": {Service: "sched", ID: "c1", Host: "h1", Port: 7001, Attributes: map[string]string{"zone": "a"}},
	}}
	ex, err := tm.Execute(store)
	if err != nil || !ex.Complete {
		t.Fatalf("Execute: %v %+v", err, ex)
	}
	if got, want := string(ex.Contents), "c1 h1:7001 a\nnone\n"; got != want {
		t.Fatalf("rendered %q, want %q", got, want)
	}

	// A registry that cannot be asked fails the render (the old file stays).
	store.detector = fakeDetector{err: errors.New("registry unreachable")}
	if _, err := tm.Execute(store); err == nil || !strings.Contains(err.Error(), "leader sched") {
		t.Fatalf("unreachable: %v, want an error naming the group", err)
	}
	// A registry without elections says so.
	store.detector = nil
	if _, err := tm.Execute(store); err == nil || !strings.Contains(err.Error(), "no elections") {
		t.Fatalf("no detector: %v", err)
	}
}
