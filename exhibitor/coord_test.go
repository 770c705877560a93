package exhibitor_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// TestCoordinationThroughExhibitor: lock, elect and leader work on an
// exhibitor:// registry, on the same nodes as the zk:// registry of the
// ensemble it names (a lock held through one excludes the other).
func TestCoordinationThroughExhibitor(t *testing.T) {
	zkc := testzk.Start(t, 1)
	ex := testexhibitor.Start(t)
	ex.Servers(zkc.Servers[0].Addr())
	root := testzk.Root(t)
	via := func(url string, args ...string) []string {
		// global flags first: everything after -- is CMD
		return append([]string{"--registry", url, "--root", root, "--timeout", "10s",
			"--ensemble-cache", filepath.Join(t.TempDir(), "e.json")}, args...)
	}
	exURL := "exhibitor://" + ex.Host()
	ctx := ctx20(t)

	if r := testcli.Run(ctx, "", via(exURL, "lock", "db", "--", "sh", "-c", `test "$SVCDISCO_LOCK_TOKEN" -gt 0 && exit 7`)...); r.Code != 7 {
		t.Fatalf("lock through exhibitor: exit %d (%v), want CMD's 7", r.Code, r.Error)
	}
	holder := testcli.Start(t, via(zkc.URL(""), "lock", "db")...)
	testenv.WaitFor(t, "the zk:// lock to be held", 20*time.Second, func() bool {
		return strings.HasPrefix(holder.Out.String(), "locked db token ")
	})
	if r := testcli.Run(ctx, "", via(exURL, "lock", "db", "--wait", "1s", "--", "true")...); r.Code != exitcode.LockTimeout {
		t.Fatalf("lock through exhibitor while zk:// holds: exit %d (%v), want %d", r.Code, r.Error, exitcode.LockTimeout)
	}
	if err := holder.Stop(); err != nil {
		t.Fatalf("zk:// lock holder stopped with %v", err)
	}

	cand := testcli.Start(t, via(exURL, "elect", "sched", "--id", "s1", "--host", "s1.example.com", "--port", "7001")...)
	testenv.WaitFor(t, "the exhibitor:// contender to lead", 20*time.Second, func() bool {
		return strings.Contains(cand.Out.String(), `"leader":true`)
	})
	for _, url := range []string{exURL, zkc.URL("")} {
		if r := testcli.Run(ctx, "", via(url, "leader", "sched", "-o", "lines")...); r.Code != 0 || r.Out != "s1.example.com:7001\n" {
			t.Fatalf("leader via %s: exit %d out %q (%v)", url, r.Code, r.Out, r.Error)
		}
	}
	if err := cand.Stop(); err != nil {
		t.Fatalf("contender stopped with %v", err)
	}
	if r := testcli.Run(ctx, "", via(exURL, "leader", "sched")...); r.Code != exitcode.NotEnough {
		t.Fatalf("leader through exhibitor after the contender resigned: exit %d out %q, want 3", r.Code, r.Out)
	}
}
