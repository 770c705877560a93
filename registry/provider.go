// Package registry defines what svcdisco stores and asks for: providers of a
// service, held by one interface with an implementation per backend
// (registry/zk first). The vocabulary follows DESIGN.md: a provider is one
// running instance of a service, registered with a timestamp.
package registry

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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
	// Tags are Consul's service tags: on Consul the instance's own Tags
	// (so natively registered tags are read too), on ZooKeeper and etcd
	// stored in the provider data. Always present in JSON ([] when none).
	Tags   []string `json:"tags"`
	Weight int      `json:"weight"`
	Status string   `json:"status"`
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
// as {} so every provider object has the same keys (see AppendJSON).
func (p Provider) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(make([]byte, 0, 256))
}

// AppendJSON appends p's JSON to b: the fields in the order of the struct,
// map keys sorted, nil maps as {} and nil tags as [], the timestamp as
// TimeFormat in UTC ("" when zero), strings escaped as encoding/json
// escapes them (HTML characters included). It is written by hand, byte for
// byte what encoding/json gives for the same struct
// (TestAppendJSONMatchesEncodingJSON, FuzzAppendJSON), because every
// listing, `-o json` and the answer cache encode each provider: through
// reflection that was most of a 10,000-provider answer's encoding time.
func (p Provider) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"service":`...)
	b = AppendJSONString(b, p.Service)
	b = append(b, `,"id":`...)
	b = AppendJSONString(b, p.ID)
	b = append(b, `,"host":`...)
	b = AppendJSONString(b, p.Host)
	b = append(b, `,"address":`...)
	b = AppendJSONString(b, p.Address)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(p.Port), 10)
	b = append(b, `,"endpoints":{`...)
	for i, name := range sortedKeys(p.Endpoints) {
		if i > 0 {
			b = append(b, ',')
		}
		e := p.Endpoints[name]
		b = AppendJSONString(b, name)
		b = append(b, `:{"host":`...)
		b = AppendJSONString(b, e.Host)
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(e.Port), 10)
		b = append(b, '}')
	}
	b = append(b, `},"attributes":{`...)
	for i, name := range sortedKeys(p.Attributes) {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, name)
		b = append(b, ':')
		b = AppendJSONString(b, p.Attributes[name])
	}
	b = append(b, `},"tags":[`...)
	for i, t := range p.Tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, t)
	}
	b = append(b, `],"weight":`...)
	b = strconv.AppendInt(b, int64(p.Weight), 10)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, p.Status)
	b = append(b, `,"timestamp":"`...)
	if !p.Timestamp.IsZero() {
		b = p.Timestamp.UTC().AppendFormat(b, TimeFormat)
	}
	return append(b, `"}`...), nil
}

// sortedKeys returns m's keys in order (nil for an empty map: no
// allocation for the common provider without endpoints).
func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AppendJSONString appends s as a JSON string, as encoding/json writes it.
// Printable ASCII other than the characters encoding/json escapes
// (" \ < > &) is copied; a string with anything else, which provider fields
// seldom hold, is encoded by encoding/json itself so its escaping stays
// exactly encoding/json's.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// UnmarshalJSON accepts what MarshalJSON writes (and RFC 3339 timestamps of
// any precision). An empty timestamp is the zero time; a missing (or null)
// weight is DefaultWeight, so data written without one never reads as
// weight 0 (no traffic).
func (p *Provider) UnmarshalJSON(b []byte) error {
	// A flat struct of its own rather than Provider embedded: a listing
	// decodes every provider, and encoding/json resolves fields through an
	// embedded pointer at a cost.
	var in struct {
		Service    string              `json:"service"`
		ID         string              `json:"id"`
		Host       string              `json:"host"`
		Address    string              `json:"address"`
		Port       int                 `json:"port"`
		Endpoints  map[string]Endpoint `json:"endpoints"`
		Attributes map[string]string   `json:"attributes"`
		Tags       []string            `json:"tags"`
		Weight     *int                `json:"weight"`
		Status     string              `json:"status"`
		Timestamp  string              `json:"timestamp"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	var ts time.Time
	if in.Timestamp != "" {
		t, err := time.Parse(time.RFC3339Nano, in.Timestamp)
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		ts = t.UTC()
	}
	weight := DefaultWeight
	if in.Weight != nil {
		weight = *in.Weight
	}
	p.Service, p.ID, p.Host, p.Address, p.Port = in.Service, in.ID, in.Host, in.Address, in.Port
	p.Endpoints, p.Attributes, p.Weight, p.Status, p.Timestamp = in.Endpoints, in.Attributes, weight, in.Status, ts
	p.Tags = nil
	if len(in.Tags) > 0 {
		p.Tags = in.Tags
	}
	return nil
}

// Addr returns host:port, the form `query -o lines` prints.
func (p Provider) Addr() string { return string(p.AppendAddr(nil)) }

// AppendAddr appends Addr to b (for output loops that must not allocate per
// provider). An IPv6 literal is bracketed.
func (p Provider) AppendAddr(b []byte) []byte {
	if strings.IndexByte(p.Host, ':') >= 0 {
		b = append(b, '[')
		b = append(b, p.Host...)
		b = append(b, ']')
	} else {
		b = append(b, p.Host...)
	}
	b = append(b, ':')
	return strconv.AppendInt(b, int64(p.Port), 10)
}

// DefaultID is the provider ID used when none is given: service-host-port.
func DefaultID(service, host string, port int) string {
	return service + "-" + host + "-" + strconv.Itoa(port)
}

// ValidName reports whether s matches the rule of service names, provider
// IDs and election groups: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. (A loop, not
// a regexp: the bounded repetition compiles to a large program, which a
// package-level regexp would pay at every process start.)
func ValidName(s string) bool {
	ok := len(s) >= 1 && len(s) <= 128
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '-')
	}
	return ok
}

// ValidateService reports whether name is a valid service name (ValidName).
func ValidateService(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("invalid service name %q: want [A-Za-z0-9][A-Za-z0-9._-]{0,127}", name)
	}
	return nil
}

// Validate checks everything a registration needs before it is written.
func (p Provider) Validate() error {
	if err := ValidateService(p.Service); err != nil {
		return err
	}
	if err := CheckHost(p.Host); err != nil {
		return err
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
	if err := ValidateTags(p.Tags); err != nil {
		return err
	}
	return p.CheckSize()
}

// MaxTagLen is the longest tag, in bytes.
const MaxTagLen = 255

// ValidateTag reports whether t can be a tag: 1 to MaxTagLen bytes of
// printable characters without spaces (Consul takes any string; svcdisco
// keeps tags to what every template, shell and table shows unambiguously).
func ValidateTag(t string) error {
	if t == "" || len(t) > MaxTagLen {
		return fmt.Errorf("invalid tag %q: want 1-%d characters", t, MaxTagLen)
	}
	for _, c := range t {
		if c <= ' ' || c == 0x7f || c == '\uFFFD' {
			return fmt.Errorf("invalid tag %q: spaces and control characters are not allowed", t)
		}
	}
	return nil
}

// ValidateTags checks every tag and that none is given twice.
func ValidateTags(tags []string) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if err := ValidateTag(t); err != nil {
			return err
		}
		if seen[t] {
			return fmt.Errorf("duplicate tag %q", t)
		}
		seen[t] = true
	}
	return nil
}

// HasTags reports whether p carries every one of tags.
func (p Provider) HasTags(tags []string) bool {
	for _, want := range tags {
		found := false
		for _, t := range p.Tags {
			if t == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
