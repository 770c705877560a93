package registry

import (
	"fmt"
	"strconv"
	"time"
)

// The entry rule: which entries a backend lists are providers, and what a
// provider's fields are when its pieces disagree. Every backend applies it
// to every listing (query in every output format, services, render, and so
// the Chef helpers, which read `query -o json`), so no output can list an
// entry another one skips.
//
//   - An entry is a provider when its key says a valid host (CheckHost), a
//     port in 1-65535 and a registration time within CheckTimestamp's range.
//     On ZooKeeper the key is the znode name, host:port@millis; on Consul it
//     is the instance's address, port and svcdisco-timestamp Meta (an
//     instance registered natively in Consul has no timestamp and sorts last).
//     Any other entry is skipped with one warning naming it.
//   - The key wins: host, port and timestamp come from it even when the data
//     says otherwise (a fields-only listing sees nothing else, and it must
//     list the same providers as a full one). A disagreement is logged.
//   - The data adds the rest. Data that does not parse or breaks
//     ValidateData is ignored as a whole with one warning: the provider is
//     listed from its key with the defaults.
//   - Missing fields get the defaults: weight DefaultWeight, status up, ID
//     DefaultID(service, host, port), no endpoints, no attributes, no
//     address.

// DefaultWeight is the weight of a provider whose data does not give one.
const DefaultWeight = 1

// MaxClockSkew is how far in the future of the reader's clock a
// registration time may be: registrants stamp with their own clock.
const MaxClockSkew = 24 * time.Hour

// MinTimestamp is the earliest registration time a provider may carry.
var MinTimestamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckHost reports whether h can be a provider's host: 1 to 253 characters
// of [A-Za-z0-9._:-] (names, IPv4 and IPv6 literals). It is a table lookup
// per byte, not a regexp, because a listing checks every provider.
func CheckHost(h string) error {
	if len(h) == 0 || len(h) > 253 {
		return fmt.Errorf("invalid host %q", h)
	}
	for i := 0; i < len(h); i++ {
		if !hostByte[h[i]] {
			return fmt.Errorf("invalid host %q", h)
		}
	}
	return nil
}

// hostByte holds the bytes CheckHost accepts.
var hostByte = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") {
		t[c] = true
	}
	return t
}()

// CheckTimestamp reports whether ts can be a registration time seen at now:
// not before MinTimestamp and not more than MaxClockSkew after now. (A far
// future time would sort as the newest provider forever and cannot be
// written as RFC 3339.)
func CheckTimestamp(ts, now time.Time) error {
	if ts.Before(MinTimestamp) || ts.After(now.Add(MaxClockSkew)) {
		return fmt.Errorf("registration time %s out of range", strconv.FormatInt(ts.UnixMilli(), 10)+"ms")
	}
	return nil
}

// CheckKey applies the entry rule to what an entry's key says. A zero
// timestamp is accepted only when optionalTimestamp (Consul's native
// instances).
func CheckKey(host string, port int, ts time.Time, optionalTimestamp bool, now time.Time) error {
	if err := CheckHost(host); err != nil {
		return err
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("invalid port %d", port)
	}
	if ts.IsZero() && optionalTimestamp {
		return nil
	}
	return CheckTimestamp(ts, now)
}

// DecodeData parses provider data as stored (the JSON of `query -o json`)
// and checks it with ValidateData. Missing fields get the defaults that do
// not depend on the key (weight, status); see Complete for the rest.
func DecodeData(data []byte) (Provider, error) {
	var p Provider
	// UnmarshalJSON directly: json.Unmarshal would scan data once more
	// before handing it over (a listing decodes every provider).
	if err := p.UnmarshalJSON(data); err != nil {
		return Provider{}, fmt.Errorf("provider JSON: %w", err)
	}
	if err := p.ValidateData(); err != nil {
		return Provider{}, fmt.Errorf("provider JSON: %w", err)
	}
	if p.Status == "" {
		p.Status = StatusUp
	}
	return p, nil
}

// ValidateData checks the fields provider data adds to its key: weight,
// status, endpoints, attribute keys and tags.
func (p Provider) ValidateData() error {
	if p.Status != "" {
		if err := ValidateStatus(p.Status); err != nil {
			return err
		}
	}
	if p.Weight < 0 {
		return fmt.Errorf("invalid weight %d: want >= 0", p.Weight)
	}
	for name, ep := range p.Endpoints {
		if name == "" || CheckHost(ep.Host) != nil || ep.Port < 1 || ep.Port > 65535 {
			return fmt.Errorf("invalid endpoint %q: want name=host:port", name)
		}
	}
	for k := range p.Attributes {
		if k == "" {
			return fmt.Errorf("invalid attribute key %q", k)
		}
	}
	return ValidateTags(p.Tags)
}

// Merge completes key, the provider an entry's key describes, with data
// decoded by DecodeData: the key's service, host, port, timestamp and name
// win. It returns the fields on which data disagreed with the key (for the
// caller's warning).
func Merge(key, data Provider) (Provider, []string) {
	var conflicts []string
	if data.Host != "" && data.Host != key.Host {
		conflicts = append(conflicts, "host")
	}
	if data.Port != 0 && data.Port != key.Port {
		conflicts = append(conflicts, "port")
	}
	if !data.Timestamp.IsZero() && !key.Timestamp.IsZero() && !data.Timestamp.Equal(key.Timestamp) {
		conflicts = append(conflicts, "timestamp")
	}
	data.Service, data.Host, data.Port, data.Timestamp, data.Name = key.Service, key.Host, key.Port, key.Timestamp, key.Name
	data.FieldsOnly = false
	data.Complete()
	return data, conflicts
}

// Complete fills the defaults that derive from the key: an empty ID becomes
// DefaultID, an empty status StatusUp.
func (p *Provider) Complete() {
	if p.ID == "" {
		p.ID = DefaultID(p.Service, p.Host, p.Port)
	}
	if p.Status == "" {
		p.Status = StatusUp
	}
}
