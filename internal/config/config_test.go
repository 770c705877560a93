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
