package check

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestStateRiseFall(t *testing.T) {
	tests := []struct {
		name    string
		results string // p = pass, f = fail
		want    string // state after each result: u = up, d = down
	}{
		{"starts down, rises after 2", "pp", "du"},
		{"a fail resets the rise", "pfpp", "dddu"},
		{"falls after 3", "ppfff", "duuud"},
		{"flapping inside thresholds never changes", "ppfpfpffpfp", "duuuuuuuuuu"},
		{"comes back after rise", "ppfffpp", "duuuddu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := State{Rise: 2, Fall: 3}
			var got strings.Builder
			for _, r := range tt.results {
				s.Observe(r == 'p')
				if s.Up() {
					got.WriteByte('u')
				} else {
					got.WriteByte('d')
				}
			}
			if got.String() != tt.want {
				t.Errorf("states %s, want %s", got.String(), tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/health", "https://h/x", "tcp://127.0.0.1:80", "exec:/bin/true --quick"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ftp://h/", "tcp://nohostport", "tcp://h:1/path", "exec:", "http:///x"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Parse(%q) = %v, want an error naming it", bad, err)
		}
	}
}

func check(t *testing.T, target string) error {
	t.Helper()
	c, err := Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Check(ctx)
}

func TestHTTP(t *testing.T) {
	code := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code == http.StatusFound {
			http.Redirect(w, r, "http://127.0.0.1:1/nowhere", code)
			return
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	for _, tt := range []struct {
		code int
		up   bool
	}{{200, true}, {204, true}, {302, true}, {404, false}, {503, false}} {
		code = tt.code
		if err := check(t, srv.URL+"/health"); (err == nil) != tt.up {
			t.Errorf("HTTP %d: err %v, want up=%v", tt.code, err, tt.up)
		}
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := check(t, "tcp://"+addr); err != nil {
		t.Errorf("listening: %v", err)
	}
	ln.Close()
	if err := check(t, "tcp://"+addr); err == nil {
		t.Error("closed port passed")
	}
}

func TestExec(t *testing.T) {
	if err := check(t, "exec:exit 0"); err != nil {
		t.Errorf("exit 0: %v", err)
	}
	if err := check(t, "exec:echo broken >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("exit 3: %v, want an error with the last output line", err)
	}
	// A probe that outlives its timeout is killed with its process group.
	c, _ := Parse("exec:sleep 30 & sleep 30")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Check(ctx) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("slow probe: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("slow probe not killed")
	}
}
