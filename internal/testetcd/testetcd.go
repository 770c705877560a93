// Package testetcd starts REAL etcd servers for tests: single nodes and
// small clusters on free 127.0.0.1 ports with temporary data directories,
// stopped by PID. The binary is Debian's etcd-server (/usr/bin/etcd), found
// at $SVCDISCO_ETCD_BIN or on PATH.
//
// When the binary is missing, tests skip — except with
// SVCDISCO_REQUIRE_INTEGRATION=1 (set by CI), where they fail.
package testetcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/svcdisco/svcdisco/internal/testenv"
)

// Bin locates the etcd binary.
func Bin() (string, error) {
	if p := os.Getenv("SVCDISCO_ETCD_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SVCDISCO_ETCD_BIN=%s: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	return "", errors.New("etcd binary not found (apt-get install etcd-server, or set SVCDISCO_ETCD_BIN)")
}

// CtlBin locates etcdctl (Debian's etcd-client), next to etcd or on PATH.
func CtlBin() (string, error) {
	if bin, err := Bin(); err == nil {
		p := filepath.Join(filepath.Dir(bin), "etcdctl")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("etcdctl"); err == nil {
		return p, nil
	}
	return "", errors.New("etcdctl binary not found (apt-get install etcd-client)")
}

// Missing ends the test when etcd cannot be started: a failure when
// integration is required, a skip otherwise.
func Missing(t testing.TB, err error) {
	t.Helper()
	testenv.Missing(t, "etcd", err)
}

// Member is one etcd process of a Cluster.
type Member struct {
	Name       string
	ClientPort int
	PeerPort   int
	dir        string
	args       []string
	cmd        *exec.Cmd
	done       chan struct{}
}

// Addr is the member's client address, host:port.
func (m *Member) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.ClientPort) }

// Cluster is one etcd cluster (a single node or several).
type Cluster struct {
	Members []*Member
	bin     string
	dir     string
	tls     *TLS
	mu      sync.Mutex
}

// TLS makes the members serve clients over https only, requiring client
// certificates signed by CA.
type TLS struct {
	CertFile, KeyFile, CAFile string // the server's certificate and key, the client CA
	Client                    *tls.Config
}

// Endpoints are the client addresses of every member.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Addr()
	}
	return out
}

// URL is the registry URL of the cluster.
func (c *Cluster) URL() string { return "etcd://" + strings.Join(c.Endpoints(), ",") }

// Start starts an n-node cluster for t and stops it when t ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin, err := Bin()
	if err != nil {
		Missing(t, err)
	}
	c, err := New(bin, n)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// StartTLS starts a single node serving clients over TLS.
func StartTLS(t testing.TB, o *TLS) *Cluster {
	t.Helper()
	bin, err := Bin()
	if err != nil {
		Missing(t, err)
	}
	c, err := newCluster(bin, 1, o)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}

// New starts an n-node cluster and waits until it answers a linearizable
// read (so it has a leader).
func New(bin string, n int) (*Cluster, error) { return newCluster(bin, n, nil) }

func newCluster(bin string, n int, o *TLS) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "svcdisco-etcd-")
	if err != nil {
		return nil, err
	}
	ports, err := testenv.FreePorts(2 * n)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, tls: o}
	var initial []string
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i), ClientPort: ports[2*i], PeerPort: ports[2*i+1],
			dir: filepath.Join(dir, fmt.Sprintf("m%d", i))}
		c.Members = append(c.Members, m)
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", m.Name, m.PeerPort))
	}
	for _, m := range c.Members {
		client := fmt.Sprintf("%s://127.0.0.1:%d", c.scheme(), m.ClientPort)
		peer := fmt.Sprintf("http://127.0.0.1:%d", m.PeerPort)
		m.args = []string{"--name", m.Name, "--data-dir", filepath.Join(m.dir, "data"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", filepath.Base(dir), "--log-level", "warn",
			// Short elections: fault tests wait for them.
			"--heartbeat-interval", "50", "--election-timeout", "500"}
		if o != nil {
			m.args = append(m.args, "--cert-file", o.CertFile, "--key-file", o.KeyFile,
				"--trusted-ca-file", o.CAFile, "--client-cert-auth")
		}
		if err := os.MkdirAll(m.dir, 0o700); err != nil {
			c.Stop()
			return nil, err
		}
		if err := c.start(m); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.WaitReady(60 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(m *Member) error {
	logf, err := os.OpenFile(filepath.Join(m.dir, "etcd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(c.bin, m.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", c.bin, err)
	}
	m.cmd, m.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(m.done)
	return nil
}

// WaitReady waits until the members that run answer a linearizable read.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	cli, err := c.client()

	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = cli.Get(ctx, "svcdisco-ready")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd %s not ready after %s: %v; log:\n%s", c.URL(), timeout, err, c.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *Cluster) scheme() string {
	if c.tls != nil {
		return "https"
	}
	return "http"
}

// client connects to every member (over TLS when the cluster serves it).
func (c *Cluster) client() (*clientv3.Client, error) {
	eps := make([]string, 0, len(c.Members))
	for _, ep := range c.Endpoints() {
		eps = append(eps, c.scheme()+"://"+ep)
	}
	cfg := clientv3.Config{Endpoints: eps, DialTimeout: time.Second, Logger: nopLogger()}
	if c.tls != nil {
		cfg.TLS = c.tls.Client
	}
	return clientv3.New(cfg)
}

func (c *Cluster) log() string {
	var b strings.Builder
	for _, m := range c.Members {
		data, _ := os.ReadFile(filepath.Join(m.dir, "etcd.log"))
		s := string(data)
		if len(s) > 1500 {
			s = s[len(s)-1500:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", m.Name, s)
	}
	return b.String()
}

// Kill kills member i (SIGKILL) and waits until it has exited.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.Members[i]
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

// Restart starts a killed member i again with its data.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.Members[i]
	if m.cmd != nil {
		return nil
	}
	return c.start(m)
}

// Stop kills every member (by PID) and removes the data.
func (c *Cluster) Stop() {
	for i := range c.Members {
		c.Kill(i)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		os.RemoveAll(c.dir)
		c.dir = ""
	}
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// Shared returns a single-node server shared by every test of the package
// (started on first use). Tests keep out of each other's way with their own
// --root. Call StopShared from TestMain.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() {
		bin, err := Bin()
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = New(bin, 1)
	})
	if sharedErr != nil {
		Missing(t, sharedErr)
	}
	return shared
}

// StopShared stops the shared server, if one was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

func nopLogger() *zap.Logger { return zap.NewNop() }

// Leader returns the index of the member that leads, -1 when none answers
// as leader.
func (c *Cluster) Leader() int {
	cli, err := c.client()
	if err != nil {
		return -1
	}
	defer cli.Close()
	for i, ep := range c.Endpoints() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := cli.Status(ctx, c.scheme()+"://"+ep)
		cancel()
		if err == nil && st.Leader == st.Header.MemberId {
			return i
		}
	}
	return -1
}
