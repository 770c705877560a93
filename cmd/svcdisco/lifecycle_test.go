package main

import (
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
	time.Sleep(500 * time.Millisecond)
	if ps := e.providers(t, "web"); len(ps) != 1 {
		t.Fatalf("%d providers after re-registration, want exactly 1: %+v", len(ps), ps)
	}
	if !strings.Contains(p.Stderr(), "re-registering") {
		t.Errorf("re-registration not logged:\n%s", p.Stderr())
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestRegistrationSurvivesLeaderKill(t *testing.T) {
	zkc := testzk.Start(t, 3)
	e := env{registry: zkc.URL(""), root: "/svcdisco"}
	p := start(t, e.args("register", "web", "--port", "8080", "--host", "h1", "--session-timeout", "4s")...)
	p.waitLine(t, "registered")
	leader := zkc.Leader()
	if leader < 0 {
		t.Fatal("no leader")
	}
	zkc.Servers[leader].Kill()
	testenv.WaitFor(t, "a new leader", 30*time.Second, func() bool {
		l := zkc.Leader()
		return l >= 0 && l != leader
	})
	// Let the session timeout pass twice: the registration must have moved
	// with its session, not expired and not doubled.
	time.Sleep(8 * time.Second)
	testenv.WaitFor(t, "the provider listed exactly once", 15*time.Second, func() bool {
		res := run(t, e.args("query", "web", "-o", "lines")...)
		return res.code == 0 && res.stdout == "h1:8080\n"
	})
	p.signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Errorf("exit %d; stderr:\n%s", code, p.Stderr())
	}
}
