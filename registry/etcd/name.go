package etcd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// MarkerSuffix turns a provider key into its maintenance marker's key.
const MarkerSuffix = "~maintenance"

// InstanceName is the last component of a provider's key:
// host:port@millis, as on ZooKeeper.
func InstanceName(host string, port int, ts time.Time) string {
	return host + ":" + strconv.Itoa(port) + "@" + strconv.FormatInt(ts.UnixMilli(), 10)
}

// keyOf applies the entry rule (registry.CheckKey) to an instance name and
// returns the fields-only provider it describes.
func keyOf(service, name string, now time.Time) (registry.Provider, error) {
	var p registry.Provider
	at := strings.LastIndexByte(name, '@')
	colon := strings.LastIndexByte(name[:max(at, 0)], ':')
	if at < 0 || colon <= 0 {
		return p, fmt.Errorf("key name %q is not host:port@millis", name)
	}
	ms, err := strconv.ParseInt(name[at+1:], 10, 64)
	if err != nil || ms <= 0 {
		return p, fmt.Errorf("key name %q: bad timestamp", name)
	}
	port, err := strconv.Atoi(name[colon+1 : at])
	if err != nil {
		return p, fmt.Errorf("key name %q: bad port", name)
	}
	ts := time.UnixMilli(ms).UTC()
	if err := registry.CheckKey(name[:colon], port, ts, false, now); err != nil {
		return p, fmt.Errorf("key name %q: %w", name, err)
	}
	p = registry.Provider{Service: service, Host: name[:colon], Port: port, Timestamp: ts, Name: name,
		Status: registry.StatusUp, Weight: registry.DefaultWeight, FieldsOnly: true}
	p.Complete()
	return p, nil
}
