package registrytest

import (
	"testing"

	"github.com/svcdisco/svcdisco/registry"
)

// testCaseDifferingNames: service names are case-sensitive on every
// backend. "casetest" and "CaseTest" are two services, each listing only
// its own providers and counted once each — though Consul itself matches
// names without regard to case.
func (s *suite) testCaseDifferingNames(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	other := s.open(t, root, nil)
	mustRegister(t, r, registry.Provider{Service: "casetest", Host: "lower", Port: 80})
	mustRegister(t, r, registry.Provider{Service: "CaseTest", Host: "upper", Port: 80})
	for svc, host := range map[string]string{"casetest": "lower", "CaseTest": "upper"} {
		for _, o := range []registry.ListOptions{{}, {FieldsOnly: true}, {IncludeMaintenance: true}} {
			ps, err := other.Providers(ctxT(t), svc, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != 1 || ps[0].Host != host || ps[0].Service != svc {
				t.Errorf("Providers(%s, %+v) = %+v, want only %s", svc, o, ps, host)
			}
		}
	}
	if ps := list(t, other, "CASETEST"); len(ps) != 0 {
		t.Errorf("Providers(CASETEST) = %+v, want none", ps)
	}
	svcs, err := other.Services(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// (Consul lists its own native "consul" service too.)
	if !hasCount(svcs, "casetest", 1) || !hasCount(svcs, "CaseTest", 1) {
		t.Errorf("Services = %+v, want casetest and CaseTest with 1 provider each", svcs)
	}
}
