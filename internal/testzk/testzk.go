// Package testzk starts REAL ZooKeeper servers for tests: Debian's
// `zookeeper` package, standalone or as an ensemble on 127.0.0.1, each on
// free ports with a temporary data directory and a small tickTime so that
// session-expiry tests take about a second. Servers are stopped by PID.
//
// When ZooKeeper is not installed, tests skip — except with
// SVCDISCO_REQUIRE_INTEGRATION=1 (set by CI), where they fail.
package testzk

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Jar and ConfDir locate Debian's ZooKeeper.
const (
	Jar     = "/usr/share/java/zookeeper.jar"
	ConfDir = "/etc/zookeeper/conf"
)

// TickTime is the servers' tick: sessions may be as short as 2 ticks.
const TickTime = 100 * time.Millisecond

// RequireIntegration reports whether a missing server must fail the tests.
func RequireIntegration() bool { return testenv.RequireIntegration() }

// Available returns nil when ZooKeeper and java are installed.
func Available() error {
	if _, err := os.Stat(Jar); err != nil {
		return fmt.Errorf("zookeeper not installed (%s missing; apt-get install zookeeper)", Jar)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return errors.New("java not found")
	}
	return nil
}

// Missing ends the test when ZooKeeper cannot be started: a failure when
// integration is required, a skip otherwise.
func Missing(t testing.TB, err error) {
	t.Helper()
	testenv.Missing(t, "ZooKeeper", err)
}

// Server is one ZooKeeper process.
type Server struct {
	ID         int
	ClientPort int
	Host       string // the loopback address it listens on, 127.0.0.1 unless StartSamePort
	// extraCfg is appended to zoo.cfg and extraCP to the classpath (TLS).
	extraCfg string
	extraCP  string
	dir      string
	cfg      string
	cmd      *exec.Cmd
	mu       sync.Mutex
}

// Addr is the server's client address.
func (s *Server) Addr() string { return fmt.Sprintf("%s:%d", s.host(), s.ClientPort) }

func (s *Server) host() string {
	if s.Host == "" {
		return "127.0.0.1"
	}
	return s.Host
}

// Cluster is a standalone server or an ensemble.
type Cluster struct {
	Servers []*Server
	dir     string
}

// Start starts a cluster of n servers for t and stops it when t ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		Missing(t, err)
	}
	c, err := New(n)
	if err != nil {
		t.Fatalf("start zookeeper: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// StartSamePort starts an ensemble of n servers that all listen on ONE
// client port, server i on 127.0.0.i: the shape of a production ensemble
// (one port, several hosts), which is the only shape Exhibitor's
// /cluster/list answer ({"servers":[…],"port":P}) can describe.
func StartSamePort(t testing.TB, n int) *Cluster {
	t.Helper()
	if err := Available(); err != nil {
		Missing(t, err)
	}
	c, err := newCluster(n, true)
	if err != nil {
		t.Fatalf("start zookeeper: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// New starts n servers (1 = standalone) and waits until they serve.
func New(n int) (*Cluster, error) { return newCluster(n, false) }

func newCluster(n int, samePort bool, tune ...func(*Server)) (*Cluster, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "svcdisco-zk-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	ports, err := testenv.FreePorts(3 * n)
	if err != nil {
		return nil, err
	}
	servers := make([]*Server, n)
	for i := range servers {
		servers[i] = &Server{ID: i + 1, ClientPort: ports[3*i], dir: filepath.Join(dir, fmt.Sprint(i+1))}
		if samePort {
			servers[i].Host, servers[i].ClientPort = fmt.Sprintf("127.0.0.%d", i+1), ports[0]
		}
	}
	var quorum strings.Builder
	if n > 1 {
		for i, s := range servers {
			fmt.Fprintf(&quorum, "server.%d=%s:%d:%d\n", s.ID, s.host(), ports[3*i+1], ports[3*i+2])
		}
	}
	for _, s := range servers {
		for _, f := range tune {
			f(s)
		}
		if err := s.configure(quorum.String()); err != nil {
			c.Stop()
			return nil, err
		}
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if err := s.Start(); err != nil {
			c.Stop()
			return nil, err
		}
	}
	for _, s := range c.Servers {
		if err := s.waitServing(60 * time.Second); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

func (s *Server) configure(quorum string) error {
	data := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	if quorum != "" {
		if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintln(s.ID)), 0o644); err != nil {
			return err
		}
	}
	s.cfg = filepath.Join(s.dir, "zoo.cfg")
	cfg := fmt.Sprintf(`tickTime=%d
initLimit=20
syncLimit=10
dataDir=%s
clientPort=%d
clientPortAddress=%s
minSessionTimeout=%d
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=*
globalOutstandingLimit=100000
%s%s`, TickTime.Milliseconds(), data, s.ClientPort, s.host(), 2*TickTime.Milliseconds(), quorum, s.extraCfg)
	return os.WriteFile(s.cfg, []byte(cfg), 0o644)
}

// Start (re)starts a stopped server.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logf, err := os.OpenFile(filepath.Join(s.dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.net.preferIPv4Stack=true", "-Dzookeeper.jmx.log4j.disable=true",
		"-cp", ConfDir+":"+Jar+s.extraCP, "org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start zookeeper %d: %w", s.ID, err)
	}
	s.cmd = cmd
	go cmd.Wait() //nolint:errcheck // reaped; state is read through the 4lw port
	return nil
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() { s.signal(syscall.SIGKILL, true) }

// Pause freezes the server (SIGSTOP): its clients see it vanish without a
// connection reset, as in a network partition. SIGSTOP is asynchronous: a
// multi-threaded JVM keeps serving until every thread has stopped, so Pause
// returns only once /proc shows every thread stopped ('T'). To hold one
// client's requests at an exact point, prefer Proxy.Freeze.
func (s *Server) Pause() {
	s.signal(syscall.SIGSTOP, false)
	s.mu.Lock()
	pid := 0
	if s.cmd != nil && s.cmd.Process != nil {
		pid = s.cmd.Process.Pid
	}
	s.mu.Unlock()
	if pid == 0 {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for !allThreadsStopped(pid) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// allThreadsStopped reports whether every thread of pid is in state T (or
// the process is gone).
func allThreadsStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return true
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // thread exited
		}
		// pid (comm) STATE ...: comm may hold spaces, so look after the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) {
			return false
		}
		if st := b[i+2]; st != 'T' && st != 't' && st != 'Z' && st != 'X' {
			return false
		}
	}
	return true
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT, false) }

func (s *Server) signal(sig syscall.Signal, forget bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(s.cmd.Process.Pid, sig)
	if forget {
		// Wait until the port is free so a restart can bind it.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := FourLetter(s.Addr(), "ruok", 100*time.Millisecond); err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.cmd = nil
	}
}

// Restart kills and starts the server again, keeping its data.
func (s *Server) Restart() error {
	s.Kill()
	if err := s.Start(); err != nil {
		return err
	}
	return s.waitServing(60 * time.Second)
}

// Wipe kills the server, deletes its data (snapshots and transaction logs;
// an ensemble member keeps its myid) and starts it again on the same ports,
// as a server rebuilt at the same address after losing its disk.
func (s *Server) Wipe() error {
	s.Kill()
	if err := os.RemoveAll(filepath.Join(s.dir, "data", "version-2")); err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	return s.waitServing(60 * time.Second)
}

// Mode returns "standalone", "leader" or "follower" (from the srvr command).
func (s *Server) Mode() string {
	out, err := FourLetter(s.Addr(), "srvr", time.Second)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

func (s *Server) waitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		switch s.Mode() {
		case "standalone", "leader", "follower":
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "zookeeper.log"))
	return fmt.Errorf("zookeeper %d on %s not serving after %s; log:\n%s", s.ID, s.Addr(), timeout, tail(string(log), 2000))
}

// WaitServing waits until every running server serves clients.
func (c *Cluster) WaitServing(timeout time.Duration) error {
	for _, s := range c.Servers {
		s.mu.Lock()
		running := s.cmd != nil
		s.mu.Unlock()
		if running {
			if err := s.waitServing(timeout); err != nil {
				return err
			}
		}
	}
	return nil
}

// Leader returns the index of the ensemble's leader, or -1.
func (c *Cluster) Leader() int {
	for i, s := range c.Servers {
		if s.Mode() == "leader" {
			return i
		}
	}
	return -1
}

// ConnString is h1:p1,h2:p2,… for every server.
func (c *Cluster) ConnString() string {
	addrs := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		addrs[i] = s.Addr()
	}
	return strings.Join(addrs, ",")
}

// URL is the registry URL of the cluster, with an optional chroot.
func (c *Cluster) URL(chroot string) string { return "zk://" + c.ConnString() + chroot }

// Stop kills every server and removes the data.
func (c *Cluster) Stop() {
	for _, s := range c.Servers {
		s.Resume()
		s.Kill()
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// FourLetter sends a four-letter-word command and returns the reply.
func FourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%s: empty reply to %s", addr, cmd)
	}
	return b.String(), nil
}

// FreePort returns a port nothing listens on (for "unreachable" tests).
func FreePort() int {
	p, err := testenv.FreePorts(1)
	if err != nil {
		return 1
	}
	return p[0]
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
