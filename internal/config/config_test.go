package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func load(t *testing.T, args []string, file string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddGlobalFlags(fs)
	if file != "" {
		p := filepath.Join(t.TempDir(), "svcdisco.yaml")
		if err := os.WriteFile(p, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs)
}

func TestPrecedence(t *testing.T) {
	file := "registry: zk://file:2181\ntimeout: 3s\nroot: /fromfile\nsession_timeout: 7s\n"
	t.Setenv("SVCDISCO_TIMEOUT", "4s")
	t.Setenv("SVCDISCO_ROOT", "/fromenv")
	cfg, err := load(t, []string{"--root", "/fromflag"}, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Registry != "zk://file:2181" { // file > default
		t.Errorf("registry %q", cfg.Registry)
	}
	if cfg.Timeout != 4*time.Second { // env > file
		t.Errorf("timeout %v", cfg.Timeout)
	}
	if cfg.Root != "/fromflag" { // flag > env
		t.Errorf("root %q", cfg.Root)
	}
	if cfg.SessionTimeout != 7*time.Second || cfg.LogLevel != "info" {
		t.Errorf("session_timeout %v log_level %q", cfg.SessionTimeout, cfg.LogLevel)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := load(t, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults
	if cfg.Registry != want.Registry || cfg.Root != want.Root || cfg.Timeout != want.Timeout || cfg.SessionTimeout != want.SessionTimeout {
		t.Errorf("defaults %+v", cfg)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		file string
		want string
	}{
		{"unknown key", nil, "registry: zk://h:2181\nregistyr: typo\n", "registyr"},
		{"bad duration in file", nil, "timeout: soon\n", "timeout"},
		{"bad yaml", nil, "registry: [\n", "svcdisco.yaml"},
		{"bad url", []string{"--registry", "zk//nope"}, "", "zk//nope"},
		{"bad root", []string{"--root", "relative"}, "", "relative"},
		{"bad level", []string{"--log-level", "loud"}, "", "loud"},
		{"zero timeout", []string{"--timeout", "0s"}, "", "timeout"},
		{"missing file", []string{"--config", "/nonexistent/svcdisco.yaml"}, "", "/nonexistent/svcdisco.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.args, tt.file)
			if exitcode.Of(err) != exitcode.Usage {
				t.Fatalf("err %v (exit %d), want a usage error", err, exitcode.Of(err))
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q should be one line naming %q", err, tt.want)
			}
		})
	}
}

// A bare number where a duration is expected would be nanoseconds: it is
// rejected in the file like in the environment, naming the key or variable.
func TestDurationsNeedUnits(t *testing.T) {
	for file, want := range map[string]string{
		"timeout: 5\n":            "'timeout' bare number 5",
		"session_timeout: 10\n":   "'session_timeout' bare number 10",
		"exhibitor_poll: 2.5\n":   "'exhibitor_poll' bare number 2.5",
		"timeout: soon\n":         `"soon"`,
		"session_timeout: '7'\n":  `"7"`,
		"timeout: 3s\nroot: /x\n": "",
	} {
		_, err := load(t, nil, file)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", file, err)
			}
			continue
		}
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v (exit %d), want exit 2 naming %s", file, err, exitcode.Of(err), want)
		}
	}
	for _, v := range []string{"abc", "5"} {
		t.Setenv("SVCDISCO_TIMEOUT", v)
		_, err := load(t, nil, "")
		if want := `SVCDISCO_TIMEOUT="` + v + `"`; exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), want) {
			t.Errorf("SVCDISCO_TIMEOUT=%s: %v, want exit 2 naming %s", v, err, want)
		}
	}
	// A flag overrides a bad variable, as it overrides a good one.
	t.Setenv("SVCDISCO_TIMEOUT", "abc")
	if cfg, err := load(t, []string{"--timeout", "2s"}, ""); err != nil || cfg.Timeout != 2*time.Second {
		t.Errorf("--timeout over a bad SVCDISCO_TIMEOUT: %v %v", cfg, err)
	}
}

// TestStaleSettings: stale_ok and answer_cache come from the file, the
// environment or flags like every setting; stale_ok is a duration with a
// unit and never negative.
func TestStaleSettings(t *testing.T) {
	cfg, err := load(t, nil, "stale_ok: 2h\nanswer_cache: /srv/answers\n")
	if err != nil || cfg.StaleOK != 2*time.Hour || cfg.AnswerCache != "/srv/answers" {
		t.Fatalf("from the file: %+v %v", cfg, err)
	}
	t.Setenv("SVCDISCO_STALE_OK", "30m")
	if cfg, err = load(t, nil, "stale_ok: 2h\n"); err != nil || cfg.StaleOK != 30*time.Minute {
		t.Errorf("env over file: %v %v", cfg.StaleOK, err)
	}
	if cfg, err = load(t, []string{"--stale-ok", "0s"}, ""); err != nil || cfg.StaleOK != 0 {
		t.Errorf("flag over env: %v %v", cfg.StaleOK, err)
	}
	t.Setenv("SVCDISCO_STALE_OK", "")
	os.Unsetenv("SVCDISCO_STALE_OK")
	if cfg, err = load(t, nil, ""); err != nil || cfg.StaleOK != 0 || cfg.AnswerCache != "" {
		t.Errorf("defaults: never stale, the default directory: %+v %v", cfg, err)
	}
	for _, bad := range []string{"stale_ok: 3600\n", "stale_ok: -1h\n"} {
		if _, err := load(t, nil, bad); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "stale_ok") {
			t.Errorf("%q: %v, want exit 2 naming stale_ok", bad, err)
		}
	}
	t.Setenv("SVCDISCO_STALE_OK", "1")
	if _, err := load(t, nil, ""); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "SVCDISCO_STALE_OK") {
		t.Errorf("SVCDISCO_STALE_OK=1: %v, want exit 2 naming it", err)
	}
}

func TestSameRegistry(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"zk://h1:2181,h2:2181/c", "zk://h2,h1/c", true},
		{"zk://h1/c", "zk://h1/d", false},
		{"zk://h1", "exhibitor://h1:2181", false},
		{"zk://h1:2181", "zk://h1:2182", false},
	} {
		if got := SameRegistry(tc.a, tc.b); got != tc.want {
			t.Errorf("SameRegistry(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// zk_admin_acl comes from the file, the environment (comma-separated) or
// repeated flags, validated like `chroot prime --acl`.
func TestAdminACL(t *testing.T) {
	const hash = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" // base64 of a 20-byte SHA-1
	ops, dev := "digest:ops:"+hash+":rw", "digest:dev:"+hash+":r"
	cfg, err := load(t, nil, "zk_admin_acl: [\""+ops+"\"]\n")
	if err != nil || len(cfg.ZKAdminACL) != 1 || cfg.ZKAdminACL[0] != ops {
		t.Fatalf("from the file: %+v, %v", cfg, err)
	}
	t.Setenv("SVCDISCO_ZK_ADMIN_ACL", ops+","+dev)
	if cfg, err = load(t, nil, ""); err != nil || len(cfg.ZKAdminACL) != 2 {
		t.Fatalf("from the environment: %v, %v", cfg.ZKAdminACL, err)
	}
	if cfg, err = load(t, []string{"--zk-admin-acl", dev}, ""); err != nil || len(cfg.ZKAdminACL) != 1 || cfg.ZKAdminACL[0] != dev {
		t.Fatalf("flag over environment: %v, %v", cfg.ZKAdminACL, err)
	}
	acl, err := ParseAdminACL(cfg.ZKAdminACL)
	if err != nil || len(acl) != 1 || acl[0].ID != "dev:"+hash || acl[0].Perms != 1 {
		t.Errorf("ParseAdminACL: %+v, %v", acl, err)
	}
	for _, bad := range []string{"world:anyone:rw", "digest:ops:nothash:rw", "digest:ops:" + hash} {
		t.Setenv("SVCDISCO_ZK_ADMIN_ACL", bad)
		if _, err := load(t, nil, ""); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "zk_admin_acl") {
			t.Errorf("zk_admin_acl %q: %v, want exit 2 naming zk_admin_acl", bad, err)
		}
	}
}
