package registrytest

import (
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/registry"
)

// testMaintenance: a provider in maintenance stays registered but is hidden
// from plain listings (full and fields-only), shown with
// IncludeMaintenance, and back after maintenance is switched off — by its
// registrant or by another client (`svcdisco maintenance`). Watchers are
// told of each flip.
func (s *suite) testMaintenance(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	other := s.open(t, root, nil)
	reg := mustRegister(t, r, web("h1", 80))
	mustRegister(t, r, web("h2", 81))
	count := func(o registry.ListOptions) int {
		ps, err := other.Providers(ctxT(t), "web", o)
		if err != nil {
			t.Fatalf("Providers(%+v): %v", o, err)
		}
		return len(ps)
	}
	changes, err := other.Watch(ctxT(t), "web")
	if err != nil {
		t.Fatal(err)
	}
	drain := func() {
		time.Sleep(100 * time.Millisecond)
		for len(changes) > 0 {
			<-changes
		}
	}
	expectSignal := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch signal after %s", what)
		}
	}
	drain()

	if err := reg.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	expectSignal("maintenance on")
	testenv.WaitFor(t, "the provider hidden from plain listings", 10*time.Second, func() bool {
		return count(registry.ListOptions{}) == 1 && count(registry.ListOptions{FieldsOnly: true}) == 1
	})
	ps, err := other.Providers(ctxT(t), "web", registry.ListOptions{IncludeMaintenance: true})
	if err != nil || len(ps) != 2 {
		t.Fatalf("IncludeMaintenance: %+v, %v", ps, err)
	}
	// services counts what a plain query lists, on every backend.
	if svcs, err := other.Services(ctxT(t)); err != nil || !hasCount(svcs, "web", 1) {
		t.Errorf("Services with one of two providers in maintenance = %+v, %v; want web with 1", svcs, err)
	}
	registry.Sort(ps)
	if ps[0].Host != "h1" || ps[0].Status != registry.StatusMaintenance || ps[1].Status != registry.StatusUp {
		t.Errorf("statuses: %s=%s %s=%s", ps[0].Host, ps[0].Status, ps[1].Host, ps[1].Status)
	}

	// Another client switches it off, as `svcdisco maintenance web off` does.
	drain()
	if err := other.SetStatus(ctxT(t), ps[0], registry.StatusUp); err != nil {
		t.Fatal(err)
	}
	expectSignal("maintenance off")
	testenv.WaitFor(t, "the provider listed again", 10*time.Second, func() bool {
		return count(registry.ListOptions{}) == 2 && count(registry.ListOptions{FieldsOnly: true}) == 2
	})
	if svcs, err := other.Services(ctxT(t)); err != nil || !hasCount(svcs, "web", 2) {
		t.Errorf("Services after maintenance off = %+v, %v; want web with 2", svcs, err)
	}

	if err := reg.SetStatus(ctxT(t), "sleeping"); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("SetStatus(sleeping) = %v, want a usage error", err)
	}
	if err := reg.Deregister(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := other.SetStatus(ctxT(t), ps[0], registry.StatusMaintenance); err == nil {
		t.Error("SetStatus of a deregistered provider succeeded")
	}
}
