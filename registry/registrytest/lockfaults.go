package registrytest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

// lockScript is the child every contender wraps: while it runs, it holds an
// exclusive flock on a shared file (the kernel drops it however the holder
// dies), so a new holder that finds it taken proves two holders at once.
const lockScript = `flock -n -E 99 "$LOCKFILE" sh -c 'echo "start $W $SVCDISCO_LOCK_TOKEN $(date +%s%N)" >> "$LOG"; exec sleep 1000.$MARK'; rc=$?; [ $rc != 99 ] || echo "OVERLAP $W" >> "$LOG"; exit $rc`

// contenders is the set of `svcdisco lock` wrappers of one test.
type contenders struct {
	s          *suite
	t          *testing.T
	root, dir  string
	ttl        time.Duration
	procs      []*proc
	urls       []string
	partitions []func()
	heals      []func()
	marks      []string
	gen        int
}

func (c *contenders) start(i int) {
	c.gen++
	c.marks[i] = fmt.Sprintf("%d%04d", os.Getpid()%100000, c.gen)
	env := []string{"W=" + strconv.Itoa(i), "MARK=" + c.marks[i],
		"LOCKFILE=" + filepath.Join(c.dir, "flock"), "LOG=" + filepath.Join(c.dir, "log")}
	args := c.s.lockArgs(c.root, c.urls[i], "--session-timeout", c.ttl.String(), "db", "--grace", "1s", "--", "sh", "-c", lockScript)
	c.procs[i] = c.s.startCLI(c.t, env, args...)
}

// starts reads the log: the contender of every start, in order, and
// whether any start found the flock taken.
func (c *contenders) starts() (holders []int, tokens []int64, overlap string) {
	holders, tokens, _, overlap = c.startLog()
	return holders, tokens, overlap
}

// startLog is starts with the time of each start.
func (c *contenders) startLog() (holders []int, tokens []int64, at []time.Time, overlap string) {
	f, err := os.Open(filepath.Join(c.dir, "log"))
	if err != nil {
		return nil, nil, nil, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 4 && fs[0] == "start":
			w, _ := strconv.Atoi(fs[1])
			tok, _ := strconv.ParseInt(fs[2], 10, 64)
			ns, _ := strconv.ParseInt(fs[3], 10, 64)
			holders, tokens, at = append(holders, w), append(tokens, tok), append(at, time.Unix(0, ns))
		case len(fs) > 0 && fs[0] == "OVERLAP":
			overlap = sc.Text()
		}
	}
	return holders, tokens, at, overlap
}

// waitStart waits for start number n and returns its holder and how long
// it took.
func (c *contenders) waitStart(n int, since time.Time) (int, time.Duration) {
	c.t.Helper()
	var hs []int
	var at []time.Time
	testenv.WaitFor(c.t, fmt.Sprintf("holder number %d", n), 30*c.ttl+60*time.Second, func() bool {
		var overlap string
		hs, _, at, overlap = c.startLog()
		if overlap != "" {
			c.t.Fatalf("TWO HOLDERS: %s", overlap)
		}
		return len(hs) >= n
	})
	if len(hs) > n {
		c.t.Fatalf("%d starts, want %d: a contender started without a fault", len(hs), n)
	}
	return hs[n-1], at[n-1].Sub(since)
}

func lockRounds(def int) int {
	if n, err := strconv.Atoi(os.Getenv("SVCDISCO_LOCK_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// testLockNeverTwoHolders: three wrappers contend; each round injects a
// fault on the current holder (kill -9 of its svcdisco, kill -9 of its
// child, its connection cut past the session timeout) and checks that the
// flock is never found taken, that the fault ends the old holder with the
// documented exit code, that a new holder follows, and that no lock is
// left behind at the end.
func (s *suite) testLockNeverTwoHolders(t *testing.T) {
	ttl := s.b.LockTTL
	c := &contenders{s: s, t: t, root: s.root(t), dir: t.TempDir(), ttl: ttl,
		procs: make([]*proc, 3), urls: make([]string, 3), partitions: make([]func(), 3), heals: make([]func(), 3), marks: make([]string, 3)}
	for i := range c.procs {
		if s.b.Proxy != nil {
			c.urls[i], c.partitions[i], c.heals[i] = s.b.Proxy(t)
		}
		c.start(i)
	}
	faults := []string{"kill-svcdisco", "kill-child"}
	if s.b.Proxy != nil {
		faults = append(faults, "partition")
	}
	rounds := lockRounds(s.b.LockRounds)
	holder, took := c.waitStart(1, time.Now())
	t.Logf("first holder %d after %v", holder, took.Round(time.Millisecond))
	for r := 0; r < rounds; r++ {
		fault := faults[r%len(faults)]
		at := time.Now()
		want := c.inject(holder, fault)
		if code := c.procs[holder].wait(t, "the faulted holder"); code != want {
			t.Fatalf("round %d (%s): holder exited %d, want %d; stderr:\n%s", r, fault, code, want, c.procs[holder].stderr.String())
		}
		if fault == "partition" {
			c.heals[holder]()
		}
		old := holder
		holder, took = c.waitStart(r+2, at)
		t.Logf("round %d: %s of holder %d; new holder %d after %v", r, fault, old, holder, took.Round(time.Millisecond))
		c.start(old)
	}
	_, tokens, _ := c.starts()
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Errorf("token %d after %d: fencing tokens must strictly increase (all: %v)", tokens[i], tokens[i-1], tokens)
		}
	}
	for i, p := range c.procs {
		p.waitReady(t)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t, "a contender after SIGTERM"); code != 0 {
			t.Errorf("contender %d exited %d after SIGTERM, want 0; stderr:\n%s", i, code, p.stderr.String())
		}
	}
	// No stranded lock: a fresh client gets it at once.
	ctx, cancel := context.WithTimeout(context.Background(), 3*ttl+20*time.Second)
	defer cancel()
	h, err := s.locker(t, c.root).Lock(ctx, "db")
	if err != nil {
		t.Fatalf("lock left behind after every contender stopped: %v", err)
	}
	_ = h.Release(ctxT(t))
}

// inject applies fault to contender i and returns the exit code it must
// end with.
func (c *contenders) inject(i int, fault string) int {
	switch fault {
	case "kill-svcdisco":
		_ = c.procs[i].cmd.Process.Signal(syscall.SIGKILL)
		return 128 + int(syscall.SIGKILL)
	case "kill-child":
		pids := pidsWith("1000." + c.marks[i])
		if len(pids) != 1 {
			c.t.Fatalf("child of contender %d: found pids %v", i, pids)
		}
		_ = syscall.Kill(pids[0], syscall.SIGKILL)
		return 128 + int(syscall.SIGKILL) // CMD's code (flock reports its child's)
	default: // partition
		c.partitions[i]()
		return exitcode.LockLost
	}
}

// pidsWith lists the live processes whose command line contains s.
func pidsWith(s string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil || !strings.Contains(string(b), s) {
			continue
		}
		if st, err := os.ReadFile(d + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		pids = append(pids, pid)
	}
	return pids
}

// testLockEnsembleFaults: the same three wrappers on a 3-server ensemble,
// with the leader killed, then quorum lost for longer than the session
// timeout and restored. Killing the leader may or may not cost the holder
// its lock (it does when the ensemble takes longer than half the session
// timeout to answer again); either way the flock is never found taken, and
// after each fault some contender holds.
func (s *suite) testLockEnsembleFaults(t *testing.T) {
	if s.b.Ensemble == nil {
		t.Skipf("%s: no ensemble faults", s.b.Name)
	}
	e := s.b.Ensemble(t)
	ttl := 6 * time.Second // a leader election must fit inside half of it most of the time
	c := &contenders{s: s, t: t, root: s.root(t), dir: t.TempDir(), ttl: ttl,
		procs: make([]*proc, 3), urls: []string{e.URL, e.URL, e.URL}, marks: make([]string, 3)}
	for i := range c.procs {
		c.start(i)
	}
	holder, _ := c.waitStart(1, time.Now())
	n := 1
	rounds := lockRounds(1) // each round kills the leader, then takes quorum away
	for r := 0; r < rounds; r++ {
		for _, fault := range []string{"kill-leader", "lose-quorum"} {
			at := time.Now()
			var restore func()
			if fault == "kill-leader" {
				restore = e.KillLeader(t)
			} else {
				restore = e.LoseQuorum(t)
				// The holder cannot hear from a quorum: it must stop.
				if code := c.procs[holder].wait(t, "the holder without quorum"); code != exitcode.LockLost {
					t.Fatalf("holder exited %d without quorum, want 11; stderr:\n%s", code, c.procs[holder].stderr.String())
				}
				testenv.WaitFor(t, "quorum lost for longer than the session timeout", 2*ttl, func() bool { return time.Since(at) > ttl+time.Second })
			}
			restore()
			holder, n = c.settle(n, at, fault)
		}
	}
	for i, p := range c.procs {
		p.waitReady(t)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t, "a contender after SIGTERM"); code != 0 && code != exitcode.LockLost {
			t.Errorf("contender %d exited %d after SIGTERM; stderr:\n%s", i, code, p.stderr.String())
		}
	}
}

// settle restarts every contender that ended with "lock lost" (the only
// acceptable end after an ensemble fault), waits until some contender
// holds, and returns the holder and the number of starts so far.
func (c *contenders) settle(n int, at time.Time, fault string) (int, int) {
	c.t.Helper()
	var holder int
	testenv.WaitFor(c.t, "a holder after "+fault, 30*c.ttl+60*time.Second, func() bool {
		for i, p := range c.procs {
			select {
			case <-p.done:
				if p.code != exitcode.LockLost {
					c.t.Fatalf("contender %d exited %d after %s, want 11; stderr:\n%s", i, p.code, fault, p.stderr.String())
				}
				c.start(i)
			default:
			}
		}
		hs, _, starts, overlap := c.startLog()
		if overlap != "" {
			c.t.Fatalf("TWO HOLDERS after %s: %s", fault, overlap)
		}
		holder = hs[len(hs)-1]
		if len(hs) > n {
			c.t.Logf("%s: new holder %d after %v", fault, holder, starts[len(hs)-1].Sub(at).Round(time.Millisecond))
			n = len(hs)
		}
		// Held: the last holder's child is alive.
		return len(pidsWith("1000."+c.marks[holder])) == 1
	})
	return holder, n
}
