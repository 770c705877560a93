package foreign

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

// Entry is one child znode as read: its name, data and creation time
// (ZooKeeper's ctime, the registration time of formats whose data has
// none).
type Entry struct {
	Name    string
	Data    []byte
	Created time.Time
}

// Decode maps one entry of format f onto a provider of service, by the
// table in the README ("Reading other systems' registrations"). An entry
// that is not a provider of that format is an error naming why; the
// caller skips it with one warning. FormatAuto picks the format per entry
// (Detect). now bounds timestamps as registry.CheckTimestamp does.
func Decode(f Format, service string, e Entry, now time.Time) (registry.Provider, error) {
	if f == FormatAuto {
		f = Detect(e)
	}
	var p registry.Provider
	var err error
	switch f {
	case FormatSvcdisco:
		p, err = decodeSvcdisco(service, e, now)
	case FormatCurator:
		p, err = decodeCurator(e)
	case FormatServerSet:
		p, err = decodeServerSet(e)
	case FormatNerve:
		p, err = decodeNerve(e)
	default:
		err = fmt.Errorf("not an entry of any known format")
	}
	if err != nil {
		return registry.Provider{}, err
	}
	p.Service, p.Name = service, e.Name
	if p.Timestamp.IsZero() {
		p.Timestamp = e.Created
	}
	p.Timestamp = p.Timestamp.UTC().Truncate(time.Millisecond)
	if err := registry.CheckKey(p.Host, p.Port, p.Timestamp, false, now); err != nil {
		return registry.Provider{}, err
	}
	if !registry.ValidName(p.ID) {
		p.ID = ""
	}
	if net.ParseIP(p.Host) != nil && p.Address == "" {
		p.Address = p.Host
	}
	if p.Weight < 0 {
		return registry.Provider{}, fmt.Errorf("invalid weight %d", p.Weight)
	}
	p.Complete()
	return p, nil
}

// isMemberName reports whether name is a ServerSet member's,
// member_NNNNNNNNNN (ZooKeeper's ten-digit sequence suffix).
func isMemberName(name string) bool {
	return strings.HasPrefix(name, "member_") && len(name) == len("member_")+10 && hasSequenceSuffix(name)
}

// isNerveName reports whether name is a Nerve entry's,
// <instance_id>_NNNNNNNNNN with a non-empty instance ID.
func isNerveName(name string) bool {
	return len(name) > 11 && hasSequenceSuffix(name)
}

// hasSequenceSuffix: name ends with _ and ten digits. Plain code, not a
// regular expression: every command pays for a package-level regexp's
// compilation at start-up.
func hasSequenceSuffix(name string) bool {
	if len(name) < 11 || name[len(name)-11] != '_' {
		return false
	}
	for _, c := range name[len(name)-10:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Detect tells an entry's format: its name when the name says (svcdisco's
// host:port@millis, ServerSet's member_NNNNNNNNNN), else its data (a
// Curator ServiceInstance has registrationTimeUTC), else Nerve's
// <instance_id>_NNNNNNNNNN name. It returns "" for none of them.
func Detect(e Entry) Format {
	if _, _, _, err := zk.ParseInstanceName(e.Name); err == nil {
		return FormatSvcdisco
	}
	if isMemberName(e.Name) {
		return FormatServerSet
	}
	var probe struct {
		RegistrationTimeUTC *json.RawMessage `json:"registrationTimeUTC"`
	}
	if json.Unmarshal(e.Data, &probe) == nil && probe.RegistrationTimeUTC != nil {
		return FormatCurator
	}
	if isNerveName(e.Name) {
		return FormatNerve
	}
	return ""
}

// decodeSvcdisco applies svcdisco's own entry rule to a child found at a
// foreign path (auto): the name wins, the data adds the rest, unreadable
// data is ignored (listed with the defaults).
func decodeSvcdisco(service string, e Entry, now time.Time) (registry.Provider, error) {
	host, port, ts, err := zk.ParseInstanceName(e.Name)
	if err != nil {
		return registry.Provider{}, err
	}
	key := registry.Provider{Service: service, Host: host, Port: port, Timestamp: ts, Name: e.Name}
	if err := registry.CheckKey(host, port, ts, false, now); err != nil {
		return registry.Provider{}, err
	}
	d, err := registry.DecodeData(e.Data)
	if err != nil {
		key.Weight = registry.DefaultWeight
		return key, nil
	}
	p, _ := registry.Merge(key, d)
	return p, nil
}

// curatorInstance is Curator x-discovery's ServiceInstance as its
// JsonInstanceSerializer writes it.
type curatorInstance struct {
	Name                string          `json:"name"`
	ID                  string          `json:"id"`
	Address             string          `json:"address"`
	Port                *int            `json:"port"`
	SSLPort             *int            `json:"sslPort"`
	Payload             json.RawMessage `json:"payload"`
	RegistrationTimeUTC *int64          `json:"registrationTimeUTC"`
	ServiceType         string          `json:"serviceType"`
	Enabled             *bool           `json:"enabled"`
}

func decodeCurator(e Entry) (registry.Provider, error) {
	var in curatorInstance
	if err := json.Unmarshal(e.Data, &in); err != nil {
		return registry.Provider{}, fmt.Errorf("Curator ServiceInstance JSON: %w", err)
	}
	if in.RegistrationTimeUTC == nil || in.Address == "" {
		return registry.Provider{}, fmt.Errorf("Curator ServiceInstance JSON: address and registrationTimeUTC are required")
	}
	p := registry.Provider{ID: in.ID, Host: in.Address, Timestamp: time.UnixMilli(*in.RegistrationTimeUTC),
		Weight: registry.DefaultWeight, Status: registry.StatusUp}
	switch {
	case in.Port != nil:
		p.Port = *in.Port
	case in.SSLPort != nil:
		p.Port = *in.SSLPort
	}
	if in.SSLPort != nil {
		p.Endpoints = map[string]registry.Endpoint{"ssl": {Host: in.Address, Port: *in.SSLPort}}
	}
	if in.Enabled != nil && !*in.Enabled {
		p.Status = registry.StatusMaintenance
	}
	p.Attributes = flatten(in.Payload)
	return p, nil
}

// flatten turns a JSON object into attributes: strings as they are, other
// values as their JSON text; Jackson's "@class" type tag is dropped. Any
// other payload (null, a scalar, an array) adds none.
func flatten(raw json.RawMessage) map[string]string {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &obj) != nil || len(obj) == 0 {
		return nil
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		if k == "@class" || k == "" || strings.ContainsAny(k, "=!") {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

// serverSetMember is a ServerSet member_ node as Twitter's commons and
// Finagle write it.
type serverSetMember struct {
	ServiceEndpoint     *registry.Endpoint           `json:"serviceEndpoint"`
	AdditionalEndpoints map[string]registry.Endpoint `json:"additionalEndpoints"`
	Status              string                       `json:"status"`
	Shard               *int                         `json:"shard"`
}

func decodeServerSet(e Entry) (registry.Provider, error) {
	if !isMemberName(e.Name) {
		return registry.Provider{}, fmt.Errorf("not a ServerSet member (member_NNNNNNNNNN)")
	}
	var in serverSetMember
	if err := json.Unmarshal(e.Data, &in); err != nil {
		return registry.Provider{}, fmt.Errorf("ServerSet member JSON: %w", err)
	}
	if in.ServiceEndpoint == nil {
		return registry.Provider{}, fmt.Errorf("ServerSet member JSON: no serviceEndpoint")
	}
	p := registry.Provider{Host: in.ServiceEndpoint.Host, Port: in.ServiceEndpoint.Port,
		Weight: registry.DefaultWeight, Status: registry.StatusUp}
	if in.Status != "" && in.Status != "ALIVE" {
		p.Status = registry.StatusMaintenance
	}
	for name, ep := range in.AdditionalEndpoints {
		if name == "" || registry.CheckHost(ep.Host) != nil || ep.Port < 1 || ep.Port > 65535 {
			return registry.Provider{}, fmt.Errorf("ServerSet member JSON: invalid additional endpoint %q", name)
		}
	}
	p.Endpoints = in.AdditionalEndpoints
	if in.Shard != nil {
		p.Attributes = map[string]string{"shard": strconv.Itoa(*in.Shard)}
	}
	return p, nil
}

// nerveEntry is what Airbnb's Nerve writes for a healthy service.
type nerveEntry struct {
	Host                 string            `json:"host"`
	Port                 int               `json:"port"`
	Name                 string            `json:"name"`
	Weight               *int              `json:"weight"`
	HAProxyServerOptions string            `json:"haproxy_server_options"`
	Labels               map[string]string `json:"labels"`
}

func decodeNerve(e Entry) (registry.Provider, error) {
	var in nerveEntry
	if err := json.Unmarshal(e.Data, &in); err != nil {
		return registry.Provider{}, fmt.Errorf("Nerve JSON: %w", err)
	}
	p := registry.Provider{ID: in.Name, Host: in.Host, Port: in.Port, Weight: registry.DefaultWeight, Status: registry.StatusUp}
	if in.Weight != nil {
		p.Weight = *in.Weight
	}
	attrs := map[string]string{}
	for k, v := range in.Labels {
		if k != "" && !strings.ContainsAny(k, "=!") {
			attrs[k] = v
		}
	}
	if in.HAProxyServerOptions != "" {
		attrs["haproxy_server_options"] = in.HAProxyServerOptions
	}
	if len(attrs) > 0 {
		p.Attributes = attrs
	}
	return p, nil
}
