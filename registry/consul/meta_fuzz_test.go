package consul

import (
	"testing"

	"github.com/hashicorp/consul/api"
)

// FuzzDecodeMeta: no Meta a Consul instance carries makes the decoder
// panic; what it accepts keeps the instance's port and never has a
// negative weight.
//
//	go test -run '^$' -fuzz FuzzDecodeMeta ./registry/consul/
func FuzzDecodeMeta(f *testing.F) {
	f.Add(MetaTimestamp, "2026-11-22T10:00:00.123Z", MetaWeight, "3", "zone", "a", 8080)
	f.Add(MetaTimestamp, "yesterday", MetaHost, "", MetaRoot, "/svcdisco", 1)
	f.Add(MetaWeight, "-1", MetaPrefix+"future", "x", "", "", 0)
	f.Add(MetaHost, "h1", MetaWeight, "99999999999999999999", "k", "", 65535)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string, port int) {
		e := &api.ServiceEntry{
			Node: &api.Node{Node: "n1", Address: "10.0.0.1"},
			Service: &api.AgentService{ID: "web-1", Service: "web", Port: port,
				Meta: map[string]string{k1: v1, k2: v2, k3: v3}},
		}
		d, err := decode(e)
		if err != nil {
			return
		}
		if d.p.Port != port || d.p.Weight < 0 {
			t.Fatalf("meta %v, port %d: decoded port %d, weight %d", e.Service.Meta, port, d.p.Port, d.p.Weight)
		}
	})
}
