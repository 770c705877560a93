package consul

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testconsul"
)

// consulLock runs the real `consul lock PREFIX CMD...` against a.
func consulLock(t *testing.T, a *testconsul.Agent, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := testconsul.Bin()
	if err != nil {
		testconsul.Missing(t, err)
	}
	cmd := exec.Command(bin, append([]string{"lock", "-http-addr=" + a.Addr()}, args...)...)
	return cmd
}

// TestConsulLockInterop: svcdisco's lock and `consul lock` on the same
// prefix exclude each other, both ways round.
func TestConsulLockInterop(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	prefix := strings.TrimSuffix(r.LockKey("shared"), "/.lock")

	// consul lock holds: svcdisco times out, then gets it once consul
	// lock's child exits.
	cl := consulLock(t, a, "-shell=false", "-pass-stdin", prefix, "sh", "-c", "echo held; read line")
	stdin, _ := cl.StdinPipe()
	out, _ := cl.StdoutPipe()
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Process.Signal(syscall.SIGKILL); _ = cl.Wait() })
	held := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		held <- sc.Scan() && sc.Text() == "held"
	}()
	select {
	case ok := <-held:
		if !ok {
			t.Fatal("consul lock's child did not report holding")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("consul lock did not acquire")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	_, err := r.Lock(ctx, "shared")
	cancel()
	if !errors.Is(err, coord.ErrLockTimeout) {
		t.Fatalf("svcdisco Lock while consul lock holds: %v, want ErrLockTimeout", err)
	}
	got := make(chan error, 1)
	var h coord.Hold
	go func() {
		var err error
		h, err = r.Lock(ctxT(t), "shared")
		got <- err
	}()
	_, _ = stdin.Write([]byte("done\n")) // consul lock's child exits; it releases
	if err := <-got; err != nil {
		t.Fatalf("svcdisco Lock after consul lock released: %v", err)
	}
	_ = cl.Wait()

	// svcdisco holds: consul lock gives up, then succeeds after our release.
	if out, err := consulLock(t, a, "-shell=false", "-timeout=2s", prefix, "echo", "ran").CombinedOutput(); err == nil || strings.Contains(string(out), "ran") {
		t.Fatalf("consul lock while svcdisco holds: %v, %s; want a failure without running", err, out)
	}
	if err := h.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if out, err := consulLock(t, a, "-shell=false", "-timeout=20s", prefix, "echo", "ran").CombinedOutput(); err != nil || !strings.Contains(string(out), "ran") {
		t.Fatalf("consul lock after svcdisco released: %v, %s", err, out)
	}
}
