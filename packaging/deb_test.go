// Package packaging_test builds svcdisco's Debian package with `make deb`
// and installs it into this machine: what an operator's `dpkg -i` does.
package packaging_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
)

const version = "1.2.3~test"

// TestDebInstall: `make deb` builds a package that installs the binary
// (reporting the version it was built as), the man pages (`man -w`
// finds them), bash/zsh/fish completion, both systemd units (which
// `systemd-analyze verify` accepts as installed) and the example config,
// and that `dpkg --purge` removes again. Needs root, like dpkg.
func TestDebInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (dpkg -i)", os.ErrPermission)
	}
	for _, tool := range []string{"make", "dpkg", "dpkg-deb", "man", "systemd-analyze"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool, err)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "svcdisco").CombinedOutput(); err == nil {
		t.Fatalf("a svcdisco package is installed already (%s): not overwriting it", strings.TrimSpace(string(out)))
	}
	stage := t.TempDir()
	run(t, "..", "make", "deb", "BINDIR="+stage, "VERSION=v"+version)
	deb := filepath.Join(stage, "svcdisco_"+version+"_"+runtime.GOARCH+".deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { dpkg(t, "--purge", "svcdisco") })
	dpkg(t, "-i", deb)
	if out := run(t, "", "/usr/bin/svcdisco", "version"); !strings.HasPrefix(out, "svcdisco v"+version+" ") {
		t.Errorf("svcdisco version: %q, want v%s", out, version)
	}
	if out := run(t, "", "man", "-w", "svcdisco"); strings.TrimSpace(out) != "/usr/share/man/man1/svcdisco.1" {
		t.Errorf("man -w svcdisco: %q", out)
	}
	for _, f := range []string{
		"/usr/share/bash-completion/completions/svcdisco",
		"/usr/share/zsh/vendor-completions/_svcdisco",
		"/usr/share/fish/vendor_completions.d/svcdisco.fish",
		"/etc/svcdisco/svcdisco.yaml",
		"/etc/svcdisco/services.d",
		"/usr/share/doc/svcdisco/examples/render.yaml",
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if b, err := os.ReadFile("/usr/share/bash-completion/completions/svcdisco"); err != nil || !strings.Contains(string(b), "__complete") {
		t.Errorf("bash completion does not ask svcdisco __complete: %v", err)
	}
	run(t, "", "systemd-analyze", "verify", "/lib/systemd/system/svcdisco-agent.service", "/lib/systemd/system/svcdisco-render.service")

	dpkg(t, "--purge", "svcdisco")
	for _, f := range []string{"/usr/bin/svcdisco", "/usr/share/man/man1/svcdisco.1", "/etc/svcdisco/svcdisco.yaml"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left after dpkg --purge: %v", f, err)
		}
	}
}

// run runs a command in dir and returns its stdout; stderr is shown on
// failure.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(testenv.CleanEnv(), "MANPAGER=cat")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// dpkg runs dpkg, waiting while another package operation holds its lock
// (the machine may be installing something else).
func dpkg(t *testing.T, args ...string) {
	t.Helper()
	var out []byte
	var err error
	testenv.WaitFor(t, "dpkg's lock", 5*time.Minute, func() bool {
		out, err = exec.Command("dpkg", args...).CombinedOutput()
		return err == nil || !strings.Contains(string(out), "lock")
	})
	if err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
