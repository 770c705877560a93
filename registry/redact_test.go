package registry

import (
	"bytes"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"zk://h1:2181,h2:2181/prod", "zk://h1:2181,h2:2181/prod"},
		{"zk://h1:2181/svc@1", "zk://h1:2181/svc@1"},
		{"exhibitor://ops:pw@e1:8080/prod", "exhibitor://ops:xxxxx@e1:8080/prod"},
		{"exhibitor://ops:p@w@e1/prod", "exhibitor://ops:xxxxx@e1/prod"},
		{"exhibitor://ops:p/w@e1/prod", "exhibitor://ops:xxxxx@e1/prod"},
		{"exhibitor://ops@e1/prod", "exhibitor://ops@e1/prod"},
		{"zk:/ops:pw@h", "zk:/ops:xxxxx@h"},
		{"consul://h?token=tok", "consul://h?token=xxxxx"},
		{"consul://h?dc=dc1&token=tok&tls=1", "consul://h?dc=dc1&token=xxxxx&tls=1"},
		{"consul://h?tokne=tok%zz", "consul://h?tokne=xxxxx"},
		{"exhibitor://e1/p?backup=h1:2181", "exhibitor://e1/p?backup=h1:2181"},
		{"no scheme at all", "no scheme at all"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScrubWriter(t *testing.T) {
	AddURLSecrets("consul://h?token=t0k%2Fen&dc=dc1")
	AddURLSecrets("exhibitor://ops:pa55/word@e1/prod")
	AddSecret("abc") // too short to hide
	var b bytes.Buffer
	w := ScrubWriter(&b)
	if _, err := w.Write([]byte("t0k/en t0k%2Fen pa55/word pa55 dc1 abc\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "xxxxx xxxxx xxxxx xxxxx dc1 abc\n"; got != want {
		t.Errorf("scrubbed %q, want %q", got, want)
	}
}
