package zk

import (
	"strconv"
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

// FuzzPositiveInt: positiveInt accepts what strconv.ParseInt(s, 10, 64)
// accepts with a result above zero, and gives the same number.
func FuzzPositiveInt(f *testing.F) {
	for _, seed := range []string{"1", "0", "80", "+80", "-5", "0080", "1795597985035", "999999999999999999",
		"9223372036854775807", "9223372036854775808", "00000000000000000001", "1_000", "", "+", "12a", " 1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil && want > 0
		got, ok := positiveInt(s)
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("positiveInt(%q) = %d, %v; ParseInt gives %d, %v", s, got, ok, want, err)
		}
	})
}
