package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWrapPropagatesExitCodeAndDeregisters(t *testing.T) {
	e := newEnv(t)
	gate := filepath.Join(t.TempDir(), "gate")
	// A long session timeout: only an explicit deregistration makes the
	// provider vanish as soon as the command has exited.
	c := e.cmd(e.addr, "--session-timeout", "30s", "register", "web", "--port", "8080", "--host", "h1",
		"--", "sh", "-c", `echo child-output; until [ -e "$0" ]; do sleep 0.02; done; exit 7`, gate)
	stdout, _ := e.start(c)
	waitFor(t, "registration", func() bool { return len(e.list("web", false)) == 1 })
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, c); code != 7 {
		t.Errorf("exit code %d, want the command's 7", code)
	}
	if n := len(e.list("web", true)); n != 0 {
		t.Errorf("%d providers right after the command exited", n)
	}
	if stdout.String() != "child-output\n" {
		t.Errorf("stdout %q: want the command's output, unchanged", stdout)
	}
}

func TestWrapSIGTERMDeregistersBeforeTheCommandHearsIt(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "seen-by-handler")
	// The command's TERM handler asks the registry what it lists: the
	// provider must already be gone when the handler runs.
	script := `trap '"$0" --registry "zk://$1" --root "$2" query web -o lines --include-maintenance > "$3"; exit 0' TERM
sleep 1000 & wait`
	c := e.cmd(e.addr, "--session-timeout", "30s", "register", "web", "--port", "8080", "--host", "h1",
		"--", "sh", "-c", script, bin, e.addr, e.root, out)
	e.start(c)
	waitFor(t, "registration", func() bool { return len(e.list("web", false)) == 1 })
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, c); code != 0 {
		t.Errorf("exit code %d, want the command's 0", code)
	}
	seen, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the command's TERM handler did not run: %v", err)
	}
	if strings.TrimSpace(string(seen)) != "" {
		t.Errorf("the command's TERM handler still saw the provider listed: %q", seen)
	}
}

func TestWrapKillsTheProcessGroup(t *testing.T) {
	e := newEnv(t)
	pidFile := filepath.Join(t.TempDir(), "grandchild")
	// Command and grandchild both ignore SIGTERM: only the SIGKILL after
	// --kill-timeout, sent to the whole group, ends them.
	c := e.cmd(e.addr, "register", "web", "--port", "8080", "--host", "h1", "--kill-timeout", "200ms",
		"--", "sh", "-c", `trap "" TERM; sleep 1000 & echo $! > "$0"; wait`, pidFile)
	e.start(c)
	waitFor(t, "registration", func() bool { return len(e.list("web", false)) == 1 })
	grandchild := readPid(t, pidFile)
	if !alive(grandchild) {
		t.Fatal("grandchild not running")
	}
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, c); code != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code %d, want %d (the command was SIGKILLed)", code, 128+int(syscall.SIGKILL))
	}
	waitFor(t, "the grandchild to die", func() bool { return !alive(grandchild) })
	if n := len(e.list("web", true)); n != 0 {
		t.Errorf("%d providers after stop", n)
	}
}

func TestWrapForwardsToGrandchildren(t *testing.T) {
	e := newEnv(t)
	pidFile := filepath.Join(t.TempDir(), "grandchild")
	c := e.cmd(e.addr, "register", "web", "--port", "8080", "--host", "h1",
		"--", "sh", "-c", `sleep 1000 & echo $! > "$0"; wait`, pidFile)
	e.start(c)
	waitFor(t, "registration", func() bool { return len(e.list("web", false)) == 1 })
	grandchild := readPid(t, pidFile)
	if err := c.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	wait(t, c)
	waitFor(t, "the grandchild to die", func() bool { return !alive(grandchild) })
}

func TestWrapWithCheckRegistersOnlyOnceHealthy(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	c := e.cmd(e.addr, "register", "web", "--port", "8080", "--host", "h1",
		"--check", "exec:test -e "+ready, "--check-interval", "50ms", "--rise", "2", "--fall", "1",
		"--", "sleep", "1000")
	_, stderr := e.start(c)
	waitFor(t, "the check to run", func() bool { return strings.Contains(stderr.String(), "check failed") })
	if n := len(e.list("web", true)); n != 0 {
		t.Fatalf("registered before the check passed (%d)", n)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "registration", func() bool { return len(e.list("web", false)) == 1 })
	os.Remove(ready)
	waitFor(t, "deregistration", func() bool { return len(e.list("web", true)) == 0 })
	_ = c.Process.Signal(syscall.SIGTERM)
	wait(t, c)
}

// A command that leaves a background child and exits leaves nothing
// running once svcdisco has exited.
func TestWrapStopsLeftoversWhenTheCommandExits(t *testing.T) {
	e := newEnv(t)
	pidFile := filepath.Join(t.TempDir(), "leftover")
	c := e.cmd(e.addr, "register", "web", "--port", "8080", "--host", "h1", "--kill-timeout", "2s",
		"--", "sh", "-c", `sleep 301 & echo $! > "$0"; exit 0`, pidFile)
	e.start(c)
	if code := wait(t, c); code != 0 {
		t.Errorf("exit code %d, want the command's 0", code)
	}
	leftover := readPid(t, pidFile)
	t.Cleanup(func() { _ = syscall.Kill(leftover, syscall.SIGKILL) })
	if alive(leftover) {
		t.Fatalf("sleep 301 (pid %d) still running after svcdisco exited", leftover)
	}
}

// A command that cannot be found exits 127, as shells report it.
func TestWrapMissingCommandIs127(t *testing.T) {
	e := newEnv(t)
	c := e.cmd(e.addr, "register", "web", "--port", "8080", "--host", "h1", "--", "/nonexistent/svcdisco-cmd")
	e.start(c)
	if code := wait(t, c); code != 127 {
		t.Errorf("exit code %d, want 127", code)
	}
}
