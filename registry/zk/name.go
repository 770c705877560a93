package zk

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// A provider's znode NAME carries host, port and registration time:
//
//	host1.example.com:8080@1764064800123
//
// so that host/port/timestamp of a whole service cost one getChildren round
// trip. The timestamp is Unix milliseconds. Names are unique per
// registration: if two registrations of the same host:port land in the same
// millisecond, the later one moves its timestamp forward by 1 ms.
//
// The getChildren reply must fit ZooKeeper's jute.maxbuffer (1 MB by
// default); each name costs len(name)+4 bytes, so a 40-character FQDN
// (a 60-byte name) allows about 16,000 providers per service.

// InstanceName returns the znode name of a registration.
func InstanceName(host string, port int, ts time.Time) string {
	return host + ":" + strconv.Itoa(port) + "@" + strconv.FormatInt(ts.UnixMilli(), 10)
}

// ParseInstanceName is the inverse of InstanceName. It parses; whether the
// parts make a provider is registry.CheckKey's call.
func ParseInstanceName(name string) (host string, port int, ts time.Time, err error) {
	at := strings.LastIndexByte(name, '@')
	colon := strings.LastIndexByte(name[:max(at, 0)], ':')
	if at < 0 || colon <= 0 {
		return "", 0, time.Time{}, fmt.Errorf("znode name %q is not host:port@millis", name)
	}
	ms, ok := positiveInt(name[at+1:])
	if !ok {
		return "", 0, time.Time{}, fmt.Errorf("znode name %q: bad timestamp", name)
	}
	p, ok := positiveInt(name[colon+1 : at])
	if !ok || p > 65535 {
		return "", 0, time.Time{}, fmt.Errorf("znode name %q: bad port", name)
	}
	return name[:colon], int(p), time.UnixMilli(ms).UTC(), nil
}

// keyOf applies the entry rule (see registry.CheckKey) to a znode name and
// returns the fields-only provider it describes, without an ID (a listing
// sets IDs in one allocation; see fromNames).
func keyOf(service, name string, now time.Time) (registry.Provider, error) {
	var p registry.Provider
	err := parseKey(&p, service, name, now)
	return p, err
}

// parseKey is keyOf writing into *p (a listing fills its slice in place
// rather than copying each Provider).
func parseKey(p *registry.Provider, service, name string, now time.Time) error {
	_, _, ts, err := ParseInstanceName(name)
	if err != nil {
		return err
	}
	if err := registry.CheckTimestamp(ts, now); err != nil {
		return fmt.Errorf("znode name %q: %w", name, err)
	}
	return parseHostPort(p, service, name, ts)
}

// parseHostPort completes parseKey once the timestamp (ts) is known to be
// valid: the host and port before the '@' must pass registry.CheckKey.
func parseHostPort(p *registry.Provider, service, name string, ts time.Time) error {
	hostEnd, port, err := splitName(name)
	if err != nil {
		return err
	}
	p.Service, p.Host, p.Port, p.Timestamp, p.Name = service, name[:hostEnd], int(port), ts, name
	p.Status, p.Weight, p.FieldsOnly = registry.StatusUp, registry.DefaultWeight, true
	return nil
}

// splitName finds the host (name[:hostEnd]) and port of host:port@millis
// and checks them by the entry rule (registry.CheckKey).
func splitName(name string) (hostEnd, port int32, err error) {
	at := strings.LastIndexByte(name, '@')
	colon := strings.LastIndexByte(name[:max(at, 0)], ':')
	if at < 0 || colon <= 0 {
		return 0, 0, fmt.Errorf("znode name %q is not host:port@millis", name)
	}
	p, ok := positiveInt(name[colon+1 : at])
	if !ok || p > 65535 {
		return 0, 0, fmt.Errorf("znode name %q: bad port", name)
	}
	if err := registry.CheckHost(name[:colon]); err != nil {
		return 0, 0, fmt.Errorf("znode name %q: %w", name, err)
	}
	return int32(colon), int32(p), nil
}

// positiveInt is strconv.ParseInt(s, 10, 64) for a result above zero, the
// only kind a name's port and timestamp may be: ok is false where ParseInt
// fails or gives n <= 0. Up to 18 plain digits, every name's case, it is a
// loop of its own (ParseInt's generality was a tenth of a fields-only
// listing's CPU at 10,000 providers); anything else goes to ParseInt.
func positiveInt(s string) (n int64, ok bool) {
	if len(s) == 0 || len(s) > 18 || s[0] == '+' {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n > 0
	}
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		n = n*10 + int64(c)
	}
	return n, n > 0
}
