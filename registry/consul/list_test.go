package consul

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/registry"
)

// The entry rule on Consul: an instance is a provider when its host, port
// and (for svcdisco's own instances) timestamp pass registry.CheckKey; a
// native instance needs no timestamp; a missing weight is the default.
func TestEntryRule(t *testing.T) {
	now := time.Now()
	ts := now.Add(-time.Minute).UTC().Format(registry.TimeFormat)
	ours := func(meta map[string]string) map[string]string {
		m := map[string]string{MetaRoot: "/svcdisco", MetaTimestamp: ts, MetaHost: "h1", MetaWeight: "2"}
		for k, v := range meta {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name    string
		svc     api.AgentService
		node    string
		listed  bool
		err     string
		weight  int
		addrOut string
	}{
		{name: "svcdisco's own", svc: api.AgentService{ID: "a", Address: "10.0.0.1", Port: 80, Meta: ours(nil)}, listed: true, weight: 2, addrOut: "h1:80"},
		{name: "another root", svc: api.AgentService{ID: "a", Address: "10.0.0.1", Port: 80, Meta: ours(map[string]string{MetaRoot: "/other"})}},
		{name: "native", svc: api.AgentService{ID: "n", Address: "10.0.0.2", Port: 81, Weights: api.AgentWeights{Passing: 3}}, listed: true, weight: 3, addrOut: "10.0.0.2:81"},
		{name: "native without weights", svc: api.AgentService{ID: "n", Address: "10.0.0.2", Port: 81}, listed: true, weight: 1, addrOut: "10.0.0.2:81"},
		{name: "native on the node's address", svc: api.AgentService{ID: "n", Port: 82}, node: "10.0.0.9", listed: true, weight: 1, addrOut: "10.0.0.9:82"},
		{name: "our weight missing", svc: api.AgentService{ID: "a", Address: "10.0.0.1", Port: 80, Meta: ours(map[string]string{MetaWeight: ""})}, listed: true, weight: 1, addrOut: "h1:80"},
		{name: "native port 0", svc: api.AgentService{ID: "n", Address: "10.0.0.2"}, err: "invalid port"},
		{name: "native without any address", svc: api.AgentService{ID: "n", Port: 80}, err: "invalid host"},
		{name: "host with a space", svc: api.AgentService{ID: "a", Port: 80, Meta: ours(map[string]string{MetaHost: "evil host"})}, err: "invalid host"},
		{name: "far future", svc: api.AgentService{ID: "a", Port: 80, Meta: ours(map[string]string{MetaTimestamp: "9999-01-01T00:00:00.000Z"})}, err: "out of range"},
		{name: "ours without timestamp", svc: api.AgentService{ID: "a", Port: 80, Meta: ours(map[string]string{MetaTimestamp: ""})}, err: "out of range"},
	}
	r := &Registry{opts: Options{Root: "/svcdisco"}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := tt.svc
			svc.Service = "web"
			e := &api.ServiceEntry{Service: &svc, Node: &api.Node{Node: "n1", Address: tt.node}}
			p, listed, err := r.entry(e, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || listed != tt.listed {
				t.Fatalf("listed %v, %v; want %v", listed, err, tt.listed)
			}
			if listed && (p.Weight != tt.weight || p.Addr() != tt.addrOut || p.ID == "" || p.Status != registry.StatusUp) {
				t.Errorf("provider %+v: want weight %d at %s", p, tt.weight, tt.addrOut)
			}
		})
	}
}
