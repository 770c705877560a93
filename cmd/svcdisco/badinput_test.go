package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testzk"
)

func TestBadInputExitCodes(t *testing.T) {
	e := newEnv(t)
	dead := fmt.Sprintf("127.0.0.1:%d", testzk.FreePort())
	cfg := filepath.Join(t.TempDir(), "svcdisco.yaml")
	if err := os.WriteFile(cfg, []byte("registry: zk://127.0.0.1:2181\nregistyr: typo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(t.TempDir(), "t.tmpl")
	if err := os.WriteFile(tmpl, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	huge := filepath.Join(t.TempDir(), "huge.tmpl")
	if err := os.WriteFile(huge, []byte("{{ range $i := until 100000000 }}{{ $i }}{{ end }}"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // the input the message must name
	}{
		{"service name", e.args("query", "web/../x"), 2, `"web/../x"`},
		{"service name on register", e.args("register", "-bad", "--port", "80"), 2, `-bad`},
		{"port range", e.args("register", "web", "--port", "70000"), 2, "70000"},
		{"port not a number", e.args("register", "web", "--port", "http"), 2, `"http"`},
		{"port missing", e.args("register", "web"), 2, "port"},
		{"attribute", e.args("register", "web", "--port", "80", "--attr", "zone"), 2, `"zone"`},
		{"endpoint", e.args("register", "web", "--port", "80", "--endpoint", "admin=h"), 2, `"admin=h"`},
		{"duration", e.args("query", "web", "--within-last", "10 minutes"), 2, "10 minutes"},
		{"since", e.args("query", "web", "--since", "yesterday"), 2, `"yesterday"`},
		{"filter", e.args("query", "web", "--where", "zone"), 2, `"zone"`},
		{"output", e.args("query", "web", "-o", "xml"), 2, `"xml"`},
		{"extra argument", e.args("query", "web", "db"), 2, "got 2"},
		{"unknown command", []string{"qeury"}, 2, "qeury"},
		{"registry URL", []string{"--registry", "zookeeper://h", "query", "web"}, 2, "zookeeper://h"},
		{"unknown config key", []string{"--config", cfg, "query", "web"}, 2, "registyr"},
		{"zk URL parameter", []string{"--registry", e.registry + "?sesion_timeout=5s", "query", "web"}, 2, `"sesion_timeout"`},
		{"address", e.args("register", "web", "--port", "80", "--address", "notanip"), 2, `"notanip"`},
		{"id", e.args("register", "web", "--port", "80", "--id", "a/b"), 2, `"a/b"`},
		{"duplicate attribute", e.args("register", "web", "--port", "80", "--attr", "k=1", "--attr", "k=2"), 2, `"k"`},
		{"flag error", e.args("query", "-Z", "web"), 2, "query: unknown shorthand flag: 'Z'"},
		{"ACL digest", e.args("chroot", "prime", "/p", "--acl", "digest:ops:HASH=:cdrwa"), 2, `"HASH="`},
		{"same destination", e.args("render", "--once", "--template", tmpl+":"+out, "--template", tmpl+":"+filepath.Dir(out)+"/./out"), 2, "both write"},
		{"render bound", e.args("render", "--once", "--timeout", "2s", "--template", huge+":"+out), 2, "until: 100000000 elements"},
		{"FIFO source", e.args("render", "--once", "--template", fifo+":"+out), 2, fifo},
		{"missing command", e.args("register", "web", "--port", "80", "--", "/no/such/command"), 127, "/no/such/command"},
		{"provider over 1 MB", e.args(bigAttrs("register", "web", "--port", "80")...), 2, "provider web-"},
		{"consul token in URL", []string{"--registry", "consul://" + dead + "?token=tok3n", "query", "web"}, 2, "--consul-token-file"},
		{"exhibitor password in URL", []string{"--registry", "exhibitor://ops:pw@" + dead + "/prod", "query", "web"}, 2, "--exhibitor-auth-file"},
		{"admin ACL", []string{"--zk-admin-acl", "world:anyone:rw", "query", "web"}, 2, "world:anyone:rw"},
		{"admin ACL digest", []string{"--zk-admin-acl", "digest:ops:HASH=:rw", "query", "web"}, 2, `"HASH="`},
		{"unreachable", []string{"--registry", "zk://" + dead, "--timeout", "1s", "query", "web"}, 4, dead},
		{"unreachable register", []string{"--registry", "zk://" + dead, "--timeout", "1s", "register", "web", "--port", "80"}, 4, dead},
		{"missing chroot", []string{"--registry", e.registry + "/no/such/chroot", "query", "web"}, 4, "svcdisco chroot prime /no/such/chroot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.args...)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", res.code, tt.code, res.stderr)
			}
			msg := strings.TrimSpace(res.stderr)
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "svcdisco: ") || !strings.Contains(msg, tt.want) ||
				strings.HasPrefix(msg, "svcdisco: svcdisco") {
				t.Errorf("stderr %q: want one line 'svcdisco: …' naming %q", res.stderr, tt.want)
			}
			// render reports each template on stdout; nothing else may print.
			if strings.Contains(res.stderr, "goroutine ") || (res.stdout != "" && !slices.Contains(tt.args, "render")) {
				t.Errorf("stack trace or stdout output: %q %q", res.stdout, res.stderr)
			}
		})
	}
}

func TestEnvAndConfigFile(t *testing.T) {
	e := newEnv(t)
	start(t, e.args("register", "web", "--port", "80", "--host", "h")...).waitLine(t, "registered")
	cfg := filepath.Join(t.TempDir(), "svcdisco.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("registry: %s\nroot: %s\n", e.registry, e.root)), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := run(t, "--config", cfg, "query", "web", "-o", "lines"); res.stdout != "h:80\n" {
		t.Errorf("from config file: %d %q %s", res.code, res.stdout, res.stderr)
	}
	// A flag beats the file: another root has no providers.
	if res := run(t, "--config", cfg, "--root", "/elsewhere", "query", "web", "-o", "lines"); res.code != 0 || res.stdout != "" {
		t.Errorf("flag over file: %d %q %s", res.code, res.stdout, res.stderr)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	if res := run(t, "version"); res.code != 0 || !strings.HasPrefix(res.stdout, "svcdisco ") {
		t.Errorf("version: %d %q", res.code, res.stdout)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if res := run(t, "completion", sh); res.code != 0 || !strings.Contains(res.stdout, "svcdisco") {
			t.Errorf("completion %s: exit %d", sh, res.code)
		}
	}
	if res := run(t, "query", "--help"); res.code != 0 || !strings.Contains(res.stdout, "Examples:") || !strings.Contains(res.stdout, "Exit codes") {
		t.Errorf("query --help lacks examples or exit codes:\n%s", res.stdout)
	}
}

// bigAttrs appends 11 attributes of 100 KB: over ZooKeeper's 1 MB limit.
func bigAttrs(args ...string) []string {
	for i := 0; i < 11; i++ {
		args = append(args, "--attr", fmt.Sprintf("a%d=%s", i, strings.Repeat("x", 100*1000)))
	}
	return args
}
