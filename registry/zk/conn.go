package zk

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// connRef is the Registry's current go-zookeeper connection. It is replaced
// only when the servers refuse our session for good (see
// sessionWatcher.refused): every call goes through it, so a replacement
// reaches every user at once.
type connRef struct{ p atomic.Pointer[zk.Conn] }

func (c *connRef) get() *zk.Conn                  { return c.p.Load() }
func (c *connRef) set(conn *zk.Conn)              { c.p.Store(conn) }
func (c *connRef) SessionID() int64               { return c.get().SessionID() }
func (c *connRef) State() zk.State                { return c.get().State() }
func (c *connRef) Server() string                 { return c.get().Server() }
func (c *connRef) Close()                         { c.get().Close() }
func (c *connRef) Delete(p string, v int32) error { return c.get().Delete(p, v) }

func (c *connRef) Children(p string) ([]string, *zk.Stat, error) { return c.get().Children(p) }
func (c *connRef) ChildrenW(p string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	return c.get().ChildrenW(p)
}
func (c *connRef) Get(p string) ([]byte, *zk.Stat, error) { return c.get().Get(p) }
func (c *connRef) GetW(p string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	return c.get().GetW(p)
}
func (c *connRef) Exists(p string) (bool, *zk.Stat, error) { return c.get().Exists(p) }
func (c *connRef) ExistsW(p string) (bool, *zk.Stat, <-chan zk.Event, error) {
	return c.get().ExistsW(p)
}
func (c *connRef) Set(p string, data []byte, v int32) (*zk.Stat, error) {
	return c.get().Set(p, data, v)
}
func (c *connRef) Create(p string, data []byte, flags int32, acl []zk.ACL) (string, error) {
	return c.get().Create(p, data, flags, acl)
}
func (c *connRef) GetACL(p string) ([]zk.ACL, *zk.Stat, error) { return c.get().GetACL(p) }
func (c *connRef) AddAuth(scheme string, auth []byte) error {
	return c.get().AddAuth(scheme, auth)
}
func (c *connRef) Multi(ops ...any) ([]zk.MultiResponse, error) { return c.get().Multi(ops...) }

// handshake is what the wire showed of one connection's session handshake.
type handshake struct {
	lastZxid int64         // the client's last-seen zxid, from the connect request
	sid      int64         // session granted (0: expired or not answered)
	timeout  time.Duration // negotiated session timeout
}

// wireObserver wraps go-zookeeper's dialer to read the session handshake
// off the wire, because go-zookeeper does not expose two things svcdisco
// needs: the NEGOTIATED session timeout (the server may clamp the requested
// one) and whether a server closed the connection without answering the
// connect request. A server does that when it refuses the session, e.g.
// when the client has seen a newer zxid than the server has (its data was
// wiped) or while it is not serving.
type wireObserver struct {
	dialer   func(network, addr string, timeout time.Duration) (net.Conn, error)
	answered func(handshake)
	refused  func(handshake)
}

func (w *wireObserver) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := w.dialer(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	return &observedConn{Conn: c, w: w}, nil
}

// observedConn parses the first frame written (connect request) and the
// first frame read (connect response); after that it only forwards.
type observedConn struct {
	net.Conn
	w *wireObserver

	mu   sync.Mutex
	hs   handshake
	sent bool   // the connect request was written
	done bool   // the handshake ended (answered or refused)
	resp []byte // connect response bytes read so far
}

// Connect request: len, protocolVersion int32, lastZxidSeen int64, timeOut
// int32, sessionID int64, passwd. Connect response: len, protocolVersion
// int32, timeOut int32, sessionID int64, passwd.
const (
	reqZxidAt   = 4 + 4
	respTimeout = 4 + 4
	respSID     = respTimeout + 4
	respMin     = respSID + 8
)

func (c *observedConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if !c.sent && len(b) >= reqZxidAt+8 {
		c.sent = true
		c.hs.lastZxid = int64(binary.BigEndian.Uint64(b[reqZxidAt:]))
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *observedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	if c.done || !c.sent {
		c.mu.Unlock()
		return n, err
	}
	c.resp = append(c.resp, b[:n]...)
	var report func(handshake)
	switch {
	case len(c.resp) >= respMin:
		c.hs.timeout = time.Duration(binary.BigEndian.Uint32(c.resp[respTimeout:])) * time.Millisecond
		c.hs.sid = int64(binary.BigEndian.Uint64(c.resp[respSID:]))
		c.done, c.resp, report = true, nil, c.w.answered
	case err != nil && closedByPeer(err):
		c.done, c.resp, report = true, nil, c.w.refused
	}
	hs := c.hs
	c.mu.Unlock()
	if report != nil {
		report(hs)
	}
	return n, err
}

// closedByPeer tells a server closing the connection from our own timeouts
// and closes.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
