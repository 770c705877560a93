package main

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

func TestRegisterThenSIGTERMDeregistersAtOnce(t *testing.T) {
	e := newEnv(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			// A long session timeout: only an explicit delete can make the
			// provider vanish quickly.
			p := start(t, e.args("register", "web", "--port", "8080", "--host", "h1.example.com", "--session-timeout", "60s")...)
			line := p.waitLine(t, "registered")
			if !strings.Contains(line, "h1.example.com:8080") {
				t.Errorf("registered line %q", line)
			}
			if ps := e.providers(t, "web"); len(ps) != 1 || ps[0].Host != "h1.example.com" {
				t.Fatalf("providers %+v", ps)
			}
			p.signal(sig)
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit %d after %s; stderr:\n%s", code, sig, p.Stderr())
			}
			// Gone as soon as the process has exited, not 60s later.
			if ps := e.providers(t, "web"); len(ps) != 0 {
				t.Fatalf("still listed after %s: %+v", sig, ps)
			}
		})
	}
}

func TestKill9VanishesWhenSessionExpires(t *testing.T) {
	e := newEnv(t)
	p := start(t, e.args("register", "web", "--port", "8080", "--host", "h1", "--session-timeout", "1s")...)
	p.waitLine(t, "registered")
	p.signal(syscall.SIGKILL)
	p.wait(t)
	testenv.WaitFor(t, "the provider to vanish after session expiry", 15*time.Second, func() bool {
		return len(e.providers(t, "web")) == 0
	})
}

func TestSIGSTOPPastSessionTimeoutReRegistersExactlyOnce(t *testing.T) {
	e := newEnv(t)
	p := start(t, e.args("register", "web", "--port", "8080", "--host", "h1", "--session-timeout", "1s")...)
	p.waitLine(t, "registered")
	before := e.providers(t, "web")
	if len(before) != 1 {
		t.Fatalf("providers %+v", before)
	}
	p.signal(syscall.SIGSTOP)
	testenv.WaitFor(t, "the server to expire the stopped registrant", 15*time.Second, func() bool {
		return len(e.providers(t, "web")) == 0
	})
	p.signal(syscall.SIGCONT)
	testenv.WaitFor(t, "re-registration on a new session", 15*time.Second, func() bool {
		ps := e.providers(t, "web")
		return len(ps) == 1 && ps[0].Timestamp.After(before[0].Timestamp)
	})
	if ps := e.providers(t, "web"); len(ps) != 1 {
		t.Fatalf("%d providers after re-registration, want exactly 1: %+v", len(ps), ps)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d", code)
	}
	// Every create after the first is logged before it is sent, so the
	// complete log of the exited process counts them: exactly one, not one
	// that a later duplicate would follow.
	if n := strings.Count(p.Stderr(), "re-registering provider"); n != 1 {
		t.Errorf("re-registered %d times, want exactly 1:\n%s", n, p.Stderr())
	}
}

func TestRegistrationSurvivesLeaderKill(t *testing.T) {
	zkc := testzk.Start(t, 3)
	e := env{registry: zkc.URL(""), root: "/svcdisco"}
	p := start(t, e.args("register", "web", "--port", "8080", "--host", "h1", "--session-timeout", "4s", "--log-level", "debug")...)
	p.waitLine(t, "registered")
	before := e.providers(t, "web")
	m := sessionRE.FindStringSubmatch(p.Stderr())
	if len(before) != 1 || m == nil {
		t.Fatalf("providers %+v; no session in the log:\n%s", before, p.Stderr())
	}
	leader := zkc.Leader()
	if leader < 0 {
		t.Fatal("no leader")
	}
	zkc.Servers[leader].Kill()
	testenv.WaitFor(t, "a new leader", 30*time.Second, func() bool {
		l := zkc.Leader()
		return l >= 0 && l != leader
	})
	// The registration must move with its session, not expire and not
	// double: once a live server holds a connection of the original
	// session, the session can no longer expire.
	testenv.WaitFor(t, "the session on a surviving server", 30*time.Second, func() bool {
		return connectedTo(zkc, leader, m[1])
	})
	if ps := e.providers(t, "web"); len(ps) != 1 || !ps[0].Timestamp.Equal(before[0].Timestamp) || ps[0].Name != before[0].Name {
		t.Fatalf("after the leader's death: %+v, want exactly the original %+v", ps, before)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, p.Stderr())
	}
	if strings.Contains(p.Stderr(), "new zookeeper session") {
		t.Errorf("the session was replaced:\n%s", p.Stderr())
	}
}

var sessionRE = regexp.MustCompile(`zookeeper session established.*session=(0x[0-9a-f]+)`)

// connectedTo reports whether a server other than the dead one lists a
// connection of session sid (ZooKeeper's cons).
func connectedTo(zkc *testzk.Cluster, dead int, sid string) bool {
	for i, s := range zkc.Servers {
		if i == dead {
			continue
		}
		cons, err := testzk.FourLetter(s.Addr(), "cons", 5*time.Second)
		if err == nil && strings.Contains(cons, "sid="+sid+",") {
			return true
		}
	}
	return false
}
