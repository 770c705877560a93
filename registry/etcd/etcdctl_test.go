package etcd

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/registry"
)

// etcdctl runs `etcdctl ARGS…` against c until the test ends; its stdout
// is returned.
func etcdctl(t *testing.T, c *testetcd.Cluster, args ...string) (*exec.Cmd, *testenv.Buffer) {
	t.Helper()
	bin, err := testetcd.CtlBin()
	if err != nil {
		testetcd.Missing(t, err)
	}
	var out testenv.Buffer
	cmd := exec.Command(bin, append([]string{"--endpoints", strings.Join(c.Endpoints(), ",")}, args...)...)
	cmd.Env = append(testenv.CleanEnv(), "ETCDCTL_API=3")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return cmd, &out
}

// count is how many keys are under prefix.
func count(t *testing.T, r *Registry, prefix string) int64 {
	t.Helper()
	resp, err := r.Client().Get(ctxT(t), prefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

// `etcdctl lock` and svcdisco's lock on the same name exclude each other,
// in both orders.
func TestLockExcludesEtcdctl(t *testing.T) {
	c := testetcd.Shared(t)
	r := open(t, c.Endpoints(), 5*time.Second, nil)
	prefix := r.LockPrefix("job")
	ctl, out := etcdctl(t, c, "lock", prefix)
	testenv.WaitFor(t, "etcdctl to hold the lock", 20*time.Second, func() bool { return strings.Contains(out.String(), prefix+"/") })

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := r.Lock(ctx, "job")
	cancel()
	var held *coord.HeldError
	if !errors.As(err, &held) || !strings.Contains(held.Holder, prefix+"/") {
		t.Fatalf("Lock while etcdctl holds it: %v, want a HeldError naming etcdctl's key", err)
	}
	_ = ctl.Process.Signal(syscall.SIGINT) // etcdctl unlocks on SIGINT
	h, err := r.Lock(ctxT(t), "job")
	if err != nil {
		t.Fatalf("Lock after etcdctl let go: %v", err)
	}

	_, out2 := etcdctl(t, c, "lock", prefix)
	testenv.WaitFor(t, "etcdctl to wait behind svcdisco", 20*time.Second, func() bool { return count(t, r, prefix) == 2 })
	if s := out2.String(); strings.Contains(s, prefix+"/") {
		t.Fatalf("etcdctl took the lock svcdisco holds: %s", s)
	}
	if err := h.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "etcdctl to take the released lock", 20*time.Second, func() bool { return strings.Contains(out2.String(), prefix+"/") })
}

// `etcdctl elect` and svcdisco's candidacies take part in one election; the
// detector names an etcdctl leader by its proposal.
func TestElectWithEtcdctl(t *testing.T) {
	c := testetcd.Shared(t)
	r := open(t, c.Endpoints(), 5*time.Second, nil)
	cand, err := r.Campaign(ctxT(t), "sched", registry.Provider{Host: "h1", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	var term *coord.Term
	select {
	case term = <-cand.Terms():
	case <-ctxT(t).Done():
		t.Fatal("no term")
	}
	prefix := r.ElectionPrefix("sched")
	_, out := etcdctl(t, c, "elect", prefix, "ctl-proposal")
	testenv.WaitFor(t, "etcdctl to campaign", 20*time.Second, func() bool { return count(t, r, prefix) == 2 })
	lc, err := r.Leader(ctxT(t), "sched")
	if err != nil || !lc.OK || lc.Leader.Host != "h1" || lc.Token != term.Token() {
		t.Fatalf("Leader while svcdisco leads: %+v, %v (token %d)", lc, err, term.Token())
	}
	if strings.Contains(out.String(), "ctl-proposal") {
		t.Fatalf("etcdctl elected while svcdisco leads: %s", out.String())
	}
	if err := cand.Resign(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "etcdctl elected", 20*time.Second, func() bool { return strings.Contains(out.String(), "ctl-proposal") })
	lc, err = r.Leader(ctxT(t), "sched")
	if err != nil || !lc.OK || lc.Leader.ID != "ctl-proposal" || lc.Token <= term.Token() {
		t.Fatalf("Leader after resigning: %+v, %v", lc, err)
	}
}
