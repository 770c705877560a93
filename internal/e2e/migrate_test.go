package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

// fleet is the migration test's moving parts: agents holding providers,
// elect contenders, render --watch readers, all configured through files.
type fleet struct {
	e        *env
	dir      string
	urlA     string
	urlB     string
	agents   []*exec.Cmd
	cands    []*exec.Cmd
	candErr  []*testenv.Buffer
	renderAt map[string]*exec.Cmd
}

const (
	migProviders  = 20 // held by two agents
	migContenders = 3
)

func (f *fleet) config(name, registry, mirror string) string {
	p := filepath.Join(f.dir, name+".yaml")
	body := fmt.Sprintf("registry: %s\nroot: %s\nsession_timeout: 4s\nlog_level: debug\n", registry, f.e.root)
	if mirror != "" {
		body += "mirror: " + mirror + "\n"
	}
	writeFile(f.e.t, p+".tmp", body)
	if err := os.Rename(p+".tmp", p); err != nil { // as config management writes it
		f.e.t.Fatal(err)
	}
	return p
}

func (f *fleet) startAgents() {
	for i := 0; i < 2; i++ {
		dir := filepath.Join(f.dir, fmt.Sprintf("services%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			f.e.t.Fatal(err)
		}
		for j := 0; j < migProviders/2; j++ {
			writeFile(f.e.t, filepath.Join(dir, fmt.Sprintf("web%d.yaml", j)),
				fmt.Sprintf("service: web\nport: %d\nhost: n%d\n", 8000+j, i))
		}
		c := exec.Command(bin, "--config", f.config(fmt.Sprintf("agent%d", i), f.urlA, ""), "agent", "--config-dir", dir)
		c.Env = testenv.CleanEnv()
		f.e.start(c)
		f.agents = append(f.agents, c)
	}
}

// startContender starts contender i with config cfg.
func (f *fleet) startContender(i int, cfg string) {
	c := exec.Command(bin, "--config", cfg, "elect", "sched", "--id", fmt.Sprintf("c%d", i),
		"--host", fmt.Sprintf("h%d", i), "--address", "127.0.0.1", "--port", fmt.Sprint(7000+i))
	c.Env = testenv.CleanEnv()
	stdout, stderr := f.e.start(c)
	f.cands[i], f.candErr[i] = c, stderr
	// Its first line says it has joined (or is waiting to): its signal
	// handling is in place, so a SIGTERM from now on is a clean stop.
	waitFor(f.e.t, fmt.Sprintf("c%d to start", i), func() bool { return strings.Contains(stdout.String(), `"leader":false`) })
}

// stopContender stops contender i (SIGTERM: it resigns) and waits for it.
func (f *fleet) stopContender(i int) {
	f.e.t.Helper()
	if err := f.cands[i].Process.Signal(syscall.SIGTERM); err != nil {
		f.e.t.Fatal(err)
	}
	if code := wait(f.e.t, f.cands[i]); code != 0 {
		f.e.t.Fatalf("contender c%d exit %d:\n%s", i, code, f.candErr[i])
	}
}

func (f *fleet) startRender(name, url, out string) {
	tmpl := filepath.Join(f.dir, "web.tmpl")
	writeFile(f.e.t, tmpl, "{{ range providers \"web\" }}{{ .Host }}:{{ .Port }}\n{{ end }}")
	c := exec.Command(bin, "--registry", url, "--root", f.e.root, "--session-timeout", "4s",
		"render", "--watch", "--template", tmpl+":"+out)
	c.Env = testenv.CleanEnv()
	f.e.start(c)
	f.renderAt[name] = c
}

// TestMigrateLiveFleet moves a live fleet from ensemble A to ensemble B
// (two standalone servers rather than two 3-node ensembles: the machine
// is small and nothing here depends on quorum) with the steps:
// 20 providers held by two agents, 3 elect contenders, render --watch on
// A and on B, and a poller reading both every 50 ms (in-process, through
// the library `query` uses, to spare the CPU 40 processes a second).
//  1. agents and contenders get `mirror: B` by a change of their config
//     files (no restart; the leader stays the leader); `migrate verify`
//     must then agree;
//  2. readers move to B (the A render stops; the poller's readers side
//     becomes B);
//  3. agents get `registry: B` and no mirror (promotion, nothing
//     re-created on B) and contenders are restarted on B in the bad
//     order: a standby first, while A's leader is still mirrored there.
//
// Pass: no poll of the readers' side ever lists fewer than the 20 live
// providers and its rendered file never loses one; B never names a leader
// A does not; no provider's timestamp changes; both sides agree before the
// readers move; the contender started early on B waits until A's group
// has stopped. Then again with a fault: B down for longer than the
// session timeout during step 1, and A's leader killed (SIGKILL) during
// step 2.
func TestMigrateLiveFleet(t *testing.T) {
	for _, fault := range []string{"none", "mirror down in step 1", "leader killed in step 2"} {
		t.Run(strings.ReplaceAll(fault, " ", "_"), func(t *testing.T) { migrate(t, fault) })
	}
}

func migrate(t *testing.T, fault string) {
	e := newEnv(t)
	b := testzk.Start(t, 1)
	bAddr := b.Servers[0].Addr()
	f := &fleet{e: e, dir: t.TempDir(), urlA: "zk://" + e.addr, urlB: "zk://" + bAddr,
		cands: make([]*exec.Cmd, migContenders), candErr: make([]*testenv.Buffer, migContenders),
		renderAt: map[string]*exec.Cmd{}}
	p := &poller{t: t, a: openSide(t, e.addr, e.root), b: openSide(t, bAddr, e.root),
		outA: filepath.Join(f.dir, "web-a.txt"), outB: filepath.Join(f.dir, "web-b.txt")}

	f.startAgents()
	cfgC := f.config("contenders", f.urlA, "")
	for i := range f.cands {
		f.startContender(i, cfgC)
	}
	f.startRender("A", f.urlA, p.outA)
	f.startRender("B", f.urlB, p.outB)
	waitFor(t, "the fleet on A", func() bool {
		return len(e.list("web", true)) == migProviders && p.leader(p.a) != "" && lines(p.outA) == migProviders
	})
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go p.run(ctx, polled)
	defer func() { cancel(); <-polled }()

	// Step 1: mirror B.
	for i := range f.agents {
		f.config(fmt.Sprintf("agent%d", i), f.urlA, f.urlB)
	}
	leader := p.leader(p.a)
	cfgC = f.config("contenders", f.urlA, f.urlB) // a file change: no restart
	if fault == "mirror down in step 1" {
		b.Servers[0].Kill()
		waitFor(t, "B down for longer than the session timeout", func() bool { return p.b.Session().PresumedLost })
		if err := b.Servers[0].Start(); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitServing(60 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "B to agree with A", func() bool { return f.agree(p) && lines(p.outB) == migProviders })
	if l := p.leader(p.a); l != leader {
		t.Fatalf("the leader changed from %s to %s when the mirror was added", leader, l)
	}
	verify := exec.Command(bin, "--root", e.root, "--timeout", "5s", "migrate", "verify", "--from", f.urlA, "--to", f.urlB, "--wait", "20s")
	verify.Env = testenv.CleanEnv()
	if out, err := verify.CombinedOutput(); err != nil || !strings.Contains(string(out), "agree") {
		t.Fatalf("migrate verify: %v\n%s", err, out)
	}

	// Step 2: readers move to B.
	p.readersOn.Store(1)
	f.stopRender("A")
	if fault == "leader killed in step 2" {
		f.killLeader(p, cfgC)
	}

	// Step 3: B is the registry, no mirror; contenders in the bad order.
	p.phase.Store(3)
	for i := range f.agents {
		f.config(fmt.Sprintf("agent%d", i), f.urlB, "")
	}
	waitFor(t, "A drained", func() bool { return len(e.list("web", true)) == 0 })
	cfgC = f.config("contenders", f.urlB, "")
	f.restartContenders(p, cfgC, true)
	waitFor(t, "a leader on B alone", func() bool { return p.leader(p.b) != "" && p.leader(p.a) == "" })

	cancel()
	<-polled
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Logf("fault %q: %d polls of each side; %d of A and %d of B got no answer", fault, p.polls[0], p.failed[0], p.failed[1])
	if len(p.bad) > 0 {
		t.Fatalf("%d broken promises:\n%s", len(p.bad), strings.Join(p.bad, "\n"))
	}
}

// killLeader kills A's leader outright, waits for A and B to name another
// one, and starts the killed contender again (as systemd would).
func (f *fleet) killLeader(p *poller, cfg string) {
	t := f.e.t
	t.Helper()
	leader := p.leader(p.a)
	var i int
	if _, err := fmt.Sscanf(leader, "c%d", &i); err != nil {
		t.Fatalf("leader %q: %v", leader, err)
	}
	if err := f.cands[i].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wait(t, f.cands[i])
	waitFor(t, "a new leader on both sides", func() bool {
		l := p.leader(p.a)
		return l != "" && l != leader && l == p.leader(p.b)
	})
	f.startContender(i, cfg)
}

// agree reports whether both sides hold the same providers (by name) and
// name the same leader: what `migrate verify` checks.
func (f *fleet) agree(p *poller) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names := func(r *zkreg.Registry) string {
		ps, err := r.Providers(ctx, "web", registry.ListOptions{FieldsOnly: true, IncludeMaintenance: true})
		if err != nil {
			return "error"
		}
		var ns []string
		for _, pr := range ps {
			ns = append(ns, pr.Name)
		}
		slices.Sort(ns)
		return strings.Join(ns, ",")
	}
	l := p.leader(p.a)
	return l != "" && l == p.leader(p.b) && names(p.a) == names(p.b)
}

// restartContenders restarts every contender with cfg, standbys first and
// the leader (on A) last. With badOrder the new ones contend on B while
// A's group still runs: the first one restarted must wait, not lead.
func (f *fleet) restartContenders(p *poller, cfg string, badOrder bool) {
	t := f.e.t
	t.Helper()
	leader := p.leader(p.a)
	order := []int{}
	for i := range f.cands {
		if fmt.Sprintf("c%d", i) != leader {
			order = append(order, i)
		}
	}
	for i := range f.cands {
		if fmt.Sprintf("c%d", i) == leader {
			order = append(order, i)
		}
	}
	if len(order) != migContenders || leader == "" {
		t.Fatalf("no leader on A (%q) to restart last", leader)
	}
	for n, i := range order {
		f.stopContender(i)
		f.startContender(i, cfg)
		if badOrder && n == 0 {
			waitFor(t, fmt.Sprintf("c%d to wait for A's group", i), func() bool {
				return strings.Contains(f.candErr[i].String(), "mirrored from another ensemble")
			})
			if l := p.leader(p.b); l != leader {
				t.Fatalf("B names %q while c%d waits and %s leads on A", l, i, leader)
			}
		}
	}
}

func (f *fleet) stopRender(name string) {
	c := f.renderAt[name]
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		f.e.t.Fatal(err)
	}
	wait(f.e.t, c)
}
