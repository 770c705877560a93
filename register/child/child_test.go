package child

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
)

// processesWith lists the PIDs whose command line contains marker.
func processesWith(marker string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		if st, err := os.ReadFile(d + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			continue // a zombie is dead; it only waits for its parent
		}
		pids = append(pids, filepath.Base(d))
	}
	return pids
}

var markers = 0

// marker is a string unique to this test run that sleeper puts into the
// command line of the sleep itself (as the fraction of its duration).
func marker(t *testing.T) string {
	markers++
	return fmt.Sprintf(".%d%03d", os.Getpid(), markers)
}

// sleeper is a shell command that sleeps about secs seconds with marker in
// its argv.
func sleeper(secs int, m string) string {
	return fmt.Sprintf("sleep %d%s", secs, m)
}

// #11 item 12: a wrapped command that leaves a background child behind
// leaves nothing running once it exits.
// Both with the PID namespace (root) and with the process group alone.
func TestRunStopsGroupWhenCommandExits(t *testing.T) {
	for _, noNS := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoPIDNamespace=%v", noNS), func(t *testing.T) { testStopsGroup(t, noNS) })
	}
}

func testStopsGroup(t *testing.T, noNS bool) {
	m := marker(t)
	res, err := Run(context.Background(), RunInput{
		Spec:  Spec{Argv: []string{"sh", "-c", sleeper(301, m) + " & exit 3"}, NoPIDNamespace: noNS},
		Grace: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.Cause != Exited {
		t.Fatalf("got %+v, want exit 3 by Exited", res)
	}
	if left := processesWith(m); len(left) > 0 {
		t.Fatalf("processes left after the command exited: %v", left)
	}
}

func TestRunNotFoundIs127(t *testing.T) {
	res, err := Run(context.Background(), RunInput{Spec: Spec{Argv: []string{"/nonexistent/svcdisco-cmd"}}})
	if !errors.Is(err, ErrNotFound) || res.ExitCode != 127 {
		t.Fatalf("got %+v, %v; want 127 and ErrNotFound", res, err)
	}
}

func TestRunStopTrigger(t *testing.T) {
	m := marker(t)
	stop := make(chan struct{})
	done := make(chan RunResult, 1)
	go func() {
		res, _ := Run(context.Background(), RunInput{
			Spec:  Spec{Argv: []string{"sh", "-c", sleeper(302, m) + " & wait"}},
			Grace: 2 * time.Second,
			Stop:  stop,
		})
		done <- res
	}()
	testenv.WaitFor(t, "the command to start", 30*time.Second, func() bool { return len(processesWith(m)) > 0 })
	close(stop)
	res := <-done
	if res.Cause != Stopped {
		t.Fatalf("cause %v, want Stopped", res.Cause)
	}
	if left := processesWith(m); len(left) > 0 {
		t.Fatalf("processes left after a stop: %v", left)
	}
}

func TestRunEnv(t *testing.T) {
	var out bytes.Buffer
	_, err := Run(context.Background(), RunInput{Spec: Spec{
		Argv: []string{"sh", "-c", "echo $SVCDISCO_TEST_X"}, Env: []string{"SVCDISCO_TEST_X=42"}, Stdout: &out}})
	if err != nil || strings.TrimSpace(out.String()) != "42" {
		t.Fatalf("got %q, %v", out.String(), err)
	}
}

// A SIGKILLed supervisor leaves nothing of CMD's tree: as root CMD is PID 1
// of its own PID namespace, so even a grandchild that left the process
// group (setsid) dies with it.
func TestSupervisorKilledLeavesNothing(t *testing.T) {
	if os.Getenv("SVCDISCO_CHILD_HELPER") != "" {
		return
	}
	m := marker(t)
	script := sleeper(303, m) + " & setsid " + sleeper(304, m) + " & wait"
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSupervisor$")
	cmd.Env = append(os.Environ(), "SVCDISCO_CHILD_HELPER="+script)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := 2
	testenv.WaitFor(t, "the wrapped tree to start", 30*time.Second, func() bool { return len(processesWith(m)) >= want })
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if os.Geteuid() != 0 {
		t.Log("not root: no PID namespace; only the direct child is covered by the parent-death signal")
		t.Cleanup(func() { killAll(m) })
		return
	}
	testenv.WaitFor(t, "every process of the wrapped tree to die", 30*time.Second, func() bool { return len(processesWith(m)) == 0 })
}

func TestHelperSupervisor(t *testing.T) {
	script := os.Getenv("SVCDISCO_CHILD_HELPER")
	if script == "" {
		return // only meaningful as the helper process of the test above
	}
	_, _ = Run(context.Background(), RunInput{Spec: Spec{Argv: []string{"sh", "-c", script}}})
}

func killAll(m string) {
	for _, p := range processesWith(m) {
		var pid int
		fmt.Sscan(p, &pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
