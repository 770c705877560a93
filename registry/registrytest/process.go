package registrytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/cmd/root"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/registry"
)

// childEnv marks the test binary re-executed as `svcdisco`.
const childEnv = "SVCDISCO_REGISTRYTEST_SVCDISCO"

// Main is the TestMain of a package running the suite: when the binary was
// re-executed as a child it runs `svcdisco` with the child's arguments and
// exits; otherwise it runs the tests, then stop (may be nil).
func Main(m *testing.M, stop func()) {
	if args := os.Getenv(childEnv); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, "bad", childEnv, err)
			os.Exit(1)
		}
		code, _ := CLI(context.Background(), os.Stdout, os.Stderr, argv...)
		os.Exit(code)
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

// CLI runs the svcdisco command tree in-process and returns its exit code
// (as cmd/svcdisco would) and error.
func CLI(ctx context.Context, stdout, stderr io.Writer, args ...string) (int, error) {
	f := cmdutil.New(&cmdutil.IOStreams{In: strings.NewReader(""), Out: stdout, ErrOut: stderr})
	cmd := root.NewCmdRoot(f)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "svcdisco: %v\n", err)
	}
	return exitcode.Of(err), err
}

func (s *suite) cli(t *testing.T, root string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, "--registry", s.b.URL, "--root", root, "--timeout", "5s")
	code, _ := CLI(ctxT(t), &out, &errOut, args...)
	return code, out.String(), errOut.String()
}

func (s *suite) testCLI(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	a := mustRegister(t, r, web("h1", 80))
	time.Sleep(2 * time.Millisecond)
	mustRegister(t, r, web("h2", 81))

	code, out, errOut := s.cli(t, root, "query", "web", "-o", "lines")
	if code != 0 || out != "h1:80\nh2:81\n" {
		t.Errorf("query -o lines: exit %d, %q (stderr %s)", code, out, errOut)
	}
	code, out, _ = s.cli(t, root, "query", "web", "-o", "json", "--latest")
	var ps []registry.Provider
	if err := json.Unmarshal([]byte(out), &ps); code != 0 || err != nil || len(ps) != 1 || ps[0].Host != "h2" || ps[0].Attributes["zone"] != "a" {
		t.Errorf("query -o json --latest: exit %d, %s (%v)", code, out, err)
	}
	code, out, _ = s.cli(t, root, "query", "web", "--since", a.Provider().Timestamp.Add(time.Millisecond).Format(time.RFC3339Nano), "-o", "lines")
	if code != 0 || out != "h2:81\n" {
		t.Errorf("query --since: exit %d, %q", code, out)
	}
	code, out, _ = s.cli(t, root, "services", "-o", "json")
	var svcs []registry.ServiceCount
	if err := json.Unmarshal([]byte(out), &svcs); code != 0 || err != nil || !hasCount(svcs, "web", 2) {
		t.Errorf("services -o json: exit %d, %s (%v)", code, out, err)
	}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"query", "web", "--at-least", "3"}, exitcode.NotEnough, "at least 3"},
		{[]string{"query", "bad/name"}, exitcode.Usage, "bad/name"},
		{[]string{"query", "web", "--where", "novalue"}, exitcode.Usage, "novalue"},
		{[]string{"register", "web", "--port", "0"}, exitcode.Usage, "port"},
	} {
		code, out, errOut := s.cli(t, root, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) || (code != 0 && out != "") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d naming %q and no output",
				tt.args, code, out, errOut, tt.code, tt.msg)
		}
	}
	var stdout, stderr bytes.Buffer
	code, _ = CLI(ctxT(t), &stdout, &stderr, "query", "web", "--registry", s.b.UnreachableURL, "--timeout", "1s")
	if code != exitcode.Unreachable || stdout.Len() != 0 {
		t.Errorf("unreachable registry: exit %d, stdout %q, stderr %q; want exit 4", code, stdout.String(), stderr.String())
	}
}

// child is `svcdisco register` running in its own process.
type child struct {
	cmd  *exec.Cmd
	exit chan error
}

// startRegister runs `svcdisco register SERVICE --port PORT --host HOST` in a
// child process and waits until it reports the registration.
func (s *suite) startRegister(t *testing.T, root string, ttl time.Duration, service, host string, port int) *child {
	t.Helper()
	args := []string{"register", service, "--port", strconv.Itoa(port), "--host", host, "--address", "127.0.0.1",
		"--registry", s.b.URL, "--root", root, "--session-timeout", ttl.String(), "--timeout", "10s"}
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(argv))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, exit: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-c.exit })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case line <- sc.Text():
			default:
			}
		}
		c.exit <- cmd.Wait()
	}()
	select {
	case l := <-line:
		if !strings.HasPrefix(l, "registered "+service) {
			t.Fatalf("svcdisco register printed %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("svcdisco register did not report a registration; stderr:\n%s", stderr.String())
	}
	return c
}

func (c *child) signal(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.exit:
		c.exit <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("svcdisco register still running 20s after %v", sig)
		return nil
	}
}

func (s *suite) testSIGTERM(t *testing.T) {
	root := s.root(t)
	other := s.open(t, root, nil)
	c := s.startRegister(t, root, 10*time.Second, "web", "h1", 80)
	if ps := list(t, other, "web"); len(ps) != 1 || ps[0].Host != "h1" {
		t.Fatalf("after register: %+v", ps)
	}
	if err := c.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("svcdisco register exited with %v after SIGTERM, want 0", err)
	}
	// Deregistered before exiting: gone now, not after the 10s TTL.
	if ps := list(t, other, "web"); len(ps) != 0 {
		t.Fatalf("%d providers right after SIGTERM exit", len(ps))
	}
}

// testCrash: kill -9 leaves the provider until the crash-detection time
// (session timeout / TTL) lapses, then it drops out of queries; a new
// registrant of the same provider then is the only one listed.
func (s *suite) testCrash(t *testing.T) {
	root := s.root(t)
	other := s.open(t, root, nil)
	c := s.startRegister(t, root, CrashTTL, "web", "h1", 80)
	if ps := list(t, other, "web"); len(ps) != 1 {
		t.Fatalf("after register: %+v", ps)
	}
	_ = c.signal(t, syscall.SIGKILL)
	testenv.WaitFor(t, "the crashed provider to drop out", 10*CrashTTL+10*time.Second, func() bool {
		return len(list(t, other, "web")) == 0
	})

	c2 := s.startRegister(t, root, CrashTTL, "web", "h1", 80)
	_ = c2.signal(t, syscall.SIGKILL)
	c3 := s.startRegister(t, root, CrashTTL, "web", "h1", 80)
	testenv.WaitFor(t, "exactly one provider after a crash and re-registration", 10*CrashTTL+10*time.Second, func() bool {
		return len(list(t, other, "web")) == 1
	})
	time.Sleep(CrashTTL + CrashTTL/2) // the survivor keeps passing past a TTL
	if ps := list(t, other, "web"); len(ps) != 1 {
		t.Fatalf("%d providers after re-registration settled, want 1", len(ps))
	}
	if err := c3.signal(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}
