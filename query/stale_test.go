package query

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query/answercache"
	"github.com/svcdisco/svcdisco/registry"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func staleSetup(t *testing.T, staleOK time.Duration) (*Answers, *listOnly, *fixedClock) {
	t.Helper()
	clk := &fixedClock{t: time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)}
	c := answercache.New(t.TempDir())
	c.Now = clk.now
	a := &Answers{Cache: c, Registry: "zk://h1:2181/prod", Root: "/svcdisco", StaleOK: staleOK}
	t0 := time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)
	reg := &listOnly{ps: []registry.Provider{
		{Service: "web", Host: "c", Port: 3, Name: "c", Timestamp: t0.Add(2 * time.Second), Attributes: map[string]string{"zone": "b"}},
		{Service: "web", Host: "a", Port: 1, Name: "a", Timestamp: t0, Attributes: map[string]string{"zone": "a"}},
		{Service: "web", Host: "b", Port: 2, Name: "b", Timestamp: t0.Add(time.Second), Attributes: map[string]string{"zone": "a"}},
	}}
	return a, reg, clk
}

var errDown = exitcode.Unreachablef("connect zk://h1:2181/prod: no server answered")

func hosts(ps []registry.Provider) string {
	var hs []string
	for _, p := range ps {
		hs = append(hs, p.Host)
	}
	return strings.Join(hs, ",")
}

// TestFiltersApplyToCachedFullAnswer: a query with --where stores the
// UNFILTERED answer, so a later stale query with other filters answers
// exactly what a fresh one would.
func TestFiltersApplyToCachedFullAnswer(t *testing.T) {
	a, reg, clk := staleSetup(t, time.Hour)
	zoneA, _ := ParseFilter("zone=a")
	fresh, err := Run(context.Background(), reg, Options{Service: "web", Where: []Filter{zoneA}, Answers: a})
	if err != nil || hosts(fresh) != "a,b" {
		t.Fatalf("fresh: %v %v", hosts(fresh), err)
	}
	clk.t = clk.t.Add(10 * time.Minute)
	zoneB, _ := ParseFilter("zone=b")
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Service: "web"}, "a,b,c"},
		{Options{Service: "web", Where: []Filter{zoneB}}, "c"},
		{Options{Service: "web", Latest: true}, "c"},
		{Options{Service: "web", Where: []Filter{zoneA}, Latest: true}, "b"},
		{Options{Service: "web", FieldsOnly: true}, "a,b,c"}, // a full answer serves -o lines
		{Options{Service: "web", AtLeast: 3, Wait: time.Second}, "a,b,c"},
	} {
		tt.o.Answers = a
		want, err := Run(context.Background(), reg, Options{Service: tt.o.Service, Where: tt.o.Where, Latest: tt.o.Latest, FieldsOnly: tt.o.FieldsOnly})
		if err != nil || hosts(want) != tt.want {
			t.Fatalf("fresh %+v: %s %v", tt.o, hosts(want), err)
		}
		got, err := FromCache(tt.o, errDown)
		if exitcode.Of(err) != exitcode.Stale || !IsStale(err) || hosts(got) != tt.want {
			t.Errorf("stale %+v: %s %v (exit %d), want %s with exit 6", tt.o, hosts(got), err, exitcode.Of(err), tt.want)
		}
		var se *StaleError
		if !errors.As(err, &se) || se.Age != 10*time.Minute || !strings.Contains(err.Error(), "10m0s old") ||
			!strings.Contains(err.Error(), "no server answered") {
			t.Errorf("warning %q: want its age and the failure", err)
		}
	}
	_, err = FromCache(Options{Service: "web", AtLeast: 4, Answers: a}, errDown)
	if exitcode.Of(err) != exitcode.NotEnough || !strings.Contains(err.Error(), "stale answer") {
		t.Errorf("at-least 4 of a stale 3: %v (exit %d), want exit 3 saying it was stale", err, exitcode.Of(err))
	}
}

// TestNeverStaleUnlessAskedOrTooOld: only an unreachable registry (exit 4),
// only with StaleOK, and never older than StaleOK; otherwise the original
// error, with its exit code.
func TestNeverStaleUnlessAskedOrTooOld(t *testing.T) {
	a, reg, clk := staleSetup(t, time.Hour)
	if _, err := Run(context.Background(), reg, Options{Service: "web", Answers: a}); err != nil {
		t.Fatal(err)
	}
	usage := exitcode.Usagef("bad")
	if ps, err := FromCache(Options{Service: "web", Answers: a}, usage); ps != nil || err != usage {
		t.Errorf("usage error answered from the cache: %v %v", ps, err)
	}
	notEnough := exitcode.New(exitcode.NotEnough, errors.New("1 of 3"))
	if ps, err := FromCache(Options{Service: "web", Answers: a}, notEnough); ps != nil || err != notEnough {
		t.Errorf("exit 3 answered from the cache: %v %v", ps, err)
	}
	never := *a
	never.StaleOK = 0
	if ps, err := FromCache(Options{Service: "web", Answers: &never}, errDown); ps != nil || err != errDown {
		t.Errorf("stale without being asked: %v %v", ps, err)
	}
	if ps, err := FromCache(Options{Service: "web"}, errDown); ps != nil || err != errDown {
		t.Errorf("stale without a cache: %v %v", ps, err)
	}
	clk.t = clk.t.Add(time.Hour + time.Second)
	ps, err := FromCache(Options{Service: "web", Answers: a}, errDown)
	if ps != nil || exitcode.Of(err) != exitcode.Unreachable || !errors.Is(err, answercache.ErrNoEntry) ||
		!strings.Contains(err.Error(), "no server answered") {
		t.Errorf("too old: %v %v, want the original exit 4", ps, err)
	}
	ps, err = FromCache(Options{Service: "api", Answers: a}, errDown)
	if ps != nil || exitcode.Of(err) != exitcode.Unreachable {
		t.Errorf("never cached: %v %v, want exit 4", ps, err)
	}
}

// TestMaintenanceViewsApart: an answer without providers in maintenance
// never answers --include-maintenance (it lacks them), nor the reverse.
func TestMaintenanceViewsApart(t *testing.T) {
	a, reg, _ := staleSetup(t, time.Hour)
	if _, err := Run(context.Background(), reg, Options{Service: "web", Answers: a}); err != nil {
		t.Fatal(err)
	}
	_, err := FromCache(Options{Service: "web", IncludeMaintenance: true, Answers: a}, errDown)
	if exitcode.Of(err) != exitcode.Unreachable {
		t.Errorf("--include-maintenance answered from the view without maintenance: %v", err)
	}
}
