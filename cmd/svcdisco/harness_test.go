package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// binary is the svcdisco built once for these tests.
var binary string

func TestMain(m *testing.M) { testenv.MainWithBinary(m, &binary, true, testzk.StopShared) }

// env is a registry URL and root for one test.
type env struct {
	registry string
	root     string
}

func newEnv(t *testing.T) env {
	zkc := testzk.Shared(t)
	return env{registry: zkc.URL(""), root: testzk.Root(t)}
}

func (e env) args(args ...string) []string {
	return append([]string{"--registry", e.registry, "--root", e.root}, args...)
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs svcdisco to completion.
func run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = testenv.CleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("svcdisco %v: %v", args, err)
	}
	return res
}

// proc is a long-running svcdisco (register).
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout strings.Builder
	stderr strings.Builder
	lines  chan string
	done   chan struct{}
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is start with env added to the environment.
func startEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), lines: make(chan string, 100), done: make(chan struct{})}
	p.cmd.Env = append(testenv.CleanEnv(), env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGCONT)
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// waitLine waits for a stdout line containing s.
func (p *proc) waitLine(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return l
			}
		case <-p.done:
			t.Fatalf("exited before printing %q: stderr:\n%s", s, p.Stderr())
		case <-deadline:
			t.Fatalf("no line containing %q; stderr:\n%s", s, p.Stderr())
		}
	}
}

func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

// wait waits for exit and returns the exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("did not exit; stderr:\n%s", p.Stderr())
	}
	return p.cmd.ProcessState.ExitCode()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// providers queries as JSON through the binary.
func (e env) providers(t *testing.T, service string, args ...string) []registry.Provider {
	t.Helper()
	res := run(t, e.args(append([]string{"query", service, "-o", "json"}, args...)...)...)
	if res.code != 0 {
		t.Fatalf("query %s: exit %d: %s", service, res.code, res.stderr)
	}
	var ps []registry.Provider
	if err := json.Unmarshal([]byte(res.stdout), &ps); err != nil {
		t.Fatalf("query JSON: %v\n%s", err, res.stdout)
	}
	return ps
}
