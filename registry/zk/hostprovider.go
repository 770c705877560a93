package zk

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// hostProvider hands go-zookeeper the servers to try, shuffled, without
// resolving them up front: go-zookeeper's DNSHostProvider fails the whole
// connection when ONE name does not resolve, which turns a single dead host
// in a connect string into an outage. Here a host that does not resolve just
// fails its dial and the next one is tried.
//
// Its server list can be replaced while the connection lives (UpdateServers):
// an ensemble that gains or loses members is still the same ensemble, and
// the session, its ephemeral znodes and its watches carry over. It is also
// the connection's dialer, so that it knows which server the client is on
// and can drop that connection when the server leaves the list: the client
// then reconnects to a listed server, presenting the same session.
//
// A new server list may name another ensemble. Its servers either answer
// that the session expired (go-zookeeper then starts a new one) or, when the
// client has seen a newer zxid than theirs, close the connection during the
// handshake, and go-zookeeper would retry forever. So after an update that moved the client off its server, once
// every handshake has been refused for longer than the session timeout the
// session is gone wherever it lived (no server has heard from the client for
// that long), and the next attempt is answered with "session expired" on the
// servers' behalf: go-zookeeper then starts a new session and the Registry
// re-registers, as after any expiry. Without such an update, refusals (an
// ensemble without quorum) are waited out.
type hostProvider struct {
	sessionTimeout time.Duration
	log            *slog.Logger

	mu      sync.Mutex
	servers []string
	next    int
	tried   int // servers tried since the last successful connection

	tls     *tls.Config // zk://…?tls=1: every connection is TLS (tls.go)
	dialErr error       // why the last dial failed, nil after a success

	conn         *trackedConn // the connection dialled last, nil before the first
	connAddr     string
	moved        bool      // an update dropped the connection; no handshake accepted since
	refusedSince time.Time // first refused handshake since then
}

func (hp *hostProvider) Init(servers []string) error {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.setLocked(servers)
	return nil
}

// current is the server list to connect with: the list as last updated,
// or initial before any (a fresh connection after a refused session keeps
// what Exhibitor said since).
func (hp *hostProvider) current(initial []string) []string {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if len(hp.servers) == 0 {
		return initial
	}
	return append([]string(nil), hp.servers...)
}

func (hp *hostProvider) setLocked(servers []string) {
	hp.servers = append([]string(nil), servers...)
	rand.Shuffle(len(hp.servers), func(i, j int) { hp.servers[i], hp.servers[j] = hp.servers[j], hp.servers[i] })
	hp.next, hp.tried = 0, 0
}

func (hp *hostProvider) Len() int {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return len(hp.servers)
}

func (hp *hostProvider) Next() (string, bool) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	s := hp.servers[hp.next]
	hp.next = (hp.next + 1) % len(hp.servers)
	retryStart := hp.tried >= len(hp.servers)
	if retryStart {
		hp.tried = 0
	}
	hp.tried++
	return s, retryStart
}

// Connected is go-zookeeper's call after a handshake was accepted.
func (hp *hostProvider) Connected() {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.tried = 0
	hp.moved, hp.refusedSince = false, time.Time{}
	if hp.conn != nil {
		hp.conn.accepted.Store(true)
	}
}

// refused records a connection closed before its handshake was accepted.
func (hp *hostProvider) refused() {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.moved && hp.refusedSince.IsZero() {
		hp.refusedSince = time.Now()
	}
}

// errDelisted fails a dial to a server that left the list between Next and
// the dial; go-zookeeper then asks Next again.
var errDelisted = errors.New("no longer in the ensemble's server list")

// dial is the connection's zk.Dialer.
func (hp *hostProvider) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	if hp.sessionRejected() {
		hp.log.Warn("the servers have refused this session for longer than the session timeout; starting a new session",
			"session_timeout", hp.sessionTimeout)
		return expiredConn(), nil
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err == nil && hp.tls != nil {
		c, err = dialTLS(c, addr, hp.tls, timeout)
	}
	hp.setDialError(err)
	if err != nil {
		hp.log.Debug("dial failed", "server", addr, "err", err)
		return nil, err
	}
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if !slices.Contains(hp.servers, addr) {
		c.Close()
		return nil, fmt.Errorf("dial %s: %w", addr, errDelisted)
	}
	hp.conn, hp.connAddr = &trackedConn{Conn: c, hp: hp}, addr
	return hp.conn, nil
}

func (hp *hostProvider) sessionRejected() bool {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if !hp.moved || hp.refusedSince.IsZero() || time.Since(hp.refusedSince) <= hp.sessionTimeout {
		return false
	}
	hp.moved, hp.refusedSince = false, time.Time{}
	return true
}

// update replaces the server list. It reports the server the client was
// on when that server is not in the new list; its connection is closed, so
// go-zookeeper reconnects to a listed server with the same session.
func (hp *hostProvider) update(servers []string) (dropped string) {
	hp.mu.Lock()
	hp.setLocked(servers)
	c := hp.conn
	if c == nil || slices.Contains(hp.servers, hp.connAddr) {
		hp.mu.Unlock()
		return ""
	}
	hp.conn = nil
	dropped = hp.connAddr
	hp.moved, hp.refusedSince = true, time.Time{}
	hp.mu.Unlock()
	c.Close() // outside the lock: Close may call refused
	return dropped
}

// UpdateServers replaces the ensemble's server list in place (an Exhibitor
// membership change). The session is kept: if the server the client is on
// is still listed nothing happens; if it is not, the client reconnects to a
// listed server with the same session, and its ephemeral znodes, their
// timestamps and its watches carry over. Only if the new servers reject the
// session (they are another ensemble, or it expired meanwhile) does the
// Registry get a new session and re-register every provider on it, as after
// any session expiry.
//
// Before the client is moved off its server, the new servers must give a
// session (a throwaway one, closed at once) within ctx: a list of servers
// that accept connections but do not serve is refused with an error, and
// the client stays where it is.
func (r *Registry) UpdateServers(ctx context.Context, servers []string) error {
	if len(servers) == 0 {
		return exitcode.Usagef("zk: no servers given")
	}
	if !r.hosts.keeps(servers) {
		if err := probe(ctx, servers, r.opts.SessionTimeout, r.log, r.opts.TLS); err != nil {
			return exitcode.New(exitcode.Unreachable, fmt.Errorf("zookeeper %s: %w: %v",
				strings.Join(servers, ","), registry.ErrUnreachable, err))
		}
	}
	if dropped := r.hosts.update(servers); dropped != "" {
		r.log.Info("the server this client was on left the ensemble's list; reconnecting to a listed server",
			"server", dropped, "servers", strings.Join(servers, ","))
	}
	return nil
}

// keeps reports whether the client's server is in servers (or it has none).
func (hp *hostProvider) keeps(servers []string) bool {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return hp.conn == nil || slices.Contains(servers, hp.connAddr)
}

// probe opens a session on servers (over TLS when tlsCfg is set) and
// closes it again.
func probe(ctx context.Context, servers []string, timeout time.Duration, log *slog.Logger, tlsCfg *tls.Config) error {
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil || tlsCfg == nil {
			return c, err
		}
		return dialTLS(c, addr, tlsCfg, timeout)
	}
	conn, events, err := zk.Connect(servers, timeout, zk.WithHostProvider(&hostProvider{}), zk.WithDialer(dial),
		zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return errors.New("connection closed")
			}
			if ev.State == zk.StateHasSession {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("no session: %w", ctx.Err())
		}
	}
}

// trackedConn tells the host provider when a connection closes before its
// handshake was accepted.
type trackedConn struct {
	net.Conn
	hp       *hostProvider
	accepted atomic.Bool
	closed   atomic.Bool
}

func (c *trackedConn) Close() error {
	if !c.closed.Swap(true) && !c.accepted.Load() {
		c.hp.refused()
	}
	return c.Conn.Close()
}

// expiredConn answers a connect request as a server does for an expired
// session: a connect response with session id 0.
func expiredConn() net.Conn {
	const passwdLen = 16
	body := make([]byte, 4+4+8+4+passwdLen) // protocol version, timeout, session id, password
	binary.BigEndian.PutUint32(body[16:20], passwdLen)
	reply := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return &cannedConn{reply: append(reply, body...)}
}

// cannedConn is a net.Conn that swallows writes and reads back reply.
type cannedConn struct {
	mu    sync.Mutex
	reply []byte
}

func (c *cannedConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reply) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.reply)
	c.reply = c.reply[n:]
	return n, nil
}

func (c *cannedConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *cannedConn) Close() error                     { return nil }
func (c *cannedConn) LocalAddr() net.Addr              { return cannedAddr{} }
func (c *cannedConn) RemoteAddr() net.Addr             { return cannedAddr{} }
func (c *cannedConn) SetDeadline(time.Time) error      { return nil }
func (c *cannedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *cannedConn) SetWriteDeadline(time.Time) error { return nil }

type cannedAddr struct{}

func (cannedAddr) Network() string { return "canned" }
func (cannedAddr) String() string  { return "expired-session" }
