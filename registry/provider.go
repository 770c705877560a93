// Package registry defines what svcdisco stores and asks for: providers of a
// service, held by one interface with an implementation per backend
// (registry/zk first). The vocabulary follows DESIGN.md: a provider is one
// running instance of a service, registered with a timestamp.
package registry

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Status values of a provider.
const (
	StatusUp          = "up"
	StatusMaintenance = "maintenance"
)

// TimeFormat is how timestamps are written: UTC, millisecond precision.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Endpoint is an additional address a provider serves on (ServerSets'
// additionalEndpoints), e.g. an admin port.
type Endpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Provider is one instance of a service. Its JSON form is the contract that
// `query -o json`, templates and the Chef library all share.
type Provider struct {
	Service    string              `json:"service"`
	ID         string              `json:"id"`
	Host       string              `json:"host"`
	Address    string              `json:"address"`
	Port       int                 `json:"port"`
	Endpoints  map[string]Endpoint `json:"endpoints"`
	Attributes map[string]string   `json:"attributes"`
	Weight     int                 `json:"weight"`
	Status     string              `json:"status"`
	// Timestamp is the registration time, truncated to milliseconds, UTC.
	Timestamp time.Time `json:"timestamp"`

	// Name is the backend's key for this registration (the znode name on
	// ZooKeeper). It is not part of the JSON contract.
	Name string `json:"-"`
	// FieldsOnly is set when only Service, Host, Port, Timestamp and Name are
	// known: the listing was asked not to fetch provider data.
	FieldsOnly bool `json:"-"`
}

// MarshalJSON writes the timestamp with millisecond precision and empty maps
// as {} so every provider object has the same keys.
func (p Provider) MarshalJSON() ([]byte, error) {
	type plain Provider
	out := struct {
		plain
		Timestamp string `json:"timestamp"`
	}{plain: plain(p)}
	if out.Endpoints == nil {
		out.Endpoints = map[string]Endpoint{}
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	if !p.Timestamp.IsZero() {
		out.Timestamp = p.Timestamp.UTC().Format(TimeFormat)
	}
	return json.Marshal(out)
}

// UnmarshalJSON accepts what MarshalJSON writes (and RFC 3339 timestamps of
// any precision). An empty timestamp is the zero time.
func (p *Provider) UnmarshalJSON(b []byte) error {
	type plain Provider
	in := struct {
		*plain
		Timestamp string `json:"timestamp"`
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	p.Timestamp = time.Time{}
	if in.Timestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, in.Timestamp)
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		p.Timestamp = ts.UTC()
	}
	return nil
}

// Addr returns host:port, the form `query -o lines` prints.
func (p Provider) Addr() string {
	if strings.Contains(p.Host, ":") { // IPv6 literal
		return fmt.Sprintf("[%s]:%d", p.Host, p.Port)
	}
	return fmt.Sprintf("%s:%d", p.Host, p.Port)
}

// DefaultID is the provider ID used when none is given: service-host-port.
func DefaultID(service, host string, port int) string {
	return fmt.Sprintf("%s-%s-%d", service, host, port)
}

// Sort orders providers oldest first: by timestamp, then by name (then ID),
// so rendered configs only change when the set of providers changes.
// Providers without a timestamp (written natively by another tool) sort last.
func Sort(ps []Provider) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Timestamp.IsZero() != b.Timestamp.IsZero() {
			return !a.Timestamp.IsZero()
		}
		if !a.Timestamp.Equal(b.Timestamp) {
			return a.Timestamp.Before(b.Timestamp)
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
}

var serviceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidateService reports whether name is a valid service name:
// [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
func ValidateService(name string) error {
	if !serviceRE.MatchString(name) {
		return fmt.Errorf("invalid service name %q: want [A-Za-z0-9][A-Za-z0-9._-]{0,127}", name)
	}
	return nil
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,253}$`)

// Validate checks everything a registration needs before it is written.
func (p Provider) Validate() error {
	if err := ValidateService(p.Service); err != nil {
		return err
	}
	if !hostRE.MatchString(p.Host) {
		return fmt.Errorf("invalid host %q", p.Host)
	}
	if p.Port < 1 || p.Port > 65535 {
		return fmt.Errorf("invalid port %d: want 1-65535", p.Port)
	}
	if p.Status != "" {
		if err := ValidateStatus(p.Status); err != nil {
			return err
		}
	}
	if p.Weight < 0 {
		return fmt.Errorf("invalid weight %d: want >= 0", p.Weight)
	}
	for name, ep := range p.Endpoints {
		if name == "" || ep.Host == "" || ep.Port < 1 || ep.Port > 65535 {
			return fmt.Errorf("invalid endpoint %q: want name=host:port", name)
		}
	}
	for k := range p.Attributes {
		if k == "" || strings.ContainsAny(k, "=!") {
			return fmt.Errorf("invalid attribute key %q", k)
		}
	}
	return p.CheckSize()
}
