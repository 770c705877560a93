package registrytest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/registry"
)

func (s *suite) testRegisterListDeregister(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	other := s.open(t, root, nil) // another machine asking
	before := time.Now().Add(-time.Millisecond)
	in := web("h1.example.com", 8080)
	in.Weight = 3
	in.Attributes["version"] = "1.4.2"
	reg := mustRegister(t, r, in)
	p := reg.Provider()
	if p.Timestamp.Before(before) || p.Timestamp.After(time.Now()) || p.Timestamp.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("timestamp %v: want now, ms precision", p.Timestamp)
	}
	if p.ID != "web-h1.example.com-8080" || p.Status != registry.StatusUp || p.Name == "" {
		t.Errorf("registered provider %+v: want default ID, status up and a name", p)
	}

	ps := list(t, other, "web")
	if len(ps) != 1 {
		t.Fatalf("Providers = %+v, want 1", ps)
	}
	got := ps[0]
	want := in
	want.ID, want.Status, want.Timestamp, want.Name = p.ID, registry.StatusUp, p.Timestamp, p.Name
	got.FieldsOnly = false
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listed provider\n got %+v\nwant %+v", got, want)
	}
	fields, err := other.Providers(ctxT(t), "web", registry.ListOptions{FieldsOnly: true})
	if err != nil || len(fields) != 1 || fields[0].Host != in.Host || fields[0].Port != in.Port ||
		!fields[0].Timestamp.Equal(p.Timestamp) || fields[0].Service != "web" {
		t.Fatalf("fields-only Providers = %+v, %v", fields, err)
	}
	svcs, err := other.Services(ctxT(t))
	if err != nil || !hasCount(svcs, "web", 1) {
		t.Fatalf("Services = %+v, %v: want web with 1 provider", svcs, err)
	}

	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Gone at once for everyone, not after a timeout.
	if ps := list(t, other, "web"); len(ps) != 0 {
		t.Errorf("%d providers right after Deregister", len(ps))
	}
	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Errorf("second Deregister: %v", err)
	}
	if ps, err := other.Providers(ctxT(t), "nosuch", registry.ListOptions{}); err != nil || len(ps) != 0 {
		t.Errorf("unknown service: %v, %v", ps, err)
	}
}

func hasCount(svcs []registry.ServiceCount, service string, n int) bool {
	for _, c := range svcs {
		if c.Service == service {
			return c.Providers == n
		}
	}
	return false
}

func (s *suite) testInvalidInput(t *testing.T) {
	r := s.open(t, s.root(t), nil)
	bad := []registry.Provider{
		{Service: "bad name", Host: "h1", Port: 80},
		{Service: "web", Host: "h1", Port: 0},
		{Service: "web", Host: "h 1", Port: 80},
		{Service: "web", Host: "h1", Port: 80, Endpoints: map[string]registry.Endpoint{"admin": {Host: "h1"}}},
	}
	for _, p := range bad {
		_, err := r.Register(ctxT(t), p)
		if exitcode.Of(err) != exitcode.Usage {
			t.Errorf("Register(%+v) = %v (exit %d), want exit 2", p, err, exitcode.Of(err))
		}
	}
	if ps := list(t, r, "web"); len(ps) != 0 {
		t.Errorf("invalid registrations left %+v", ps)
	}
	if _, err := r.Providers(ctxT(t), "../etc", registry.ListOptions{}); err == nil {
		t.Error("Providers accepted an invalid service name")
	}
}

func (s *suite) testReRegistration(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	other := s.open(t, root, nil)
	first := mustRegister(t, r, web("h1", 80))
	if err := first.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // a later millisecond
	second := mustRegister(t, r, web("h1", 80))
	ps := list(t, other, "web")
	if len(ps) != 1 || !ps[0].Timestamp.Equal(second.Provider().Timestamp) {
		t.Fatalf("after re-registration: %+v, want one provider stamped %v", ps, second.Provider().Timestamp)
	}
	if !second.Provider().Timestamp.After(first.Provider().Timestamp) {
		t.Errorf("re-registration timestamp %v not after %v", second.Provider().Timestamp, first.Provider().Timestamp)
	}
}

func (s *suite) testCloseDeregisters(t *testing.T) {
	root := s.root(t)
	other := s.open(t, root, nil)
	r := s.open(t, root, nil)
	mustRegister(t, r, web("h1", 80))
	mustRegister(t, r, registry.Provider{Service: "db", Host: "h1", Port: 5432})
	if len(list(t, other, "web")) != 1 || len(list(t, other, "db")) != 1 {
		t.Fatal("not registered")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if n, m := len(list(t, other, "web")), len(list(t, other, "db")); n+m != 0 {
		t.Fatalf("%d web and %d db providers right after Close", n, m)
	}
}

func (s *suite) testOrdering(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	var want []string
	for _, h := range []string{"h3", "h1", "h2"} {
		mustRegister(t, r, web(h, 80))
		want = append(want, h)
		time.Sleep(2 * time.Millisecond)
	}
	for i := 0; i < 3; i++ { // deterministic, every time
		ps := list(t, s.open(t, root, nil), "web")
		var got []string
		for _, p := range ps {
			got = append(got, p.Host)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("order %v, want registration order %v", got, want)
		}
	}
}

func (s *suite) testWatch(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	ch, err := r.Watch(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	expect := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("watch closed before %s", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch signal after %s", what)
		}
	}
	drain := func() {
		time.Sleep(100 * time.Millisecond)
		for len(ch) > 0 {
			<-ch
		}
	}
	drain()
	reg := mustRegister(t, s.open(t, root, nil), web("h1", 80))
	expect("register (the service did not exist before)")
	drain()
	reg2 := mustRegister(t, r, web("h2", 80))
	expect("a second provider")
	drain()
	if err := reg.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	expect("deregister")
	drain()
	if err := reg2.Deregister(ctx); err != nil {
		t.Fatal(err)
	}
	expect("deregister of the last provider")
	cancel()
	testenv.WaitFor(t, "the channel to close", 5*time.Second, func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	})
}

func (s *suite) testBadDataSkipped(t *testing.T) {
	root := s.root(t)
	logs := &LogBuffer{}
	r := s.open(t, root, logs)
	mustRegister(t, r, web("good", 80))
	name := s.b.InjectBad(t, root, "web")
	ps := list(t, r, "web")
	if len(ps) != 1 || ps[0].Host != "good" {
		t.Fatalf("Providers = %+v, want only the good one", ps)
	}
	if got := strings.Count(logs.String(), name); got != 1 {
		t.Errorf("warning naming %s logged %d times:\n%s", name, got, logs)
	}
}
