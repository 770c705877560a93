package consul

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/registry"
)

func TestEncodeRejectsWhatConsulMetaCannotHold(t *testing.T) {
	base := registry.Provider{Service: "web", ID: "web-h1-80", Host: "h1", Port: 80, Weight: 1, Timestamp: time.Now()}
	many := map[string]string{}
	for i := 0; i < 64; i++ {
		many["k"+strings.Repeat("x", i)] = "v"
	}
	tests := []struct {
		name  string
		attrs map[string]string
		eps   map[string]registry.Endpoint
		want  string // "" = accepted
	}{
		{"plain", map[string]string{"zone": "a", "build_id": "x-1"}, nil, ""},
		{"dot in key", map[string]string{"app.version": "1"}, nil, `attribute "app.version"`},
		{"key too long", map[string]string{strings.Repeat("k", 129): "v"}, nil, "at most 128"},
		{"key at limit", map[string]string{strings.Repeat("k", 128): "v"}, nil, ""},
		{"value too long", map[string]string{"blob": strings.Repeat("v", 513)}, nil, `attribute "blob"`},
		{"value at limit", map[string]string{"blob": strings.Repeat("v", 512)}, nil, ""},
		{"consul prefix", map[string]string{"consul-x": "v"}, nil, "reserved by Consul"},
		{"svcdisco prefix", map[string]string{"svcdisco-timestamp": "v"}, nil, "reserved by svcdisco"},
		{"too many", many, nil, "at most 63 attributes"},
		{"reserved endpoint", nil, map[string]registry.Endpoint{"lan_ipv4": {Host: "h", Port: 1}}, `endpoint "lan_ipv4"`},
	}
	for _, tt := range tests {
		p := base
		p.Attributes, p.Endpoints = tt.attrs, tt.eps
		_, err := encode(p, "/svcdisco")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	p := registry.Provider{Service: "web", ID: "web-h1-80", Host: "h1.example.com", Address: "10.0.0.5", Port: 80,
		Weight: 0, Status: registry.StatusUp, Timestamp: time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC),
		Attributes: map[string]string{"zone": "a"}, Tags: []string{"primary", "v2"},
		Endpoints: map[string]registry.Endpoint{"admin": {Host: "h1.example.com", Port: 9090}}}
	reg, err := encode(p, "/svcdisco")
	if err != nil {
		t.Fatal(err)
	}
	if reg.Weights != nil {
		t.Errorf("weight 0 encoded as Weights %+v; Consul needs Passing >= 1", reg.Weights)
	}
	if reg.Meta[MetaTimestamp] != "2026-11-22T10:00:00.123Z" || reg.Meta[MetaHost] != "h1.example.com" || reg.Meta[MetaWeight] != "0" {
		t.Errorf("Meta %v: want timestamp, host (not the address) and weight (0 does not fit Weights)", reg.Meta)
	}
	if _, ok := reg.Meta[MetaRoot]; ok {
		t.Errorf("Meta %v carries the default root", reg.Meta)
	}
	entry := &api.ServiceEntry{Node: &api.Node{Node: "n1", Address: "192.0.2.1"}, Service: &api.AgentService{
		ID: reg.ID, Service: reg.Name, Address: reg.Address, Port: reg.Port, Meta: reg.Meta, Tags: reg.Tags,
		TaggedAddresses: map[string]api.ServiceAddress{"admin": reg.TaggedAddresses["admin"], "lan_ipv4": {Address: "10.0.0.5", Port: 80}},
	}}
	d, err := decode(entry)
	if err != nil {
		t.Fatal(err)
	}
	p.Name = "web-h1-80@n1"
	if d.root != "/svcdisco" || d.p.Host != p.Host || d.p.Address != p.Address || !d.p.Timestamp.Equal(p.Timestamp) ||
		d.p.Weight != 0 || d.p.Name != p.Name || len(d.p.Endpoints) != 1 || d.p.Endpoints["admin"] != p.Endpoints["admin"] ||
		len(d.p.Attributes) != 1 || d.p.Attributes["zone"] != "a" || strings.Join(d.p.Tags, ",") != "primary,v2" {
		t.Errorf("decoded %+v (root %q), want %+v", d.p, d.root, p)
	}

	// Unreadable svcdisco Meta is an error; a native instance is not.
	entry.Service.Meta = map[string]string{MetaTimestamp: "yesterday"}
	if _, err := decode(entry); err == nil {
		t.Error("bad timestamp decoded")
	}
	entry.Service.Meta, entry.Service.Address = map[string]string{"version": "2"}, ""
	d, err = decode(entry)
	if err != nil || !d.p.Timestamp.IsZero() || d.p.Host != "192.0.2.1" || d.p.Attributes["version"] != "2" {
		t.Errorf("native instance: %+v, %v; want the node's address, no timestamp, Meta as attributes", d.p, err)
	}
}

// TestMetaKeysKeptToWhatIsNeeded: a provider registered with the defaults
// (host = address, a weight Consul's Weights hold, the default root)
// carries svcdisco-timestamp alone; the other keys appear only when they
// say something Consul's own fields cannot.
func TestMetaKeysKeptToWhatIsNeeded(t *testing.T) {
	base := registry.Provider{Service: "web", ID: "web-1", Host: "10.0.0.5", Port: 80, Weight: 3, Timestamp: time.Now()}
	tests := []struct {
		name string
		edit func(*registry.Provider)
		root string
		want []string
	}{
		{"defaults", func(*registry.Provider) {}, DefaultRoot, []string{MetaTimestamp}},
		{"host is a name", func(p *registry.Provider) { p.Host, p.Address = "web1.example.com", "10.0.0.5" }, DefaultRoot, []string{MetaHost, MetaTimestamp}},
		{"host without an address", func(p *registry.Provider) { p.Host = "web1.example.com" }, DefaultRoot, []string{MetaTimestamp}},
		{"weight 0", func(p *registry.Provider) { p.Weight = 0 }, DefaultRoot, []string{MetaTimestamp, MetaWeight}},
		{"weight above 65535", func(p *registry.Provider) { p.Weight = 70000 }, DefaultRoot, []string{MetaTimestamp, MetaWeight}},
		{"another root", func(*registry.Provider) {}, "/staging", []string{MetaRoot, MetaTimestamp}},
	}
	for _, tt := range tests {
		p := base
		tt.edit(&p)
		reg, err := encode(p, tt.root)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(sortedKeys(reg.Meta), ","); got != strings.Join(tt.want, ",") {
			t.Errorf("%s: Meta keys %s, want %s", tt.name, got, strings.Join(tt.want, ","))
		}
		e := &api.ServiceEntry{Node: &api.Node{Node: "n1"}, Service: &api.AgentService{ID: reg.ID, Service: reg.Name,
			Address: reg.Address, Port: reg.Port, Meta: reg.Meta, Weights: api.AgentWeights{Passing: 1}}}
		if reg.Weights != nil {
			e.Service.Weights = *reg.Weights
		}
		d, err := decode(e)
		if err != nil || d.root != tt.root || d.p.Host != p.Host || d.p.Weight != p.Weight {
			t.Errorf("%s: decoded %+v root %q, %v; want host %s weight %d root %s", tt.name, d.p, d.root, err, p.Host, p.Weight, tt.root)
		}
	}
}

// TestReadsPreviousVersionsMeta: an instance written by an earlier
// svcdisco, with all four svcdisco-* keys, is read as before.
func TestReadsPreviousVersionsMeta(t *testing.T) {
	e := &api.ServiceEntry{Node: &api.Node{Node: "n1"}, Service: &api.AgentService{ID: "web-1", Service: "web",
		Address: "10.0.0.5", Port: 80, Weights: api.AgentWeights{Passing: 2, Warning: 1},
		Meta: map[string]string{MetaTimestamp: "2026-11-22T10:00:00.123Z", MetaHost: "web1.example.com",
			MetaWeight: "2", MetaRoot: "/svcdisco", "zone": "a"}}}
	d, err := decode(e)
	if err != nil || d.root != "/svcdisco" || d.p.Host != "web1.example.com" || d.p.Weight != 2 ||
		d.p.Timestamp.IsZero() || len(d.p.Attributes) != 1 {
		t.Errorf("previous version's instance: %+v root %q, %v", d.p, d.root, err)
	}
	e.Service.Meta[MetaRoot] = "/other"
	if d, _ := decode(e); d.root != "/other" {
		t.Errorf("root %q, want /other", d.root)
	}
}

func TestNextIndex(t *testing.T) {
	tests := []struct{ prev, got, want uint64 }{
		{0, 10, 10},  // first answer
		{10, 10, 10}, // timeout or spurious wake-up: same index
		{10, 12, 12}, // moved on
		{12, 5, 0},   // went backwards (snapshot restore): start over
		{0, 0, 1},    // never block on 0 after an answer
		{7, 0, 0},    // backwards to 0 resets too
		{0, 1<<63 + 1, 1<<63 + 1},
	}
	for _, tt := range tests {
		if got := nextIndex(tt.prev, tt.got); got != tt.want {
			t.Errorf("nextIndex(%d, %d) = %d, want %d", tt.prev, tt.got, got, tt.want)
		}
	}
}

func TestNextBackoff(t *testing.T) {
	d := time.Duration(0)
	var seen []time.Duration
	for i := 0; i < 12; i++ {
		d = nextBackoff(d)
		seen = append(seen, d)
	}
	if seen[0] != minBackoff || seen[1] != 2*minBackoff || seen[len(seen)-1] != maxBackoff {
		t.Errorf("backoff sequence %v: want %v doubling up to %v", seen, minBackoff, maxBackoff)
	}
}
