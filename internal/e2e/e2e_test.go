// Package e2e drives the built svcdisco binary against a real ZooKeeper,
// with real child processes and real listeners: what a fleet sees.
package e2e

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

// bin is the svcdisco binary built once for every test.
var bin string

func TestMain(m *testing.M) { testenv.MainWithBinary(m, &bin, false, testzk.StopShared) }

// env is one test's registry: the server address and a root of its own.
type env struct {
	t    *testing.T
	addr string
	root string
	reg  *zkreg.Registry // the test's own view
}

func newEnv(t *testing.T) *env {
	zkc := testzk.Shared(t)
	e := &env{t: t, addr: zkc.Servers[0].Addr(), root: testzk.Root(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zkreg.Open(ctx, zkreg.Options{Servers: []string{e.addr}, Root: e.root, SessionTimeout: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	e.reg = r
	return e
}

// cmd returns svcdisco with the test's registry (through addr) and root.
func (e *env) cmd(addr string, args ...string) *exec.Cmd {
	all := append([]string{"--registry", "zk://" + addr, "--root", e.root, "--log-level", "debug"}, args...)
	return exec.Command(bin, all...)
}

// start runs svcdisco in the background; it is killed when the test ends.
func (e *env) start(c *exec.Cmd) (stdout, stderr *testenv.Buffer) {
	e.t.Helper()
	stdout, stderr = &testenv.Buffer{}, &testenv.Buffer{}
	c.Stdout, c.Stderr = stdout, stderr
	if err := c.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		_ = c.Process.Kill()
		_ = c.Wait()
		if e.t.Failed() {
			e.t.Logf("%s stderr:\n%s", c.Args[len(c.Args)-1], stderr)
		}
	})
	return stdout, stderr
}

// list returns service's providers (with those in maintenance when asked).
func (e *env) list(service string, includeMaint bool) []registry.Provider {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := e.reg.Providers(ctx, service, registry.ListOptions{IncludeMaintenance: includeMaint})
	if err != nil {
		e.t.Fatal(err)
	}
	return ps
}

// czxid is the creating zxid of a provider's znode: unchanged means untouched.
func (e *env) czxid(p registry.Provider) int64 {
	e.t.Helper()
	_, st, err := e.reg.Conn().Exists(e.root + "/services/" + p.Service + "/" + p.Name)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Czxid
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 30*time.Second, cond)
}

// wait waits for c to exit and returns its exit code.
func wait(t *testing.T, c *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
		return c.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("%v did not exit", c.Args)
		return -1
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, "the pid file", func() bool {
		b, err := os.ReadFile(path)
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}
