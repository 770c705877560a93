package etcd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

func fromURL(t *testing.T, raw string) (Options, error) {
	t.Helper()
	u, err := registry.ParseURL(raw)
	if err != nil {
		t.Fatalf("ParseURL(%s): %v", raw, err)
	}
	return FromURL(u)
}

func TestFromURL(t *testing.T) {
	t.Setenv(EnvUser, "")
	t.Setenv(EnvUserFile, "")
	o, err := fromURL(t, "etcd://h1,h2:2380")
	if err != nil || strings.Join(o.Endpoints, ",") != "h1:2379,h2:2380" || o.TLS != nil || o.Username != "" {
		t.Fatalf("plain URL: %+v, %v", o, err)
	}
	for _, bad := range []string{
		"etcd://u:secret@h1",            // credentials on the command line
		"etcd://h1?password=x",          // unknown parameter
		"etcd://h1?cert=/nonexistent",   // cert without key
		"etcd://h1?cacert=/nonexistent", // unreadable CA
		"etcd://h1?userfile=/nonexistent",
	} {
		_, err := fromURL(t, bad)
		if exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%s: err = %v, want a usage error", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %v", bad, err)
		}
	}
}

func TestCredentials(t *testing.T) {
	file := filepath.Join(t.TempDir(), "user")
	if err := os.WriteFile(file, []byte("alice:s3cr:et\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvUserFile, "")
	t.Setenv(EnvUser, "bob:pw")
	o, err := fromURL(t, "etcd://h1")
	if err != nil || o.Username != "bob" || o.Password != "pw" {
		t.Errorf("from %s: %q %q %v", EnvUser, o.Username, o.Password, err)
	}
	t.Setenv(EnvUserFile, file)
	o, err = fromURL(t, "etcd://h1")
	if err != nil || o.Username != "alice" || o.Password != "s3cr:et" {
		t.Errorf("from %s: %q %q %v", EnvUserFile, o.Username, o.Password, err)
	}
	t.Setenv(EnvUser, "nocolon")
	t.Setenv(EnvUserFile, "")
	if _, err := fromURL(t, "etcd://h1"); exitcode.Of(err) != exitcode.Usage {
		t.Errorf("name without password: %v", err)
	}
}
