package query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want Filter
		err  bool
	}{
		{in: "zone=a", want: Filter{Key: "zone", Value: "a"}},
		{in: "zone!=a", want: Filter{Key: "zone", Value: "a", Negate: true}},
		{in: "k=", want: Filter{Key: "k"}},
		{in: "k=a=b", want: Filter{Key: "k", Value: "a=b"}},
		{in: "zone", err: true},
		{in: "=a", err: true},
		{in: "!=a", err: true},
	}
	for _, tt := range tests {
		got, err := ParseFilter(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseFilter(%q) = %+v, %v", tt.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), tt.in) {
			t.Errorf("error %q does not name the input", err)
		}
	}
}

func TestApply(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ps := []registry.Provider{
		{Name: "old", Timestamp: now.Add(-time.Hour), Attributes: map[string]string{"zone": "a"}},
		{Name: "new", Timestamp: now.Add(-time.Minute), Attributes: map[string]string{"zone": "b"}},
		{Name: "bare", Timestamp: now.Add(-time.Second)},
		{Name: "native"},
	}
	names := func(ps []registry.Provider) string {
		var s []string
		for _, p := range ps {
			s = append(s, p.Name)
		}
		return strings.Join(s, ",")
	}
	zoneA, _ := ParseFilter("zone=a")
	notA, _ := ParseFilter("zone!=a")
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"none", Options{}, "old,new,bare,native"},
		{"since", Options{Since: now.Add(-2 * time.Minute)}, "new,bare"},
		{"within", Options{WithinLast: 10 * time.Minute, Now: func() time.Time { return now }}, "new,bare"},
		{"since and within: the later wins", Options{Since: now.Add(-30 * time.Second), WithinLast: 10 * time.Minute, Now: func() time.Time { return now }}, "bare"},
		{"where", Options{Where: []Filter{zoneA}}, "old"},
		{"where not", Options{Where: []Filter{notA}}, "new,bare,native"},
		{"and", Options{Where: []Filter{zoneA, notA}}, ""},
	}
	for _, tt := range tests {
		if got := names(Apply(ps, tt.o)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Options{
		{Service: "bad name"},
		{Service: "web", WithinLast: -time.Second},
		{Service: "web", AtLeast: -1},
		{Service: "web", Wait: -time.Second},
	}
	for _, o := range bad {
		if err := o.Validate(); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("Validate(%+v) = %v, want a usage error", o, err)
		}
	}
}

// listOnly is a fake registry for the pure logic of Run: it serves a fixed
// list and records whether data was asked for.
type listOnly struct {
	registry.Registry
	ps         []registry.Provider
	fieldsOnly []bool
}

func (l *listOnly) Providers(_ context.Context, _ string, o registry.ListOptions) ([]registry.Provider, error) {
	l.fieldsOnly = append(l.fieldsOnly, o.FieldsOnly)
	return append([]registry.Provider(nil), l.ps...), nil
}

func TestRunSortsLatestAndAtLeast(t *testing.T) {
	t0 := time.Unix(1000, 0)
	reg := &listOnly{ps: []registry.Provider{
		{Name: "b", Timestamp: t0.Add(2 * time.Second)},
		{Name: "a", Timestamp: t0},
		{Name: "c", Timestamp: t0.Add(2 * time.Second)},
	}}
	ps, err := Run(context.Background(), reg, Options{Service: "web", FieldsOnly: true})
	if err != nil || len(ps) != 3 || ps[0].Name != "a" || ps[1].Name != "b" || ps[2].Name != "c" {
		t.Fatalf("Run = %+v, %v", ps, err)
	}
	zoneA, _ := ParseFilter("zone=a")
	if _, err := Run(context.Background(), reg, Options{Service: "web", FieldsOnly: true, Where: []Filter{zoneA}}); err != nil {
		t.Fatal(err)
	}
	if reg.fieldsOnly[0] != true || reg.fieldsOnly[1] != false {
		t.Errorf("fields-only requests %v: want [true false] (a filter needs data)", reg.fieldsOnly)
	}
	ps, err = Run(context.Background(), reg, Options{Service: "web", Latest: true})
	if err != nil || len(ps) != 1 || ps[0].Name != "c" {
		t.Fatalf("Latest = %+v, %v", ps, err)
	}
	_, err = Run(context.Background(), reg, Options{Service: "web", AtLeast: 4})
	var ne *NotEnoughError
	if exitcode.Of(err) != exitcode.NotEnough || !errorsAs(err, &ne) || ne.Found != 3 || ne.Want != 4 {
		t.Fatalf("AtLeast 4 of 3: %v", err)
	}
	if !strings.Contains(err.Error(), "3 provider(s) found, at least 4 required") {
		t.Errorf("message %q", err)
	}
}

func TestWrite(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ps := []registry.Provider{
		{Service: "web", ID: "w1", Host: "h1", Port: 80, Timestamp: now.Add(-75 * time.Second), Attributes: map[string]string{"zone": "a", "v": "1"}},
		{Service: "web", ID: "w2", Host: "::1", Port: 81, Timestamp: now.Add(-26 * time.Hour)},
	}
	var b bytes.Buffer
	if err := Write(&b, FormatLines, ps, now); err != nil {
		t.Fatal(err)
	}
	if b.String() != "h1:80\n[::1]:81\n" {
		t.Errorf("lines: %q", b.String())
	}
	b.Reset()
	if err := Write(&b, FormatTable, ps, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"HOST", "ATTRIBUTES", "1m15s", "1d2h", "v=1,zone=a"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := Write(&b, FormatJSON, nil, now); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("empty JSON: %q %v", b.String(), err)
	}
	b.Reset()
	if err := Write(&b, FormatJSON, ps, now); err != nil {
		t.Fatal(err)
	}
	var back []registry.Provider
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 2 || back[0].ID != "w1" {
		t.Errorf("JSON round trip: %v %+v", err, back)
	}
	if _, err := ParseFormat("yaml", FormatTable, FormatJSON); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("ParseFormat(yaml) = %v", err)
	}
}

func TestAge(t *testing.T) {
	now := time.Unix(100000, 0)
	for d, want := range map[time.Duration]string{
		0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m1s", 2*time.Hour + 5*time.Minute: "2h5m", 49 * time.Hour: "2d1h", -time.Second: "0s",
	} {
		if got := Age(now, now.Add(-d)); got != want {
			t.Errorf("Age(%v) = %q, want %q", d, got, want)
		}
	}
	if Age(now, time.Time{}) != "-" {
		t.Error("zero time")
	}
}

func errorsAs(err error, target **NotEnoughError) bool { return errors.As(err, target) }

// racing is a fake registry where a provider registers while the first
// list is being answered (after the answer is taken): only a watch set
// before that list sees it.
type racing struct {
	registry.Registry
	mu      sync.Mutex
	n       int
	watches []chan struct{}
}

func (r *racing) Providers(context.Context, string, registry.ListOptions) ([]registry.Provider, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := make([]registry.Provider, r.n)
	if r.n == 0 {
		r.n = 1 // registers now: watches set so far are signalled
		for _, w := range r.watches {
			w <- struct{}{}
		}
	}
	return ps, nil
}

func (r *racing) Watch(ctx context.Context, _ string) (<-chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := make(chan struct{}, 1)
	r.watches = append(r.watches, c)
	return c, nil
}

// TestRunWatchesBeforeListing: --at-least with --wait sees a provider that
// registers while the first list is answered.
func TestRunWatchesBeforeListing(t *testing.T) {
	ps, err := Run(context.Background(), &racing{}, Options{Service: "web", AtLeast: 1, Wait: 10 * time.Second})
	if err != nil || len(ps) != 1 {
		t.Fatalf("Run = %d providers, %v; want the one registered during the first list", len(ps), err)
	}
}
