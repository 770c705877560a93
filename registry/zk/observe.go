package zk

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// observer lets coordination recipes (locks, elections) follow the
// connection below the session watcher: every session event, the session
// timeout the server negotiated, and the time the last byte arrived from
// the server (the clock a local expiry must run on).
type observer struct {
	lastRead atomic.Int64 // unix nanoseconds

	// timeout reports the negotiated session timeout, which the session
	// watcher reads off the handshake on the wire.
	timeout func() time.Duration

	// connMu is held by Open while zk.Connect runs, so the event
	// callback never reads conn before it is set.
	connMu sync.Mutex
	conn   *zk.Conn

	mu        sync.Mutex
	listeners map[int]func(zk.Event, int64)
	next      int

	// dialer makes the connection the observer times (the host
	// provider's, which knows the current server list); nil dials
	// directly. go-zookeeper takes one dialer, so they are chained.
	dialer zk.Dialer
}

func newObserver(requested time.Duration) *observer {
	o := &observer{listeners: map[int]func(zk.Event, int64){}}
	o.timeout = func() time.Duration { return requested }
	o.lastRead.Store(time.Now().UnixNano())
	return o
}

// callback is go-zookeeper's event callback (chained after the session
// watcher's).
func (o *observer) callback(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	o.connMu.Lock()
	conn := o.conn
	o.connMu.Unlock()
	var sid int64
	if conn != nil {
		sid = conn.SessionID()
	}
	o.mu.Lock()
	ls := make([]func(zk.Event, int64), 0, len(o.listeners))
	for _, l := range o.listeners {
		ls = append(ls, l)
	}
	o.mu.Unlock()
	for _, l := range ls {
		l(ev, sid)
	}
}

// listen registers fn for every session event; the returned func removes it.
func (o *observer) listen(fn func(ev zk.Event, sid int64)) func() {
	o.mu.Lock()
	id := o.next
	o.next++
	o.listeners[id] = fn
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		delete(o.listeners, id)
		o.mu.Unlock()
	}
}

func (o *observer) Negotiated() time.Duration { return o.timeout() }
func (o *observer) LastRead() time.Time       { return time.Unix(0, o.lastRead.Load()) }

// dial is go-zookeeper's dialer, wrapping each connection to time reads.
func (o *observer) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	dial := o.dialer
	if dial == nil {
		dial = net.DialTimeout
	}
	c, err := dial(network, address, timeout)
	if err != nil {
		return nil, err
	}
	return &timedConn{Conn: c, o: o}, nil
}

type timedConn struct {
	net.Conn
	o *observer
	f replyFrames
}

func (c *timedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.f.feed(b[:n]) {
		c.o.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// replyFrames follows the frames the server sends (a 4-byte big-endian
// length, then the body) and tells replies from watch notifications: only a
// reply (xid != -1; the connect response, which has no xid, counts too)
// proves the server heard from us recently, so only a reply restarts the
// guard's clock. A server that can still push notifications but no longer
// hears us (a one-way partition) must not keep a hold alive.
type replyFrames struct {
	hdr    [8]byte // length + xid of the frame being read
	have   int     // bytes of hdr filled
	skip   int     // body bytes of the current frame still to pass over
	frames int     // frames seen (the first is the connect response)
	lost   bool    // out of step with the stream: every read counts
}

// feed consumes b and reports whether it completed the header of a reply.
func (f *replyFrames) feed(b []byte) bool {
	if f.lost {
		return true
	}
	reply := false
	for len(b) > 0 {
		if f.skip > 0 {
			n := min(f.skip, len(b))
			f.skip, b = f.skip-n, b[n:]
			continue
		}
		n := copy(f.hdr[f.have:], b)
		f.have, b = f.have+n, b[n:]
		if f.have < len(f.hdr) {
			continue
		}
		size := int(binary.BigEndian.Uint32(f.hdr[:4]))
		if size < 4 {
			f.lost = true
			return true
		}
		xid := int32(binary.BigEndian.Uint32(f.hdr[4:8]))
		reply = reply || f.frames == 0 || xid != -1
		f.frames++
		f.skip, f.have = size-4, 0
	}
	return reply
}
