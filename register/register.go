// Package register holds providers in a registry: the library behind
// `svcdisco register` and `svcdisco agent`. It turns flag-shaped input
// into a registry.Provider with sensible defaults; Keep holds a
// registration while a health check (register/check) is up, Wrap only
// while a supervised command (register/child) runs, and register/agent
// holds a directory's worth of them.
package register

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// ParseAttrs parses repeated k=v attributes.
func ParseAttrs(kvs []string) (map[string]string, error) {
	attrs := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, "!") {
			return nil, exitcode.Usagef("invalid attribute %q: want key=value", kv)
		}
		if _, dup := attrs[k]; dup {
			return nil, exitcode.Usagef("duplicate attribute %q: %q is given twice", k, k)
		}
		attrs[k] = v
	}
	return attrs, nil
}

// ValidateID checks a provider ID given by hand ("" means the default,
// SERVICE-HOST-PORT) with the rule of service names, as the Chef library
// does: IDs become part of backend keys (a Consul service ID, an HTTP
// path), so a slash or a space is refused rather than mangled.
func ValidateID(id string) error {
	if id != "" && !registry.ValidName(id) {
		return fmt.Errorf("invalid id %q: want [A-Za-z0-9][A-Za-z0-9._-]{0,127}", id)
	}
	return nil
}

// ParseEndpoints parses repeated name=host:port endpoints.
func ParseEndpoints(eps []string) (map[string]registry.Endpoint, error) {
	out := make(map[string]registry.Endpoint, len(eps))
	for _, s := range eps {
		name, hostport, ok := strings.Cut(s, "=")
		host, portStr, err := net.SplitHostPort(hostport)
		port, perr := strconv.Atoi(portStr)
		if !ok || name == "" || err != nil || host == "" || perr != nil || port < 1 || port > 65535 {
			return nil, exitcode.Usagef("invalid endpoint %q: want name=host:port", s)
		}
		out[name] = registry.Endpoint{Host: host, Port: port}
	}
	return out, nil
}

// DefaultHost is the machine's fully qualified name (like `hostname -f`),
// falling back to the short hostname.
func DefaultHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if strings.Contains(h, ".") {
		return h
	}
	if cname, err := net.LookupCNAME(h); err == nil {
		if fq := strings.TrimSuffix(cname, "."); strings.Contains(fq, ".") {
			return fq
		}
	}
	return h
}

// DefaultAddress is the machine's primary IP: the first global unicast IPv4
// address of an interface that is up, else the first IPv6 one, else
// 127.0.0.1.
func DefaultAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	var v6 string
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			if ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
			if v6 == "" {
				v6 = ipn.IP.String()
			}
		}
	}
	if v6 != "" {
		return v6
	}
	return "127.0.0.1"
}

// Hold registers p, calls registered once it is, and keeps it until ctx is
// done; then it deregisters (so watchers see it vanish at once) and returns
// nil. Only the first registration is bounded by timeout; after that the
// registry keeps the provider across reconnects and session expiry.
func Hold(ctx context.Context, reg registry.Registry, p registry.Provider, timeout time.Duration, registered func(registry.Provider)) error {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	r, err := reg.Register(rctx, p)
	cancel()
	if err != nil {
		if ctx.Err() != nil && rctx.Err() != context.DeadlineExceeded {
			return nil // stopped before it was registered
		}
		return fmt.Errorf("register %s: %w", p.Service, err)
	}
	if registered != nil {
		registered(r.Provider())
	}
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.Deregister(dctx); err != nil {
		return fmt.Errorf("deregister %s: %w", p.Service, err)
	}
	return nil
}
