package zk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
)

func TestLoadAuth(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := os.WriteFile(good, []byte("# ops\n\nops:pa:ss\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "loose")
	if err := os.WriteFile(loose, []byte("ops:secretpw\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	creds, err := LoadAuth(good, "web1:w1pass, web2:w2pass")
	if err != nil {
		t.Fatal(err)
	}
	want := []Credential{{"web1", "w1pass"}, {"web2", "w2pass"}, {"ops", "pa:ss"}}
	if len(creds) != len(want) {
		t.Fatalf("got %v, want %v", creds, want)
	}
	for i := range want {
		if creds[i] != want[i] {
			t.Errorf("credential %d: got %v, want %v", i, creds[i], want[i])
		}
	}
	for _, c := range []struct{ file, env, want string }{
		{loose, "", "chmod 600"},
		{"", "web1", AuthEnv + ": entry 1"},
		{"", "web1:ok1pass,:nouser", AuthEnv + ": entry 2"},
		{filepath.Join(dir, "missing"), "", "--zk-auth-file"},
	} {
		_, err := LoadAuth(c.file, c.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadAuth(%q, %q) = %v, want an error containing %q", c.file, c.env, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secretpw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	// The digest id ZooKeeper computes, as go-zookeeper's DigestACL does.
	if got, want := (Credential{"ops", "pa:ss"}).ID(), zk.DigestACL(zk.PermAll, "ops", "pa:ss")[0].ID; got != want {
		t.Errorf("ID() = %q, want %q", got, want)
	}
}
