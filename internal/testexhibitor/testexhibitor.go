// Package testexhibitor serves Exhibitor's documented /cluster/list replies
// from a local HTTP server, for tests. Exhibitor itself (a Java web app
// that needs a ZooKeeper install to manage) cannot run here; its REST reply
// is small and documented, so a stand-in that answers exactly that — and the
// ways it fails — is what the client is tested against. The ZooKeeper
// servers it points at are real.
package testexhibitor

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server is an Exhibitor stand-in.
type Server struct {
	*httptest.Server
	Path string // the REST prefix it serves, default /exhibitor/v1

	mu          sync.Mutex
	status      int
	body        string
	contentType string
	delay       time.Duration
	user, pass  string
	requests    atomic.Int64
	lastAccept  atomic.Value
}

// Start serves plain HTTP until t ends.
func Start(t testing.TB) *Server { return start(t, false) }

// StartTLS serves HTTPS with httptest's self-signed certificate.
func StartTLS(t testing.TB) *Server { return start(t, true) }

func start(t testing.TB, useTLS bool) *Server {
	s := &Server{Path: "/exhibitor/v1", status: http.StatusServiceUnavailable, body: "not configured"}
	h := http.HandlerFunc(s.serve)
	if useTLS {
		s.Server = httptest.NewUnstartedServer(h)
		s.Server.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		s.Server.StartTLS()
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

// Host is host:port of the server.
func (s *Server) Host() string {
	u, _ := url.Parse(s.URL)
	return u.Host
}

// Requests is how many /cluster/list requests it answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// LastAccept is the Accept header of the last request.
func (s *Server) LastAccept() string {
	v, _ := s.lastAccept.Load().(string)
	return v
}

// JSON makes it answer {"servers":[hosts…],"port":port}.
func (s *Server) JSON(port int, hosts ...string) {
	b, _ := json.Marshal(map[string]any{"servers": hosts, "port": port})
	s.Reply(http.StatusOK, "application/json", string(b))
}

// Form makes it answer count=N&server0=…&port=P, Exhibitor's older form.
func (s *Server) Form(port int, hosts ...string) {
	v := url.Values{"count": {strconv.Itoa(len(hosts))}, "port": {strconv.Itoa(port)}}
	for i, h := range hosts {
		v.Set("server"+strconv.Itoa(i), h)
	}
	s.Reply(http.StatusOK, "text/plain", v.Encode())
}

// Servers answers with a JSON reply listing addrs ("127.0.0.1:2181", …),
// which must share one port; ZooKeeper test servers on loopback do not, so
// tests with several servers use one server each.
func (s *Server) Servers(addrs ...string) {
	var hosts []string
	port := 0
	for _, a := range addrs {
		h, p, _ := strings.Cut(a, ":")
		hosts = append(hosts, h)
		port, _ = strconv.Atoi(p)
	}
	s.JSON(port, hosts...)
}

// Reply sets a raw reply.
func (s *Server) Reply(status int, contentType, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.contentType, s.body = status, contentType, body
}

// Delay makes every reply wait d first (a slow or hung host).
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// RequireAuth makes it answer 401 unless basic auth user:pass is sent.
func (s *Server) RequireAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass = user, pass
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != s.Path+"/cluster/list" {
		http.NotFound(w, r)
		return
	}
	s.requests.Add(1)
	s.lastAccept.Store(r.Header.Get("Accept"))
	s.mu.Lock()
	status, ct, body, delay, user, pass := s.status, s.contentType, s.body, s.delay, s.user, s.pass
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="exhibitor"`)
			http.Error(w, "<html><body>401 Unauthorized</body></html>", http.StatusUnauthorized)
			return
		}
	}
	if ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
