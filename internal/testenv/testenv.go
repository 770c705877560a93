// Package testenv is what every integration test shares about its
// environment: how it waits (for a condition, with a generous deadline,
// never for a fixed time) and what it does when a real server or tool is
// missing (skip locally, FAIL when SVCDISCO_REQUIRE_INTEGRATION=1, as CI
// sets, so nothing passes in CI by skipping).
package testenv

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// WaitFor polls cond every 20ms until it holds, failing t after d. It
// bounds waits for things that happen asynchronously (a session expiring,
// a watch firing); it never asserts how fast they happen.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// RequireIntegration reports whether a missing server must fail the tests.
func RequireIntegration() bool { return os.Getenv("SVCDISCO_REQUIRE_INTEGRATION") == "1" }

// Missing ends the test because what (ZooKeeper, Consul, ruby…) is not
// available: a failure when integration is required, a skip otherwise.
func Missing(t testing.TB, what string, err error) {
	t.Helper()
	if RequireIntegration() {
		t.Fatalf("SVCDISCO_REQUIRE_INTEGRATION=1 and %s is unavailable: %v", what, err)
	}
	t.Skipf("%s unavailable: %v", what, err)
}

// FreePorts returns n distinct 127.0.0.1 ports nothing listens on (held
// open together while picked, so they differ).
//
// They are drawn at random from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), not asked for with :0: the kernel hands
// out :0 ports from the range it also gives every outgoing connection, so
// between the pick and a server's own bind any client, another test
// package's running at the same time included, could take the port. One
// did: a Consul agent failed to start with "bind: address already in use"
// in a `make flake` run of three packages at once.
func FreePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	lo, hi := 10000, ephemeralLow()-1
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		addr := "127.0.0.1:0"
		if hi-lo >= 1000 && tries < 100*n {
			addr = fmt.Sprintf("127.0.0.1:%d", lo+rand.IntN(hi-lo+1))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			if addr == "127.0.0.1:0" {
				return nil, err
			}
			continue // taken: draw another
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768,
// Linux's default, when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low <= 0 {
		return 32768
	}
	return low
}

// Buffer is a bytes.Buffer safe for one goroutine (a logger, a child
// process) writing while the test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// CleanEnv is the process environment without the caller's SVCDISCO_*
// settings (SVCDISCO_REQUIRE_INTEGRATION and SVCDISCO_ANSWER_CACHE kept), so a svcdisco started by a
// test sees only what the test gives it.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SVCDISCO_") || strings.HasPrefix(kv, "SVCDISCO_REQUIRE") ||
			strings.HasPrefix(kv, "SVCDISCO_ANSWER_CACHE=") {
			env = append(env, kv)
		}
	}
	return env
}

// MainWithBinary is a TestMain for packages that drive the svcdisco binary:
// it builds cmd/svcdisco once into a temporary directory (with the race
// detector when race is set), stores its path in *bin, runs the tests, calls
// after (e.g. testzk.StopShared) and removes the binary before exiting.
func MainWithBinary(m *testing.M, bin *string, race bool, after func()) {
	dir, err := os.MkdirTemp("", "svcdisco-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "svcdisco")
	// Every answer svcdisco gives is kept in its answer cache, by default
	// under /var/cache/svcdisco (as root) or ~/.cache: the tests' answers
	// go to the temporary directory instead (CleanEnv keeps the variable).
	os.Setenv("SVCDISCO_ANSWER_CACHE", filepath.Join(dir, "answers"))
	args := []string{"build", "-o", *bin}
	if race {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/svcdisco/svcdisco/cmd/svcdisco")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building svcdisco: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if after != nil {
		after()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}
