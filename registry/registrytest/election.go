package registrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

// ElectRounds is how many leader faults the election test injects on a
// backend whose session timeout is ttl: SVCDISCO_ELECT_ROUNDS when set
// (raise it for soak runs), else 6 (two of each fault, about 15 s on
// ZooKeeper), or 3 where a kill -9 or cut-off round waits out a 10 s TTL
// and Consul's 15 s lock-delay (about 70 s).
func ElectRounds(ttl time.Duration) int {
	if n, err := strconv.Atoi(os.Getenv("SVCDISCO_ELECT_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if ttl >= 10*time.Second {
		return 3
	}
	return 6
}

// leaderScript is the command every contender runs while it leads. It
// holds an exclusive flock on a shared file for as long as any process of
// its tree lives (the kernel drops it however they die), and records its
// term: a contender that finds the flock taken proves two leaders at once.
const leaderScript = `#!/bin/sh
# $1 contender id, $2 lock file, $3 term log
flock -n -E 99 "$2" sh -c 'echo "start $0 $SVCDISCO_ELECT_TOKEN" >> "$1"; exec sleep 100000' "$1" "$3"
rc=$?
[ "$rc" = 99 ] && echo "overlap $1 $SVCDISCO_ELECT_TOKEN" >> "$3"
exit $rc
`

// elector is one `svcdisco elect GROUP -- leaderScript` process.
type elector struct {
	id   string
	cmd  *exec.Cmd
	exit chan error
	errb *testenv.Buffer
	cut  func() // partitions it from the registry (nil: not possible)
}

type electionRun struct {
	s       *suite
	t       *testing.T
	root    string
	dir     string
	script  string
	log     string
	lock    string
	n       int
	running map[string]*elector
}

func (e *electionRun) start(t *testing.T) *elector {
	t.Helper()
	e.n++
	id := fmt.Sprintf("c%d", e.n)
	url, cut := e.s.b.URL, func() {}
	if e.s.b.Proxy != nil {
		url, cut, _ = e.s.b.Proxy(t)
	}
	args := []string{"elect", "sched", "--id", id, "--host", id + ".example.com", "--address", "127.0.0.1",
		"--port", strconv.Itoa(7000 + e.n), "--grace", "2s",
		"--registry", url, "--root", e.root, "--session-timeout", e.s.b.LockTTL.String(), "--timeout", "10s",
		"--", e.script, id, e.lock, e.log}
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(argv))
	el := &elector{id: id, cmd: cmd, exit: make(chan error, 1), errb: &testenv.Buffer{}, cut: cut}
	cmd.Stderr = el.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { el.exit <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-el.exit
		el.exit <- err
		if t.Failed() {
			t.Logf("%s stderr:\n%s", id, el.errb.String())
		}
	})
	e.running[id] = el
	return el
}

// term is one line of the term log.
type term struct {
	what, id string
	token    int64
}

func (e *electionRun) terms(t *testing.T) []term {
	t.Helper()
	b, err := os.ReadFile(e.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []term
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		tok, _ := strconv.ParseInt(f[2], 10, 64)
		out = append(out, term{f[0], f[1], tok})
	}
	return out
}

// waitTerm waits for the n-th term to start and checks no term overlapped.
func (e *electionRun) waitTerm(t *testing.T, n int) term {
	t.Helper()
	var got []term
	testenv.WaitFor(t, fmt.Sprintf("term %d to start", n), 20*e.s.b.LockTTL+30*time.Second, func() bool {
		got = e.terms(t)
		return len(got) >= n
	})
	for _, tm := range got {
		if tm.what != "start" {
			t.Fatalf("two leaders at once: %s found the leaders' flock taken (token %d); terms: %+v", tm.id, tm.token, got)
		}
	}
	if n > 1 && got[n-1].token <= got[n-2].token {
		t.Fatalf("fencing token went from %d to %d", got[n-2].token, got[n-1].token)
	}
	return got[n-1]
}

// waitExit waits for a contender to exit and returns its code.
func (el *elector) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case err := <-el.exit:
		el.exit <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		t.Fatalf("%s still running after %v; stderr:\n%s", el.id, d, el.errb.String())
		return -1
	}
}

// testElection: three `svcdisco elect -- CMD` contenders; the leader is
// killed -9, stopped with SIGTERM, or (where the backend allows) cut off
// from the registry, round after round. There is never more than one CMD
// holding the leaders' flock, tokens strictly increase, the leader's
// svcdisco exits 11 when cut off, and a `leader --watch` style detector
// sees every term with the same id and token.
func (s *suite) testElection(t *testing.T) {
	if s.b.LockTTL == 0 {
		t.Skip("backend has no coordination")
	}
	dir := t.TempDir()
	e := &electionRun{s: s, t: t, root: s.root(t), dir: dir, script: filepath.Join(dir, "leader.sh"),
		log: filepath.Join(dir, "terms.log"), lock: filepath.Join(dir, "leader.lock"), running: map[string]*elector{}}
	if err := os.WriteFile(e.script, []byte(leaderScript), 0o755); err != nil {
		t.Fatal(err)
	}
	det, ok := s.open(t, e.root, nil).(coord.Detector)
	if !ok {
		t.Fatalf("%s registry is no coord.Detector", s.b.Name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := det.WatchLeader(ctx, "sched")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan []coord.LeaderChange, 1)
	go func() {
		var all []coord.LeaderChange
		for lc := range watch {
			all = append(all, lc)
		}
		seen <- all
	}()
	if code, _, _ := s.cli(t, e.root, "leader", "sched"); code != 3 {
		t.Fatalf("leader of an empty group: exit %d, want 3", code)
	}
	for range 3 {
		e.start(t)
	}
	rounds := ElectRounds(s.b.LockTTL)
	var started []term
	var faulted time.Time
	var fault string
	for round := 1; round <= rounds+1; round++ {
		tm := e.waitTerm(t, round)
		if !faulted.IsZero() { // a figure for the README, not a bound
			t.Logf("round %d: %s after %s of the leader: next term after %v", round-1, tm.id, fault, time.Since(faulted).Round(100*time.Millisecond))
		}
		started = append(started, tm)
		code, out, errOut := s.cli(t, e.root, "leader", "sched", "-o", "json")
		if code != 0 || !strings.Contains(out, `"id":"`+tm.id+`"`) {
			t.Fatalf("round %d: leader -o json = %d %q %s; %s leads", round, code, out, errOut, tm.id)
		}
		if round > rounds {
			break
		}
		faulted = time.Now()
		fault = e.fault(t, round, tm)
		e.start(t) // keep three contenders
	}
	cancel()
	all := <-seen
	checkWatched(t, started, all)
}

// fault ends the current leader's term one way or another, and says how.
func (e *electionRun) fault(t *testing.T, round int, tm term) string {
	t.Helper()
	el := e.running[tm.id]
	delete(e.running, tm.id)
	switch {
	case round%3 == 1:
		_ = el.cmd.Process.Signal(syscall.SIGKILL)
		el.waitExit(t, 30*time.Second)
		return "kill -9"
	case round%3 == 2 && e.s.b.Proxy != nil:
		el.cut()
		if code := el.waitExit(t, 10*e.s.b.LockTTL); code != 11 {
			t.Fatalf("round %d: partitioned leader %s exited %d, want 11 (lock lost); stderr:\n%s", round, tm.id, code, el.errb.String())
		}
		return "cut-off"
	default:
		_ = el.cmd.Process.Signal(syscall.SIGTERM)
		if code := el.waitExit(t, 30*time.Second); code != 0 {
			t.Fatalf("round %d: %s exited %d after SIGTERM, want 0; stderr:\n%s", round, tm.id, code, el.errb.String())
		}
		return "SIGTERM"
	}
}

// checkWatched: every term appears in the detector's changes, in order,
// with its token.
func checkWatched(t *testing.T, started []term, all []coord.LeaderChange) {
	t.Helper()
	i := 0
	for _, lc := range all {
		if i < len(started) && lc.OK && lc.Leader.ID == started[i].id && lc.Token == started[i].token {
			i++
		}
	}
	if i != len(started) {
		var b bytes.Buffer
		for _, lc := range all {
			fmt.Fprintf(&b, "  ok=%v id=%s token=%d\n", lc.OK, lc.Leader.ID, lc.Token)
		}
		t.Fatalf("the detector saw %d of %d terms %+v; it saw:\n%s", i, len(started), started, b.String())
	}
}
