package registrytest

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
)

func hosts(ps []registry.Provider) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Host)
	}
	return out
}

// testQueryOptions runs ironfan's options (since, within_last, latest) and
// --where filters through query.Run on the backend.
func (s *suite) testQueryOptions(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	var regs []registry.Registration
	for i, h := range []string{"h1", "h2", "h3"} {
		p := web(h, 80)
		p.Attributes = map[string]string{"zone": []string{"a", "b", "a"}[i], "version": "1." + strconv.Itoa(i)}
		regs = append(regs, mustRegister(t, r, p))
		time.Sleep(2 * time.Millisecond)
	}
	q := s.open(t, root, nil)
	second := regs[1].Provider().Timestamp
	tests := []struct {
		name string
		o    query.Options
		want []string
	}{
		{"all", query.Options{}, []string{"h1", "h2", "h3"}},
		{"since", query.Options{Since: second}, []string{"h2", "h3"}},
		{"within-last", query.Options{WithinLast: time.Hour}, []string{"h1", "h2", "h3"}},
		{"within-last excludes older", query.Options{WithinLast: time.Millisecond,
			Now: func() time.Time { return second.Add(500 * time.Microsecond) }}, []string{"h2", "h3"}},
		{"latest", query.Options{Latest: true}, []string{"h3"}},
		{"where", query.Options{Where: []query.Filter{{Key: "zone", Value: "a"}}}, []string{"h1", "h3"}},
		{"where not", query.Options{Where: []query.Filter{{Key: "zone", Value: "a", Negate: true}}}, []string{"h2"}},
		{"where missing", query.Options{Where: []query.Filter{{Key: "rack", Value: "1"}}}, []string{}},
		{"fields only", query.Options{FieldsOnly: true}, []string{"h1", "h2", "h3"}},
		{"at least met", query.Options{AtLeast: 3}, []string{"h1", "h2", "h3"}},
	}
	for _, tt := range tests {
		tt.o.Service = "web"
		ps, err := query.Run(ctxT(t), q, tt.o)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := hosts(ps); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	_, err := query.Run(ctxT(t), q, query.Options{Service: "web", AtLeast: 4})
	var ne *query.NotEnoughError
	if exitcode.Of(err) != exitcode.NotEnough || !errors.As(err, &ne) || ne.Found != 3 {
		t.Errorf("--at-least 4 of 3: %v (exit %d), want exit 3 naming 3 found", err, exitcode.Of(err))
	}
}

// testAtLeastWait: --at-least with --wait is met by a provider that arrives
// while waiting (through Watch), and fails with exit 3 when none does.
func (s *suite) testAtLeastWait(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	mustRegister(t, r, web("h1", 80))
	q := s.open(t, root, nil)
	done := make(chan error, 1)
	var got []registry.Provider
	go func() {
		var err error
		got, err = query.Run(ctxT(t), q, query.Options{Service: "web", AtLeast: 2, Wait: 30 * time.Second})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the query start waiting
	mustRegister(t, r, web("h2", 80))
	select {
	case err := <-done:
		if err != nil || len(got) != 2 {
			t.Fatalf("waited query: %v, %v", hosts(got), err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("query still waiting after the second provider registered")
	}

	_, err := query.Run(ctxT(t), q, query.Options{Service: "web", AtLeast: 3, Wait: 300 * time.Millisecond})
	if exitcode.Of(err) != exitcode.NotEnough {
		t.Errorf("--at-least 3 --wait 300ms with 2: %v (exit %d), want exit 3", err, exitcode.Of(err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = query.Run(ctx, q, query.Options{Service: "web", AtLeast: 3, Wait: time.Minute})
	if err == nil || exitcode.Of(err) == exitcode.OK {
		t.Errorf("--wait past the caller's deadline: %v, want an error", err)
	}
}
