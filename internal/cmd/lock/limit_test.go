package lock_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry/dial"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testzk.StopShared()
	testconsul.StopShared()
	os.Exit(code)
}

// TestLimitWithoutSemaphore: ZooKeeper has no counting lock, so --limit
// above 1 is refused with exit 2 before anything is taken.
func TestLimitWithoutSemaphore(t *testing.T) {
	c := testzk.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := testcli.Run(ctx, "", "lock", "db", "--limit", "2", "--registry", c.URL(""), "--root", testzk.Root(t),
		"--timeout", "10s", "--", "sh", "-c", "exit 7")
	if r.Code != exitcode.Usage || r.Error == nil || !strings.Contains(r.Error.Error(), "no counting lock for --limit 2") {
		t.Fatalf("zk lock --limit 2: exit %d, error %v; want exit 2 naming the missing counting lock", r.Code, r.Err)
	}
}

// TestLimitOnConsul: `lock --limit 2` runs CMD in a free slot, and waits
// (exit 10 after --wait) while both slots are held elsewhere.
func TestLimitOnConsul(t *testing.T) {
	a := testconsul.Shared(t)
	root := testzk.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := func(extra ...string) []string {
		return append([]string{"lock", "sem", "--limit", "2", "--registry", a.URL(), "--root", root, "--timeout", "10s"}, extra...)
	}
	if r := testcli.Run(ctx, "", args("--", "sh", "-c", "exit 7")...); r.Code != 7 {
		t.Fatalf("lock --limit 2 with free slots: exit %d, error %v; want CMD's 7", r.Code, r.Error)
	}
	reg, err := dial.Open(ctx, dial.Options{URL: a.URL(), Root: root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for i := 0; i < 2; i++ {
		h, err := reg.(coord.Semaphorer).Semaphore(ctx, "sem", 2)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = h.Release(context.Background()) }()
	}
	if r := testcli.Run(ctx, "", args("--wait", "1s", "--", "sh", "-c", "exit 7")...); r.Code != exitcode.LockTimeout ||
		r.Error == nil || !strings.Contains(r.Error.Error(), "2 of 2 slots") {
		t.Fatalf("lock --limit 2 with both slots held: exit %d, error %v; want %d naming the holders", r.Code, r.Error, exitcode.LockTimeout)
	}
}
