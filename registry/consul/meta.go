package consul

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/registry"
)

// How a provider maps onto a Consul service instance.
//
//	provider field   Consul service instance
//	service          Service (name)
//	id               ID (the agent's service ID)
//	address          Address (host when no address is given)
//	port             Port
//	tags             Tags
//	host             Address, or Meta "svcdisco-host" when it differs from it
//	timestamp        Meta "svcdisco-timestamp" (UTC, ms: 2026-11-22T10:00:00.123Z)
//	weight           Weights.Passing, or Meta "svcdisco-weight" when Consul's
//	                 weights cannot hold it (0, or above 65535)
//	attributes       Meta, key for key (no prefix), so that Consul's own
//	                 Meta filters and a native service's Meta work with --where
//	endpoints        TaggedAddresses, name for name
//	status           "maintenance" while Consul's service maintenance mode is on
//	(--root)         Meta "svcdisco-root", unless it is DefaultRoot
//
// So a provider registered with the defaults carries one svcdisco Meta key,
// svcdisco-timestamp (which also tells svcdisco's instances from native
// ones), plus svcdisco-host when its host name is not its address. Every
// key is still read when present: instances written by earlier versions,
// which always wrote all four, are listed alike.
//
// Consul limits Meta to 64 pairs, keys to 128 characters of [A-Za-z0-9_-]
// and values to 512 characters, and reserves the "consul-" prefix; svcdisco
// reserves "svcdisco-". Attributes that do not fit are rejected before
// anything is written (exit 2) rather than truncated.
const (
	MetaPrefix    = "svcdisco-"
	MetaTimestamp = MetaPrefix + "timestamp"
	MetaHost      = MetaPrefix + "host"
	MetaWeight    = MetaPrefix + "weight"
	MetaRoot      = MetaPrefix + "root"

	// DefaultRoot is the --root whose instances carry no svcdisco-root.
	DefaultRoot = "/svcdisco"

	metaMaxPairs    = 64
	metaMaxKeyLen   = 128
	metaMaxValueLen = 512
)

// validMetaKey is Consul's rule for meta keys, [a-zA-Z0-9_-]+ (plain code
// rather than a package-level regexp, which every command would compile at
// start-up).
func validMetaKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// reservedTaggedAddresses are the tagged addresses Consul itself uses (the
// agent adds lan_ipv4/wan_ipv4 for any IPv4 service address); they are not
// endpoints.
var reservedTaggedAddresses = map[string]bool{
	"lan": true, "lan_ipv4": true, "lan_ipv6": true,
	"wan": true, "wan_ipv4": true, "wan_ipv6": true, "virtual": true,
}

// encode builds the agent registration of p (whose ID, Timestamp and
// Status are set). Errors name what does not fit; the caller makes them
// usage errors.
func encode(p registry.Provider, root string) (*api.AgentServiceRegistration, error) {
	address := p.Address
	if address == "" {
		address = p.Host
	}
	meta := map[string]string{MetaTimestamp: p.Timestamp.UTC().Format(registry.TimeFormat)}
	if p.Host != address {
		meta[MetaHost] = p.Host
	}
	if !weightFits(p.Weight) {
		meta[MetaWeight] = strconv.Itoa(p.Weight)
	}
	if root != DefaultRoot {
		meta[MetaRoot] = root
	}
	if len(root) > metaMaxValueLen {
		return nil, fmt.Errorf("root %q is longer than Consul's %d-character Meta value limit", root, metaMaxValueLen)
	}
	if n := len(meta) + len(p.Attributes); n > metaMaxPairs {
		return nil, fmt.Errorf("%d attributes: Consul allows %d Meta pairs and svcdisco uses %d, so at most %d attributes",
			len(p.Attributes), metaMaxPairs, len(meta), metaMaxPairs-len(meta))
	}
	for _, k := range sortedKeys(p.Attributes) {
		if err := checkAttr(k, p.Attributes[k]); err != nil {
			return nil, err
		}
		meta[k] = p.Attributes[k]
	}
	reg := &api.AgentServiceRegistration{
		ID:      p.ID,
		Name:    p.Service,
		Address: address,
		Port:    p.Port,
		Meta:    meta,
		Tags:    p.Tags,
	}
	if weightFits(p.Weight) {
		reg.Weights = &api.AgentWeights{Passing: p.Weight, Warning: 1}
	}
	for name, ep := range p.Endpoints {
		if reservedTaggedAddresses[name] || strings.HasPrefix(name, MetaPrefix) {
			return nil, fmt.Errorf("endpoint %q: the name is reserved by Consul as a tagged address", name)
		}
		if reg.TaggedAddresses == nil {
			reg.TaggedAddresses = map[string]api.ServiceAddress{}
		}
		reg.TaggedAddresses[name] = api.ServiceAddress{Address: ep.Host, Port: ep.Port}
	}
	return reg, nil
}

// weightFits reports whether Consul's Weights.Passing can hold w.
func weightFits(w int) bool { return w >= 1 && w <= 65535 }

// checkAttr reports why an attribute cannot be a Consul Meta pair.
func checkAttr(k, v string) error {
	switch {
	case !validMetaKey(k):
		return fmt.Errorf("attribute %q: Consul Meta keys may only contain letters, digits, _ and -", k)
	case len(k) > metaMaxKeyLen:
		return fmt.Errorf("attribute %q: Consul Meta keys are at most %d characters", k, metaMaxKeyLen)
	case strings.HasPrefix(k, "consul-"):
		return fmt.Errorf("attribute %q: the consul- prefix is reserved by Consul", k)
	case strings.HasPrefix(k, MetaPrefix):
		return fmt.Errorf("attribute %q: the %s prefix is reserved by svcdisco", k, MetaPrefix)
	case len(v) > metaMaxValueLen:
		return fmt.Errorf("attribute %q: value of %d characters exceeds Consul's %d-character Meta limit", k, len(v), metaMaxValueLen)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decoded is a service instance read back, with what listings filter on.
type decoded struct {
	p    registry.Provider
	root string // Meta svcdisco-root, else DefaultRoot; "" for a native service
}

// rootOf is the --root of an instance with this Meta: "" for a native one
// (no svcdisco-timestamp), DefaultRoot when svcdisco-root is not written.
func rootOf(meta map[string]string) string {
	if root, ok := meta[MetaRoot]; ok {
		return root
	}
	if _, ok := meta[MetaTimestamp]; ok {
		return DefaultRoot
	}
	return ""
}

// decode turns a health entry into a provider. A service registered
// natively (no svcdisco Meta) gets what Consul has: no timestamp, Host =
// Address (else the node's address), weight from Weights, every Meta pair as
// an attribute. An instance without a port (0, as Consul allows) and
// unreadable svcdisco Meta are errors (the caller skips the
// instance with a warning, as ZooKeeper's backend skips bad znodes).
func decode(e *api.ServiceEntry) (decoded, error) {
	s := e.Service
	p := registry.Provider{
		Service: s.Service,
		ID:      s.ID,
		Address: s.Address,
		Port:    s.Port,
		Status:  registry.StatusUp,
	}
	var d decoded
	node := ""
	if e.Node != nil {
		node = e.Node.Node
		if p.Address == "" {
			p.Address = e.Node.Address
		}
	}
	p.Name = s.ID + "@" + node
	p.Host = p.Address
	d.root = rootOf(s.Meta)
	if len(s.Tags) > 0 {
		p.Tags = append([]string(nil), s.Tags...)
	}
	if s.Weights.Passing > 0 {
		p.Weight = s.Weights.Passing
	}
	for k, v := range s.Meta {
		switch k {
		case MetaTimestamp:
			ts, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return d, fmt.Errorf("meta %s=%q: %w", k, v, err)
			}
			p.Timestamp = ts.UTC()
		case MetaHost:
			if v != "" {
				p.Host = v
			}
		case MetaWeight:
			w, err := strconv.Atoi(v)
			if err != nil || w < 0 {
				return d, fmt.Errorf("meta %s=%q: not a weight", k, v)
			}
			p.Weight = w
		case MetaRoot: // rootOf
		default:
			if strings.HasPrefix(k, MetaPrefix) {
				continue // a later svcdisco's field
			}
			if p.Attributes == nil {
				p.Attributes = map[string]string{}
			}
			p.Attributes[k] = v
		}
	}
	for name, ta := range s.TaggedAddresses {
		if reservedTaggedAddresses[name] {
			continue
		}
		if p.Endpoints == nil {
			p.Endpoints = map[string]registry.Endpoint{}
		}
		p.Endpoints[name] = registry.Endpoint{Host: ta.Address, Port: ta.Port}
	}
	if inMaintenance(e.Checks) {
		p.Status = registry.StatusMaintenance
	}
	d.p = p
	return d, nil
}

// inMaintenance reports whether Consul's maintenance mode is on for the
// service or its node.
func inMaintenance(checks api.HealthChecks) bool {
	for _, c := range checks {
		if maintenanceCheck(c.CheckID) && c.Status == api.HealthCritical {
			return true
		}
	}
	return false
}

// passing reports whether every check but maintenance (the service's or
// the node's) passes: a provider that may be listed with
// --include-maintenance.
func passingButMaintenance(checks api.HealthChecks) bool {
	for _, c := range checks {
		if maintenanceCheck(c.CheckID) {
			continue
		}
		if c.Status != api.HealthPassing {
			return false
		}
	}
	return true
}
