package registry

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"exhibitor://ops:s3cret@e1:8080/prod?backup=h1": "exhibitor://ops:xxxxx@e1:8080/prod?backup=h1",
		"exhibitor://ops@e1:8080":                       "exhibitor://ops@e1:8080",
		"zk://h1:2181/a@b":                              "zk://h1:2181/a@b",
		"nonsense":                                      "nonsense",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	_, err := ParseURL("exhibitor://ops:s3cret@e1:99999")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}
