// Package testconsul starts REAL Consul agents for tests: `consul agent -dev`
// (a single-node server with in-memory state) on free 127.0.0.1 ports with a
// temporary data directory, stopped by PID. The binary is built from the
// pinned module in tools/ by `make consul` into bin/consul; it is found
// there, at $SVCDISCO_CONSUL_BIN, or on PATH.
//
// When the binary is missing, tests skip — except with
// SVCDISCO_REQUIRE_INTEGRATION=1 (set by CI), where they fail.
package testconsul

import (
	"errors"
	"fmt"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ManagementToken is the ACL token with every right, on agents started
// with ACLs.
const ManagementToken = "svcdisco-test-management-token"

// Bin locates the consul binary.
func Bin() (string, error) {
	if p := os.Getenv("SVCDISCO_CONSUL_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SVCDISCO_CONSUL_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if root, err := moduleRoot(); err == nil {
		p := filepath.Join(root, "bin", "consul")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p, nil
	}
	return "", errors.New("consul binary not found (run `make consul`, or set SVCDISCO_CONSUL_BIN)")
}

// moduleRoot is the directory of the main module's go.mod above the
// working directory (tests run in their package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/svcdisco/svcdisco\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("main module not found")
		}
		dir = parent
	}
}

// RequireIntegration reports whether a missing server must fail the tests.
func RequireIntegration() bool { return testenv.RequireIntegration() }

// Missing ends the test when Consul cannot be started: a failure when
// integration is required, a skip otherwise.
func Missing(t testing.TB, err error) {
	t.Helper()
	testenv.Missing(t, "Consul", err)
}

// Options tune an agent.
type Options struct {
	// ACL turns on ACLs with default deny; ManagementToken is then the
	// management token.
	ACL bool
	// TLS, when set, also serves HTTPS on HTTPSPort with these PEM files,
	// requiring client certificates signed by CA.
	TLS *TLS
}

// TLS are PEM files for an agent's HTTPS port.
type TLS struct{ CA, Cert, Key string }

// Agent is one `consul agent -dev` process.
type Agent struct {
	HTTPPort  int
	HTTPSPort int // with Options.TLS
	dir       string
	bin       string
	args      []string
	opts      Options
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd has exited
	mu        sync.Mutex
}

// Addr is the agent's HTTP address, host:port.
func (a *Agent) Addr() string { return fmt.Sprintf("127.0.0.1:%d", a.HTTPPort) }

// URL is the registry URL of the agent.
func (a *Agent) URL() string { return "consul://" + a.Addr() }

// Start starts an agent for t and stops it when t ends.
func Start(t testing.TB, o Options) *Agent {
	t.Helper()
	bin, err := Bin()
	if err != nil {
		Missing(t, err)
	}
	a, err := New(bin, o)
	if err != nil {
		t.Fatalf("start consul: %v", err)
	}
	t.Cleanup(a.Stop)
	return a
}

// New starts an agent and waits until it has a leader and has synced its
// node into the catalog (before that, registrations are not yet visible to
// health queries). An agent that exits because one of its six ports was
// taken meanwhile is started again on new ports (three tries).
func New(bin string, o Options) (*Agent, error) {
	for try := 1; ; try++ {
		a, err := newAgent(bin, o)
		if err == nil || !errors.Is(err, errPortTaken) || try == 3 {
			return a, err
		}
	}
}

// errPortTaken: the agent exited because a port it was given was taken.
var errPortTaken = errors.New("a port was taken")

func newAgent(bin string, o Options) (*Agent, error) {
	dir, err := os.MkdirTemp("", "svcdisco-consul-")
	if err != nil {
		return nil, err
	}
	ports, err := testenv.FreePorts(6)
	if err != nil {
		return nil, err
	}
	a := &Agent{HTTPPort: ports[0], dir: dir}
	args := []string{"agent", "-dev", "-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-data-dir", filepath.Join(dir, "data"), "-node", fmt.Sprintf("test-%d", ports[0]),
		"-http-port", fmt.Sprint(ports[0]), "-dns-port", fmt.Sprint(ports[1]),
		"-grpc-port", fmt.Sprint(ports[2]), "-serf-lan-port", fmt.Sprint(ports[3]),
		"-serf-wan-port", fmt.Sprint(ports[4]), "-server-port", fmt.Sprint(ports[5]),
		"-hcl", "ports { grpc_tls = -1 }", "-log-level", "warn",
	}
	if o.TLS != nil {
		if a.HTTPSPort, err = freePort(); err != nil {
			return nil, err
		}
		args = append(args, "-hcl", fmt.Sprintf(
			`ports { https = %d } tls { defaults { ca_file = %q cert_file = %q key_file = %q verify_incoming = true } }`,
			a.HTTPSPort, o.TLS.CA, o.TLS.Cert, o.TLS.Key))
	}
	if o.ACL {
		args = append(args, "-hcl", fmt.Sprintf(
			`acl { enabled = true default_policy = "deny" tokens { initial_management = %q agent = %q } }`,
			ManagementToken, ManagementToken))
	}
	a.bin, a.args, a.opts = bin, args, o
	if err := a.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := a.waitReady(60*time.Second, o, a.exited); err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

// start runs the agent process; its output is appended to consul.log.
func (a *Agent) start() error {
	logf, err := os.OpenFile(filepath.Join(a.dir, "consul.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(a.bin, a.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", a.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	a.cmd, a.exited = cmd, exited
	return nil
}

// Kill stops the agent process (SIGKILL, by PID) and waits until it has
// exited, keeping its directory and ports for Start. A dev agent loses
// every registration and its Raft index starts over.
func (a *Agent) Kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil && a.cmd.Process != nil {
		_ = a.cmd.Process.Kill()
		<-a.exited
		a.cmd = nil
	}
}

// Start runs a killed agent again on the same ports and waits until it is
// ready.
func (a *Agent) Start() error {
	a.mu.Lock()
	if a.cmd != nil {
		a.mu.Unlock()
		return errors.New("consul agent is already running")
	}
	err := a.start()
	exited := a.exited
	a.mu.Unlock()
	if err != nil {
		return err
	}
	return a.waitReady(60*time.Second, a.opts, exited)
}

// Restart kills the agent and starts it again: an agent restart as a
// crash or an upgrade causes it. A dev agent keeps the services registered
// through it (its data directory) but its catalog and Raft index start
// over.
func (a *Agent) Restart() error {
	a.Kill()
	return a.Start()
}

// RestartWithoutState kills the agent, deletes its data directory and
// starts it again: an agent that lost everything, whose registrants must
// register their providers anew.
func (a *Agent) RestartWithoutState() error {
	a.Kill()
	a.mu.Lock()
	err := os.RemoveAll(filepath.Join(a.dir, "data"))
	a.mu.Unlock()
	if err != nil {
		return err
	}
	return a.Start()
}

// waitReady polls the agent until it is ready, or until its process has
// exited (exited closed): that is an error at once, errPortTaken when its
// log says a port was taken.
func (a *Agent) waitReady(timeout time.Duration, o Options, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	token := ""
	if o.ACL {
		token = ManagementToken
	}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(a.dir, "consul.log"))
			err := fmt.Errorf("consul on %s exited before it was ready; log:\n%s", a.Addr(), tail(string(log), 2000))
			if strings.Contains(string(log), "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return err
		default:
		}
		leader, _ := a.get("/v1/status/leader", token)
		nodes, _ := a.get("/v1/catalog/nodes", token)
		if len(leader) > 4 && strings.Contains(nodes, `"Node"`) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(a.dir, "consul.log"))
	return fmt.Errorf("consul on %s not ready after %s; log:\n%s", a.Addr(), timeout, tail(string(log), 2000))
}

func (a *Agent) get(path, token string) (string, error) {
	req, err := http.NewRequest("GET", "http://"+a.Addr()+path, nil)
	if err != nil {
		return "", err
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// Stop kills the agent (by PID) and removes its data.
func (a *Agent) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil && a.cmd.Process != nil {
		_ = a.cmd.Process.Kill()
		<-a.exited
		a.cmd = nil
	}
	if a.dir != "" {
		os.RemoveAll(a.dir)
		a.dir = ""
	}
}

var (
	sharedOnce sync.Once
	shared     *Agent
	sharedErr  error
)

// Shared returns an agent shared by every test of the package (started on
// first use). Tests keep out of each other's way with their own --root.
// Call Main from TestMain so it is stopped.
func Shared(t testing.TB) *Agent {
	t.Helper()
	sharedOnce.Do(func() {
		bin, err := Bin()
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = New(bin, Options{})
	})
	if sharedErr != nil {
		Missing(t, sharedErr)
	}
	return shared
}

// StopShared stops the shared agent, if one was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Main runs a package's tests and stops the shared agent afterwards.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freePort() (int, error) {
	ports, err := testenv.FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}
