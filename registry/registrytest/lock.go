package registrytest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

type namedTest = struct {
	name string
	fn   func(t *testing.T)
}

// lockTests are the coordination cases of the suite.
func (s *suite) lockTests() []namedTest {
	return []namedTest{
		{"LockExcludesAndTokensIncrease", s.testLockBasic},
		{"LockCLI", s.testLockCLI},
		{"LockMounts", s.testLockMounts},
		{"LockNeverTwoHolders", s.testLockNeverTwoHolders},
		{"LockEnsembleFaults", s.testLockEnsembleFaults},
	}
}

func (s *suite) locker(t *testing.T, root string) coord.Locker {
	t.Helper()
	l, ok := s.open(t, root, nil).(coord.Locker)
	if !ok {
		t.Fatalf("the %s registry is not a coord.Locker", s.b.Name)
	}
	return l
}

func (s *suite) testLockBasic(t *testing.T) {
	root := s.root(t)
	a, b := s.locker(t, root), s.locker(t, root)
	ha, err := a.Lock(ctxT(t), "db")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err = b.Lock(ctx, "db")
	var held *coord.HeldError
	if !errors.As(err, &held) || !errors.Is(err, coord.ErrLockTimeout) || exitcode.Of(err) != exitcode.LockTimeout {
		t.Fatalf("second Lock while held: %v (exit %d), want a HeldError with exit 10", err, exitcode.Of(err))
	}
	got := make(chan coord.Hold, 1)
	go func() {
		h, err := b.Lock(ctxT(t), "db")
		if err != nil {
			t.Error(err)
		}
		got <- h
	}()
	select {
	case <-got:
		t.Fatal("second holder acquired while the first still holds")
	case <-time.After(300 * time.Millisecond): // a negative check: nothing may arrive
	}
	if err := ha.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	hb := <-got
	if hb == nil {
		t.FailNow()
	}
	if hb.Token() <= ha.Token() {
		t.Errorf("token %d after %d: fencing tokens must strictly increase", hb.Token(), ha.Token())
	}
	select {
	case <-ha.Lost():
		if !errors.Is(ha.LostReason(), coord.ErrReleased) {
			t.Errorf("released hold: reason %v", ha.LostReason())
		}
	default:
		t.Error("Lost not closed after Release")
	}
	if err := hb.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// proc is a svcdisco process started by a test.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *testenv.Buffer
	done           chan struct{}
	code           int
}

// startCLI runs svcdisco (this test binary re-executed) with args and env.
func (s *suite) startCLI(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+string(argv))
	p := &proc{cmd: cmd, stdout: &testenv.Buffer{}, stderr: &testenv.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := cmd.Wait()
		p.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.code = 128 + int(ws.Signal())
			}
		}
		close(p.done)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
	return p
}

// wait waits for p to exit and returns its exit code.
func (p *proc) wait(t *testing.T, what string) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		t.Fatalf("%s still running after 60s; stderr:\n%s", what, p.stderr.String())
		return -1
	}
}

// waitReady waits until a `svcdisco lock` handles its stop signals: it
// logs "waiting for the lock" after installing its handler. (It may have
// exited meanwhile; then there is nothing to wait for.)
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	testenv.WaitFor(t, "svcdisco lock to be ready for signals", 60*time.Second, func() bool {
		select {
		case <-p.done:
			return true
		default:
			return strings.Contains(p.stderr.String(), "waiting for the lock")
		}
	})
}

func (s *suite) lockArgs(root, url string, extra ...string) []string {
	if url == "" {
		url = s.b.URL
	}
	return append([]string{"lock", "--registry", url, "--root", root, "--timeout", "10s"}, extra...)
}

func (s *suite) testLockCLI(t *testing.T) {
	root := s.root(t)
	// CMD gets the token, and its exit code becomes ours.
	p := s.startCLI(t, nil, s.lockArgs(root, "", "job", "--", "sh", "-c", `echo "$SVCDISCO_LOCK_NAME $SVCDISCO_LOCK_TOKEN"; exit 7`)...)
	if code := p.wait(t, "lock -- CMD"); code != 7 {
		t.Fatalf("exit %d, want CMD's 7; stderr:\n%s", code, p.stderr.String())
	}
	f := strings.Fields(p.stdout.String())
	if len(f) != 2 || f[0] != "job" {
		t.Fatalf("CMD printed %q, want the lock name and token", p.stdout.String())
	}
	if tok, err := strconv.ParseInt(f[1], 10, 64); err != nil || tok <= 0 {
		t.Fatalf("token %q is not a positive integer", f[1])
	}
	// Without CMD: one line, held until SIGTERM; --wait elsewhere gives 10
	// naming the holder.
	h := s.startCLI(t, nil, s.lockArgs(root, "", "job")...)
	testenv.WaitFor(t, "the holder's line", 60*time.Second, func() bool { return strings.HasPrefix(h.stdout.String(), "locked job token ") })
	w := s.startCLI(t, nil, s.lockArgs(root, "", "job", "--wait", "1s", "--", "touch", filepath.Join(t.TempDir(), "ran"))...)
	if code := w.wait(t, "lock --wait"); code != exitcode.LockTimeout || !strings.Contains(w.stderr.String(), "held by") {
		t.Fatalf("lock --wait while held: exit %d, stderr %q; want 10 naming the holder", code, w.stderr.String())
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	if code := h.wait(t, "lock holder"); code != 0 {
		t.Fatalf("holder exited %d after SIGTERM, want 0; stderr:\n%s", code, h.stderr.String())
	}
	// Released at once: the next one gets it without waiting for a timeout.
	n := s.startCLI(t, nil, s.lockArgs(root, "", "job", "--wait", "20s", "--", "true")...)
	if code := n.wait(t, "lock after release"); code != 0 {
		t.Fatalf("lock after release: exit %d; stderr:\n%s", code, n.stderr.String())
	}
	m := s.startCLI(t, nil, s.lockArgs(root, "", "job", "--", "/nonexistent/cmd")...)
	if code := m.wait(t, "lock -- missing"); code != 127 {
		t.Fatalf("missing CMD: exit %d, want 127", code)
	}
	u := s.startCLI(t, nil, "lock", "job", "--registry", s.b.UnreachableURL, "--timeout", "1s", "--", "true")
	if code := u.wait(t, "lock on an unreachable registry"); code != exitcode.Unreachable {
		t.Fatalf("unreachable registry: exit %d, want 4; stderr:\n%s", code, u.stderr.String())
	}
}

// testLockMounts mounts real tmpfs file systems (root only).
func (s *suite) testLockMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (to mount tmpfs)", errors.New("not root"))
	}
	root := s.root(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "data")
	ran := filepath.Join(dir, "ran")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// Missing at start: CMD never starts.
	p := s.startCLI(t, nil, s.lockArgs(root, "", "db", "--require-mount", mnt, "--", "touch", ran)...)
	if code := p.wait(t, "lock with a missing mount"); code != exitcode.MountMissing {
		t.Fatalf("exit %d, want 12; stderr:\n%s", code, p.stderr.String())
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("CMD ran although its mount was missing")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		testenv.Missing(t, "mount -t tmpfs", errors.New(string(out)))
	}
	var once sync.Once
	umount := func() { once.Do(func() { _ = exec.Command("umount", "-l", mnt).Run() }) }
	t.Cleanup(umount)
	// Unmounted while CMD runs: CMD stopped, exit 12, lock released.
	p = s.startCLI(t, nil, s.lockArgs(root, "", "db", "--require-mount", mnt, "--check-interval", "100ms",
		"--grace", "2s", "--", "sh", "-c", "touch "+ran+"; exec sleep 600")...)
	testenv.WaitFor(t, "CMD to start", 30*time.Second, func() bool { _, err := os.Stat(ran); return err == nil })
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v %s", err, out)
	}
	if code := p.wait(t, "lock after umount"); code != exitcode.MountMissing {
		t.Fatalf("exit %d after the mount vanished, want 12; stderr:\n%s", code, p.stderr.String())
	}
	n := s.startCLI(t, nil, s.lockArgs(root, "", "db", "--wait", "5s", "--", "true")...)
	if code := n.wait(t, "lock after the mount failure"); code != 0 {
		t.Fatalf("lock not released after the mount failure: exit %d; stderr:\n%s", code, n.stderr.String())
	}
}
