package render_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

// bin is the svcdisco binary built once for the package's tests.
var bin string

func TestMain(m *testing.M) {
	testenv.MainWithBinary(m, &bin, false, func() { testzk.StopShared(); testconsul.StopShared(); testetcd.StopShared() })
}

// env is one test's registry: a registry URL and a root of its own.
type env struct {
	t    *testing.T
	url  string
	root string
	dir  string // scratch directory for templates and outputs
}

func newEnv(t *testing.T, c *testzk.Cluster) *env {
	return &env{t: t, url: "zk://" + c.Servers[0].Addr(), root: testzk.Root(t), dir: t.TempDir()}
}

// newConsulEnv is an env on a Consul agent.
func newConsulEnv(t *testing.T, a *testconsul.Agent) *env {
	return &env{t: t, url: a.URL(), root: testzk.Root(t), dir: t.TempDir()}
}

func (e *env) globalArgs() []string {
	return []string{"--registry", e.url, "--root", e.root, "--session-timeout", "2s"}
}

// registry opens a client of the test's registry for registering providers.
func (e *env) registry() registry.Registry {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg, err := dial.Open(ctx, dial.Options{URL: e.url, Root: e.root, SessionTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		e.t.Fatalf("open registry: %v", err)
	}
	e.t.Cleanup(func() { reg.Close() })
	return reg
}

func (e *env) register(reg registry.Registry, svc, host string, port int, attrs map[string]string) registry.Registration {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := reg.Register(ctx, registry.Provider{Service: svc, Host: host, Port: port, Weight: 1, Attributes: attrs})
	if err != nil {
		e.t.Fatalf("register %s %s:%d: %v", svc, host, port, err)
	}
	return r
}

// file writes name in the scratch directory and returns its path.
func (e *env) file(name, body string, mode os.FileMode) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) read(p string) string {
	e.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	return string(b)
}

// run runs svcdisco to completion: stdout, stderr, exit code.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(bin, append(e.globalArgs(), args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("run svcdisco: %v", err)
	}
	return out.String(), errOut.String(), code
}

// daemon is a running `svcdisco render --watch`.
type daemon struct {
	cmd    *exec.Cmd
	stderr *testenv.Buffer
	done   chan error
}

func (e *env) start(args ...string) *daemon {
	e.t.Helper()
	d := &daemon{stderr: &testenv.Buffer{}, done: make(chan error, 1)}
	d.cmd = exec.Command(bin, append(e.globalArgs(), args...)...)
	d.cmd.Stdout, d.cmd.Stderr = io.Discard, d.stderr
	if err := d.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	e.t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.done
		if e.t.Failed() {
			e.t.Logf("svcdisco stderr:\n%s", d.stderr.String())
		}
	})
	return d
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		t.Fatal("svcdisco did not exit within 15s of SIGTERM")
	}
	d.done <- nil // for the cleanup
	return d.cmd.ProcessState.ExitCode()
}

// passes counts the passes over templates the daemon logged.
func (d *daemon) passes() int { return strings.Count(d.stderr.String(), " template=") }

// waitFor polls cond until it holds or 20s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 20*time.Second, cond)
}
