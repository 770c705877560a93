package nodecache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// maxWait bounds one watch request; clients ask again.
const maxWait = 5 * time.Minute

// firstListing bounds how long a request waits for a new entry's first
// listing.
const firstListing = 10 * time.Second

// Server answers the protocol (see wire.go) from a Cache.
type Server struct {
	Cache  *Cache
	Logger *slog.Logger
	// Query runs a query command line (args as given to svcdisco, "query"
	// first) on reg and writes its output to w: the /v1/query request.
	// Nil answers that request 404.
	Query func(ctx context.Context, reg registry.Registry, args []string, w io.Writer) error
	// waiting counts watch requests waiting for a change (Status.Waiting).
	waiting atomic.Int64

	// Registry and Root are what the cache serves. A request naming
	// another (HeaderRegistry, HeaderRoot) is refused with 421, so a
	// command configured for another registry never takes this one's
	// answers; it asks its registry itself.
	Registry, Root string
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathProviders+"{service}", s.same(s.providers))
	mux.HandleFunc("GET "+PathWatch+"{service}", s.same(s.watch))
	mux.HandleFunc("GET "+PathServices, s.same(s.services))
	mux.HandleFunc("GET "+PathStatus, s.status)
	if s.Query != nil {
		mux.HandleFunc("POST "+PathQuery, s.same(s.query))
	}
	return mux
}

// same refuses requests for another registry or root than the served one.
func (s *Server) same(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reg, root := r.Header.Get(HeaderRegistry), r.Header.Get(HeaderRoot)
		if (reg != "" && s.Registry != "" && reg != s.Registry) || (root != "" && s.Root != "" && root != s.Root) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Errorf("this agent serves registry %s root %s, not %s %s",
				registry.Redact(s.Registry), s.Root, registry.Redact(reg), root), false)
			return
		}
		h(w, r)
	}
}

// Listen creates the unix socket at path, mode 0660, owned by group when
// it is not "" (a name or a numeric ID). A socket left by an earlier agent
// is replaced; any other file there is an error.
func Listen(path, group string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("serve %s: exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("serve %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("serve %s: %w", path, err)
	}
	gid := -1
	if group != "" {
		g, err := lookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("serve %s: %w", path, err)
		}
		gid = g
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("serve %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("serve %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			l.Close()
			return nil, fmt.Errorf("serve %s: group %s: %w", path, group, err)
		}
	}
	return l, nil
}

func lookupGroup(group string) (int, error) {
	if id, err := strconv.Atoi(group); err == nil && id >= 0 {
		return id, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("group %q: %w", group, err)
	}
	return strconv.Atoi(g.Gid)
}

// Serve answers on l until ctx ends, then closes l (removing the socket).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.Serve(l)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) providers(w http.ResponseWriter, r *http.Request) {
	staleOK, err := durationParam(r, "stale_ok")
	if err != nil {
		writeError(w, http.StatusBadRequest, err, false)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), firstListing)
	defer cancel()
	snap, err := s.Cache.Get(ctx, r.PathValue("service"), staleOK)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := Listing{Providers: make([]Entry, len(snap.Providers)), Index: snap.Index, Stale: snap.Stale, AgeMs: snap.Age.Milliseconds(),
		FullFieldsOnly: s.Cache.FullFieldsOnly()}
	for i, p := range snap.Providers {
		out.Providers[i] = Entry{Name: p.Name, Provider: p}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	wait, err := durationParam(r, "wait")
	if err != nil {
		writeError(w, http.StatusBadRequest, err, false)
		return
	}
	if wait <= 0 || wait > maxWait {
		wait = time.Minute
	}
	var index uint64
	if v := r.URL.Query().Get("index"); v != "" {
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("invalid index %q", v), false)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), firstListing)
	changed, current, err := s.Cache.Changed(ctx, r.PathValue("service"), index)
	cancel()
	if err != nil {
		s.fail(w, err)
		return
	}
	if r.URL.Query().Has("index") && current == index {
		t := time.NewTimer(wait)
		defer t.Stop()
		s.waiting.Add(1)
		defer s.waiting.Add(-1)
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		_, current, _ = s.Cache.Changed(r.Context(), r.PathValue("service"), index)
	}
	writeJSON(w, http.StatusOK, Index{Index: current})
}

func (s *Server) services(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), firstListing)
	defer cancel()
	counts, err := s.Cache.Services(ctx)
	if err != nil {
		s.fail(w, err)
		return
	}
	if counts == nil {
		counts = []registry.ServiceCount{}
	}
	writeJSON(w, http.StatusOK, Services{Services: counts})
}

// query runs a whole query command on the cache: the answer is what the
// command prints, byte for byte, with no process started for it.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	var req QueryRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, Error{Error: fmt.Sprintf("invalid query request: %v", err), Exit: exitcode.Usage})
		return
	}
	var out bytes.Buffer
	if err := s.Query(r.Context(), s.Cache.Registry(), req.Args, &out); err != nil {
		code := exitcode.Of(err)
		var se *StaleError
		if errors.As(err, &se) {
			code = exitcode.Unreachable
		}
		writeJSON(w, statusOf(code), Error{Error: err.Error(), Exit: code, Stale: se != nil})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(out.Bytes())
}

// statusOf is the HTTP status of an exit code.
func statusOf(code int) int {
	switch code {
	case exitcode.Usage:
		return http.StatusBadRequest
	case exitcode.NotEnough:
		return http.StatusConflict
	case exitcode.Unreachable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	watched := s.Cache.Watched()
	sort.Strings(watched)
	writeJSON(w, http.StatusOK, Status{Online: s.Cache.Online(), Watched: watched, Waiting: s.waiting.Load()})
}

// fail answers err with its status: 400 for a bad service name, 503 for
// staleness or an unreachable registry, 504 for a first listing too slow.
func (s *Server) fail(w http.ResponseWriter, err error) {
	var se *StaleError
	switch {
	case errors.As(err, &se):
		writeError(w, http.StatusServiceUnavailable, err, true)
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, err, false)
	case errors.As(err, new(badInput)):
		writeError(w, http.StatusBadRequest, err, false)
	default:
		if s.Logger != nil {
			s.Logger.Debug("node cache: request failed", "err", err)
		}
		writeError(w, http.StatusServiceUnavailable, err, false)
	}
}

func durationParam(r *http.Request, name string) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid %s %q: want a duration like 30s", name, v)
	}
	return d, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error, stale bool) {
	writeJSON(w, code, Error{Error: err.Error(), Stale: stale})
}
