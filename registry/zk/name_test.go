package zk

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// The entry rule on znode names: which children are providers.
func TestKeyOf(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	ts := now.Add(-time.Hour).UnixMilli()
	name := func(hostPort string, ms int64) string { return hostPort + "@" + itoa(ms) }
	tests := []struct {
		name string
		host string
		port int
		err  string
	}{
		{name: name("h1.example.com:8080", ts), host: "h1.example.com", port: 8080},
		{name: name("fe80::1:443", ts), host: "fe80::1", port: 443},
		{name: name("h:80", now.Add(registry.MaxClockSkew).UnixMilli()), host: "h", port: 80},
		{name: "h1:80", err: "not host:port@millis"},
		{name: "noat", err: "not host:port@millis"},
		{name: "h:80@", err: "bad timestamp"},
		{name: "h:80@abc", err: "bad timestamp"},
		{name: "h:80@-5", err: "bad timestamp"},
		{name: name(":80", ts), err: "not host:port@millis"},
		{name: name("h:0", ts), err: "bad port"},
		{name: name("h:99999", ts), err: "bad port"},
		{name: name("evil host:80", ts), err: "invalid host"},
		{name: name("[::1]:80", ts), err: "invalid host"},
		{name: name("h:80", 99999999999999999), err: "out of range"},
		{name: name("h:80", 1), err: "out of range"},
		{name: "h:80@" + itoa(ts) + "x", err: "bad timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := keyOf("web", tt.name, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.name) {
					t.Fatalf("err = %v, want %q naming the znode", err, tt.err)
				}
				return
			}
			if err != nil || p.Host != tt.host || p.Port != tt.port || p.Timestamp.IsZero() ||
				p.Weight != registry.DefaultWeight || p.Status != registry.StatusUp || !p.FieldsOnly || p.Name != tt.name {
				t.Fatalf("keyOf = %+v, %v", p, err)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
