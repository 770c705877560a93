package e2e

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	zkreg "github.com/svcdisco/svcdisco/registry/zk"
)

// side is a test's raw view of one ensemble (under an optional chroot).
type side struct {
	t    *testing.T
	conn *gozk.Conn
	dir  string // chroot + root + /services
}

func newSide(t *testing.T, addr, chroot, root string) *side {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zkreg.Open(ctx, zkreg.Options{Servers: []string{addr}, Root: "/x", SessionTimeout: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &side{t: t, conn: r.Conn(), dir: chroot + root + "/services"}
}

// znodes maps every provider znode (service/name) to its czxid.
func (s *side) znodes() map[string]int64 {
	s.t.Helper()
	out := map[string]int64{}
	svcs, _, err := s.conn.Children(s.dir)
	if err == gozk.ErrNoNode {
		return out
	}
	if err != nil {
		s.t.Fatal(err)
	}
	for _, svc := range svcs {
		names, _, err := s.conn.Children(s.dir + "/" + svc)
		if err != nil && err != gozk.ErrNoNode {
			s.t.Fatal(err)
		}
		for _, n := range names {
			_, st, err := s.conn.Exists(s.dir + "/" + svc + "/" + n)
			if err == nil && st != nil {
				out[svc+"/"+n] = st.Czxid
			}
		}
	}
	return out
}

func sameNames(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func sameCzxids(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestAgentMirrorFollowsConfigAndPromotes drives a real agent whose
// registry and mirror come from its config file, on two standalone
// ZooKeeper servers A and B (standalone rather than two 3-node ensembles:
// the machine is small, and nothing here depends on quorum). The mirror is
// added by a config file change, changed and removed by SIGHUP, and none
// of that touches the providers on A (same czxids). Then the config names
// B as the registry with no mirror: the agent promotes its B session, B's
// znodes stay as they are (same czxids) and A drains. SIGTERM then empties
// B.
func TestAgentMirrorFollowsConfigAndPromotes(t *testing.T) {
	e := newEnv(t)
	b := testzk.Start(t, 1)
	bAddr := b.Servers[0].Addr()
	// A second chroot on B, for "the mirror changed".
	onB := newSide(t, bAddr, "", e.root)
	if _, err := onB.conn.Create("/m2", nil, 0, gozk.WorldACL(gozk.PermAll)); err != nil {
		t.Fatal(err)
	}
	onA, onB2 := newSide(t, e.addr, "", e.root), newSide(t, bAddr, "/m2", e.root)

	dir, cfgDir := t.TempDir(), t.TempDir()
	cfg := filepath.Join(cfgDir, "svcdisco.yaml")
	writeConfig := func(registry, mirror string) {
		body := "registry: " + registry + "\nroot: " + e.root + "\nsession_timeout: 4s\nlog_level: debug\n"
		if mirror != "" {
			body += "mirror: " + mirror + "\n"
		}
		tmp := cfg + ".tmp"
		writeFile(t, tmp, body)
		if err := os.Rename(tmp, cfg); err != nil { // as config management writes it
			t.Fatal(err)
		}
	}
	urlA, urlB, urlB2 := "zk://"+e.addr, "zk://"+bAddr, "zk://"+bAddr+"/m2"
	writeConfig(urlA, "")
	writeFile(t, filepath.Join(dir, "web.yaml"), provider("web", 8080))
	writeFile(t, filepath.Join(dir, "db.yaml"), provider("db", 5432))
	c := exec.Command(bin, "--config", cfg, "agent", "--config-dir", dir)
	c.Env = testenv.CleanEnv()
	_, stderr := e.start(c)
	waitFor(t, "two providers on A", func() bool { return len(onA.znodes()) == 2 })
	a0 := onA.znodes()
	untouched := func(when string) {
		t.Helper()
		if got := onA.znodes(); !sameCzxids(a0, got) {
			t.Fatalf("%s: A's providers were touched: %v -> %v", when, a0, got)
		}
	}
	hup := func() {
		t.Helper()
		if err := c.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	writeConfig(urlA, urlB) // a file change, no signal
	waitFor(t, "copies on B (config file change)", func() bool { return sameNames(a0, onB.znodes()) })
	untouched("mirror added")

	writeConfig(urlA, urlB2)
	hup()
	waitFor(t, "copies moved to B/m2 (SIGHUP)", func() bool {
		return sameNames(a0, onB2.znodes()) && len(onB.znodes()) == 0
	})
	untouched("mirror changed")

	writeConfig(urlA, "")
	hup()
	waitFor(t, "copies removed (SIGHUP)", func() bool { return len(onB2.znodes()) == 0 })
	untouched("mirror removed")

	writeConfig(urlA, urlB)
	hup()
	waitFor(t, "copies on B again", func() bool { return sameNames(a0, onB.znodes()) })
	untouched("mirror added again")
	b0 := onB.znodes()

	writeConfig(urlB, "")
	hup()
	waitFor(t, "A drained after promotion", func() bool { return len(onA.znodes()) == 0 })
	if got := onB.znodes(); !sameCzxids(b0, got) {
		t.Fatalf("promotion re-created znodes on B: %v -> %v", b0, got)
	}
	if !strings.Contains(stderr.String(), "the mirror is now the registry") {
		t.Fatal("promotion not logged")
	}
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := wait(t, c); code != 0 {
		t.Fatalf("agent exit %d", code)
	}
	if got := onB.znodes(); len(got) != 0 {
		t.Fatalf("B lists %v after SIGTERM", got)
	}
}

// TestAgentMirrorDownAndBack: the mirror is cut off (a partitioned proxy)
// for longer than its session timeout while the agent holds providers. A
// is never touched (same czxids), the outage is reported on stderr, and
// once B answers again the copies are back under the same names.
func TestAgentMirrorDownAndBack(t *testing.T) {
	e := newEnv(t)
	b := testzk.Start(t, 1)
	proxy := testzk.NewProxy(t, b.Servers[0].Addr())
	onA, onB := newSide(t, e.addr, "", e.root), newSide(t, b.Servers[0].Addr(), "", e.root)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "web.yaml"), provider("web", 8080))
	writeFile(t, filepath.Join(dir, "db.yaml"), provider("db", 5432))
	c := e.cmd(e.addr, "--mirror", "zk://"+proxy.Addr(), "--session-timeout", "2s", "agent", "--config-dir", dir)
	_, stderr := e.start(c)
	waitFor(t, "two providers on A", func() bool { return len(onA.znodes()) == 2 })
	a0 := onA.znodes()
	waitFor(t, "copies on B", func() bool { return sameNames(a0, onB.znodes()) })

	proxy.Partition()
	waitFor(t, "the copies to expire on B", func() bool { return len(onB.znodes()) == 0 })
	waitFor(t, "the mirror outage reported on stderr", func() bool {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, "mirror=zk://"+proxy.Addr()) && strings.Contains(l, "longer than the session timeout") {
				return true
			}
		}
		return false
	})
	proxy.Heal()
	waitFor(t, "copies back on B under the same names", func() bool { return sameNames(a0, onB.znodes()) })
	if got := onA.znodes(); !sameCzxids(a0, got) {
		t.Fatalf("A's providers were touched by the mirror outage: %v -> %v", a0, got)
	}
}
