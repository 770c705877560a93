package registry

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseURL: no registry URL makes the parser panic; an accepted URL
// has hosts (consul:// alone excepted) and its redacted form, which is all
// a message may quote, never shows the password.
//
//	go test -run '^$' -fuzz FuzzParseURL ./registry/
func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"zk://h1:2181,h2:2181/prod", "zk://h1", "exhibitor://ops:pw@e1:8080/prod?backup=h1:2181",
		"consul://127.0.0.1:8500?token=abc&dc=dc1", "consul://", "etcd://[::1]:2379",
		"zk://h:99999", "zk://h/a//b", "zk:/x", "consul://h?token=%zz", "exhibitor://u:p@ss@h/x",
		"zk://u:p@h/x", "zk://h/svc@1?x=1", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		red := Redact(raw)
		u, err := ParseURL(raw)
		if err != nil {
			return
		}
		if len(u.Hosts) == 0 && u.Scheme != "consul" {
			t.Fatalf("accepted %q with no hosts", raw)
		}
		if u.Original != red {
			t.Fatalf("Original %q, want Redact(raw) %q", u.Original, red)
		}
		if u.User != nil {
			if pass, ok := u.User.Password(); ok && pass != "" && strings.Contains(red, u.User.Username()+":"+pass+"@") {
				t.Fatalf("Redact(%q) = %q shows the password", raw, red)
			}
		}
		if u.Chroot != "" {
			if err := ValidatePath(u.Chroot); err != nil {
				t.Fatalf("accepted chroot %q: %v", u.Chroot, err)
			}
		}
	})
}

// FuzzDecodeData: no znode data makes the provider decoder panic, and what
// it accepts survives a round trip through its own JSON.
//
//	go test -run '^$' -fuzz FuzzDecodeData ./registry/
func FuzzDecodeData(f *testing.F) {
	for _, seed := range []string{
		`{"service":"web","id":"web-h1-80","host":"h1","address":"10.0.0.5","port":80,"endpoints":{"admin":{"host":"h1","port":9090}},"attributes":{"zone":"a"},"weight":1,"status":"up","timestamp":"2026-11-22T10:00:00.123Z"}`,
		`{}`, `{"weight":-1}`, `{"status":"down"}`, `{"endpoints":{"x":{"host":"","port":0}}}`,
		`{"port":"80"}`, `[]`, `null`, `{"attributes":{"k":1}}`, `{"unknown":true}`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeData(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		if _, err := DecodeData(again); err != nil {
			t.Fatalf("accepted %q but not its own encoding %s: %v", data, again, err)
		}
	})
}
