package consul

import (
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/registry"
)

// TestTagsAreConsulTags: svcdisco's tags are the instance's own Tags (what
// consul-template's `service "v2.web"` and Consul DNS select on), and tags
// of a natively registered instance are read back by svcdisco.
func TestTagsAreConsulTags(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr(), Root: DefaultRoot}, nil)
	c := r.Client()
	if _, err := r.Register(ctxT(t), registry.Provider{Service: "tagged", Host: "10.0.0.5", Port: 80, Weight: 1,
		Tags: []string{"primary", "v2"}}); err != nil {
		t.Fatal(err)
	}
	native := &api.AgentServiceRegistration{ID: "tagged-native", Name: "tagged", Address: "10.0.0.6", Port: 81, Tags: []string{"v2", "native"}}
	if err := c.Agent().ServiceRegister(native); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Agent().ServiceDeregister(native.ID) })

	// Consul's own tag filter sees svcdisco's tags.
	entries, _, err := c.Health().Service("tagged", "primary", true, nil)
	if err != nil || len(entries) != 1 || entries[0].Service.Address != "10.0.0.5" {
		t.Fatalf("Consul's health query with tag primary: %d entries, %v", len(entries), err)
	}
	if meta := entries[0].Service.Meta; len(meta) != 1 || meta[MetaTimestamp] == "" {
		t.Errorf("Meta of a provider registered with the defaults: %v, want svcdisco-timestamp alone", meta)
	}
	got := map[string]string{}
	for _, p := range providers(t, r, "tagged") {
		got[p.Address] = strings.Join(p.Tags, ",")
	}
	if got["10.0.0.5"] != "primary,v2" || got["10.0.0.6"] != "v2,native" {
		t.Errorf("tags listed by svcdisco: %v", got)
	}
}
