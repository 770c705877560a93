package testzk

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy in front of a server that a test can cut off, to
// simulate a network partition for the clients that connect through it.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	cut     bool
	conns   map[net.Conn]struct{}
	stopped bool
	frozen  bool
	thawed  *sync.Cond    // broadcast when frozen is cleared or the proxy stops
	ops     map[int32]int // requests seen, by ZooKeeper opcode
}

// ZooKeeper request opcodes, for Ops.
const (
	OpExists       int32 = 3
	OpGetData      int32 = 4
	OpSetData      int32 = 5
	OpGetChildren  int32 = 8
	OpGetChildren2 int32 = 12
	OpCreate       int32 = 1
	OpDelete       int32 = 2
	OpPing         int32 = 11
	OpMulti        int32 = 14
)

// NewProxy listens on a free 127.0.0.1 port and forwards to target.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, ops: map[int32]int{}}
	p.thawed = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// Addr is where clients should connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Partition drops every open connection and black-holes new ones (accepted,
// never answered), as a network partition looks to a client.
func (p *Proxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Heal forwards new connections again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for c := range p.conns { // black-holed ones: let the client retry
		c.Close()
	}
}

// Freeze holds every byte in both directions while keeping the
// connections open, as a frozen server looks to its clients. Unlike
// SIGSTOP, it takes effect at once: a request sent after Freeze returns
// reaches the server only after Thaw, in order.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// Thaw forwards what Freeze held, then everything after it.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	p.frozen = false
	p.thawed.Broadcast()
	p.mu.Unlock()
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.stopped = true
	p.frozen = false
	p.thawed.Broadcast()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			continue // held open, never answered, until Heal or Close
		}
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	defer p.untrack(c)
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(s) {
		return
	}
	defer p.untrack(s)
	done := make(chan struct{}, 2)
	go func() { io.Copy(gate{s, p}, &opCounter{r: c, p: p}); done <- struct{}{} }()
	go func() { io.Copy(gate{c, p}, s); done <- struct{}{} }()
	<-done
}

// gate is a writer that blocks while the proxy is frozen.
type gate struct {
	w io.Writer
	p *Proxy
}

func (g gate) Write(b []byte) (int, error) {
	g.p.mu.Lock()
	for g.p.frozen {
		g.p.thawed.Wait()
	}
	g.p.mu.Unlock()
	return g.w.Write(b)
}

// Ops returns how many requests of each opcode clients sent through the
// proxy, so a test can prove how many round trips an operation costs.
func (p *Proxy) Ops() map[int32]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int32]int, len(p.ops))
	for k, v := range p.ops {
		out[k] = v
	}
	return out
}

// ResetOps clears the counters.
func (p *Proxy) ResetOps() {
	p.mu.Lock()
	p.ops = map[int32]int{}
	p.mu.Unlock()
}

// opCounter reads the client's stream and counts request opcodes. ZooKeeper
// frames are a 4-byte big-endian length then the body; after the connect
// request (which has no header) every body starts with xid and opcode.
type opCounter struct {
	r         io.Reader
	p         *Proxy
	buf       []byte
	connected bool
}

func (o *opCounter) Read(b []byte) (int, error) {
	n, err := o.r.Read(b)
	o.buf = append(o.buf, b[:n]...)
	for len(o.buf) >= 4 {
		size := int(binary.BigEndian.Uint32(o.buf))
		if len(o.buf) < 4+size {
			break
		}
		body := o.buf[4 : 4+size]
		if o.connected && size >= 8 {
			op := int32(binary.BigEndian.Uint32(body[4:8]))
			o.p.mu.Lock()
			o.p.ops[op]++
			o.p.mu.Unlock()
		}
		o.connected = true
		o.buf = o.buf[4+size:]
	}
	return n, err
}
