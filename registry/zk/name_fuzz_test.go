package zk

import (
	"testing"
)

// FuzzParseInstanceName: no znode name makes the parser panic, and every
// name it accepts is rebuilt by InstanceName into a name that parses to
// the same host, port and time.
//
//	go test -run '^$' -fuzz FuzzParseInstanceName ./registry/zk/
func FuzzParseInstanceName(f *testing.F) {
	for _, seed := range []string{
		"host1.example.com:8080@1795597985035", "[::1]:80@1", "h:0@1", "h:65536@1", "h:80@-5",
		":80@1", "h:80@", "h80@1", "h:80@1@2", "a:b:80@99999999999999999999", "h:+80@1", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		host, port, ts, err := ParseInstanceName(name)
		if err != nil {
			return
		}
		rebuilt := InstanceName(host, port, ts)
		h2, p2, ts2, err := ParseInstanceName(rebuilt)
		if err != nil || h2 != host || p2 != port || !ts2.Equal(ts) {
			t.Fatalf("%q parsed to (%q, %d, %v), rebuilt as %q, which parses to (%q, %d, %v, %v)",
				name, host, port, ts, rebuilt, h2, p2, ts2, err)
		}
	})
}
