package consul

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testconsul"
)

// consulSemHolder starts `consul lock -n limit PREFIX` around a child that
// says "held" and exits when its stdin gets a line; it returns once the
// child runs, with the writer that ends it.
func consulSemHolder(t *testing.T, a *testconsul.Agent, limit int, prefix string) io.WriteCloser {
	t.Helper()
	cl := consulLock(t, a, "-n="+strconv.Itoa(limit), "-shell=false", "-pass-stdin", prefix, "sh", "-c", "echo held; read line")
	stdin, _ := cl.StdinPipe()
	out, _ := cl.StdoutPipe()
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Process.Signal(syscall.SIGKILL); _ = cl.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "held" { // consul lock exits (EOF) if it fails
		t.Fatalf("consul lock -n %d: its child did not report holding (%q)", limit, sc.Text())
	}
	return stdin
}

// semHolders reads the semaphore's .lock key and fails the test when it
// lists more holders than its limit.
func semHolders(t *testing.T, r *Registry, prefix string, limit int) int {
	t.Helper()
	p, _, err := r.client.KV().Get(prefix+"/"+api.DefaultSemaphoreKey, nil)
	if err != nil || p == nil {
		t.Fatalf("read semaphore: %v, %v", p, err)
	}
	holders, l, err := semaphoreHolders(p)
	if err != nil {
		t.Fatal(err)
	}
	if l != limit || len(holders) > limit {
		t.Fatalf("semaphore %s: limit %d with %d holders %v, want limit %d and at most that many", prefix, l, len(holders), holders, limit)
	}
	return len(holders)
}

func semShort(r *Registry, name string, limit int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	h, err := r.Semaphore(ctx, name, limit)
	if err == nil {
		_ = h.Release(context.Background())
		return errors.New("acquired a slot of a full semaphore")
	}
	return err
}

// consulSemTry runs `consul lock -n limit -timeout=2s PREFIX echo ran`
// and says whether its command ran.
func consulSemTry(t *testing.T, a *testconsul.Agent, limit int, prefix string) (bool, string) {
	t.Helper()
	out, err := consulLock(t, a, "-n="+strconv.Itoa(limit), "-shell=false", "-timeout=2s", prefix, "echo", "ran").CombinedOutput()
	return err == nil && strings.Contains(string(out), "ran"), string(out)
}

// TestConsulSemaphoreInterop: svcdisco's Semaphore and `consul lock -n 2`
// on the same prefix share the same two slots, both ways round.
func TestConsulSemaphoreInterop(t *testing.T) {
	a := testconsul.Shared(t)
	r := open(t, Options{Address: a.Addr()}, nil)
	prefix := r.SemaphorePrefix("sem")

	// consul lock -n 2 takes both slots: svcdisco waits, and gets the slot
	// one of them gives back.
	first := consulSemHolder(t, a, 2, prefix)
	second := consulSemHolder(t, a, 2, prefix)
	if n := semHolders(t, r, prefix, 2); n != 2 {
		t.Fatalf("%d holders after two consul lock -n 2, want 2", n)
	}
	if err := semShort(r, "sem", 2); !errors.Is(err, coord.ErrLockTimeout) {
		t.Fatalf("svcdisco Semaphore while consul lock -n 2 holds both slots: %v, want ErrLockTimeout", err)
	}
	if err := semShort(r, "sem", 3); exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("svcdisco Semaphore with another limit: %v (exit %d), want exit %d", err, exitcode.Of(err), exitcode.Usage)
	}
	got := make(chan error, 1)
	var mine coord.Hold
	go func() {
		var err error
		mine, err = r.Semaphore(ctxT(t), "sem", 2)
		got <- err
	}()
	_, _ = first.Write([]byte("done\n"))
	if err := <-got; err != nil {
		t.Fatalf("svcdisco Semaphore after a consul lock -n 2 left: %v", err)
	}
	if n := semHolders(t, r, prefix, 2); n != 2 {
		t.Fatalf("%d holders with one consul lock and one svcdisco, want 2", n)
	}
	if ran, out := consulSemTry(t, a, 2, prefix); ran {
		t.Fatalf("a third holder ran while consul lock and svcdisco hold both slots: %s", out)
	}
	_, _ = second.Write([]byte("done\n"))

	// svcdisco takes both slots: consul lock -n 2 gives up, then runs once
	// one svcdisco slot is released.
	other, err := r.Semaphore(ctxT(t), "sem", 2)
	if err != nil {
		t.Fatalf("second svcdisco slot: %v", err)
	}
	if mine.Token() <= 0 || other.Token() <= mine.Token() {
		t.Fatalf("tokens %d then %d, want increasing", mine.Token(), other.Token())
	}
	if ran, out := consulSemTry(t, a, 2, prefix); ran {
		t.Fatalf("consul lock -n 2 ran while svcdisco holds both slots: %s", out)
	}
	semHolders(t, r, prefix, 2)
	if err := mine.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if ran, out := consulSemTry(t, a, 2, prefix); !ran {
		t.Fatalf("consul lock -n 2 after svcdisco released a slot did not run: %s", out)
	}
	if err := other.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	// The last holder out deletes .lock, as consul lock does, so the name
	// can then be taken as an exclusive lock (or with another limit).
	if p, _, err := r.client.KV().Get(prefix+"/"+api.DefaultSemaphoreKey, nil); err != nil || p != nil {
		t.Fatalf("semaphore state after the last release: %v, %v; want it deleted", p, err)
	}
	h, err := r.Lock(ctxT(t), "sem")
	if err != nil {
		t.Fatalf("exclusive lock on a name whose semaphore is unused: %v", err)
	}
	if err := semShort(r, "sem", 2); exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("semaphore on a name held as an exclusive lock: %v (exit %d), want exit %d", err, exitcode.Of(err), exitcode.Usage)
	}
	if err := h.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if p, _, err := r.client.KV().Get(r.LockKey("sem"), nil); err != nil || p != nil {
		t.Fatalf("lock key after release: %v, %v; want it deleted", p, err)
	}
}
