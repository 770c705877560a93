package register

import (
	"net"
	"testing"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

func TestParseAttrs(t *testing.T) {
	got, err := ParseAttrs([]string{"zone=a", "v=1=2", "empty="})
	if err != nil || got["zone"] != "a" || got["v"] != "1=2" || got["empty"] != "" {
		t.Fatalf("ParseAttrs = %v, %v", got, err)
	}
	for _, bad := range []string{"zone", "=a", "a!=b"} {
		if _, err := ParseAttrs([]string{bad}); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("ParseAttrs(%q) = %v, want usage error", bad, err)
		}
	}
}

func TestParseEndpoints(t *testing.T) {
	got, err := ParseEndpoints([]string{"admin=h1:9090", "v6=[::1]:81"})
	if err != nil || got["admin"] != (registry.Endpoint{Host: "h1", Port: 9090}) || got["v6"].Host != "::1" {
		t.Fatalf("ParseEndpoints = %v, %v", got, err)
	}
	for _, bad := range []string{"admin", "admin=h1", "admin=h1:0", "=h1:80", "admin=:80", "a=h:x"} {
		if _, err := ParseEndpoints([]string{bad}); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("ParseEndpoints(%q) = %v, want usage error", bad, err)
		}
	}
}

func TestDefaults(t *testing.T) {
	if h := DefaultHost(); h == "" {
		t.Error("empty default host")
	}
	if ip := net.ParseIP(DefaultAddress()); ip == nil {
		t.Errorf("default address %q is not an IP", DefaultAddress())
	}
}
