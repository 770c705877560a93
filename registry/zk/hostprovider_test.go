package zk

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// listen accepts connections on a loopback port and hands them over.
func listen(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			conns <- c
		}
	}()
	return ln.Addr().String(), conns
}

func newHP(timeout time.Duration) *hostProvider {
	return &hostProvider{sessionTimeout: timeout, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestUpdateServersMovesOnlyOffADelistedServer(t *testing.T) {
	addr, conns := listen(t)
	other := "127.0.0.1:1"
	hp := newHP(time.Minute)
	if err := hp.Init([]string{addr}); err != nil {
		t.Fatal(err)
	}
	c, err := hp.dial("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hp.Connected()
	server := <-conns

	if dropped := hp.update([]string{addr, other}); dropped != "" {
		t.Fatalf("update keeping %s dropped %q", addr, dropped)
	}
	if hp.Len() != 2 {
		t.Fatalf("Len = %d after growing to 2", hp.Len())
	}
	if dropped := hp.update([]string{other}); dropped != addr {
		t.Fatalf("update without %s dropped %q", addr, dropped)
	}
	// The server side sees the connection closed.
	if _, err := server.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("server read after the drop: %v, want EOF", err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("client connection still writable after the drop")
	}
	if s, _ := hp.Next(); s != other {
		t.Fatalf("Next = %s, want %s", s, other)
	}
	if _, err := hp.dial("tcp", addr, time.Second); !errors.Is(err, errDelisted) {
		t.Fatalf("dial to a delisted server: %v, want errDelisted", err)
	}
}

func TestRefusedSessionAfterAMoveIsDeclaredExpired(t *testing.T) {
	addr, _ := listen(t)
	refuse := func(hp *hostProvider) {
		t.Helper()
		c, err := hp.dial("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.(*trackedConn); !ok {
			t.Fatalf("dial returned %T, want a real connection", c)
		}
		c.Close() // closed before a handshake was accepted
	}

	// Without a move, refusals are waited out (an ensemble without quorum).
	hp := newHP(-1)
	if err := hp.Init([]string{addr}); err != nil {
		t.Fatal(err)
	}
	refuse(hp)
	refuse(hp)
	refuse(hp) // still a real dial: refuse checks

	// After a move (away from addr and back, dropping the connection): the
	// next dial after the session timeout answers "expired" (here the
	// timeout is already over).
	if dropped := hp.update([]string{"127.0.0.1:1"}); dropped != addr {
		t.Fatalf("dropped %q, want %s", dropped, addr)
	}
	hp.update([]string{addr})
	refuse(hp)
	c, err := hp.dial("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("connect request")); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(reply) != 4+36 || binary.BigEndian.Uint32(reply) != 36 {
		t.Fatalf("reply %x: want a 36-byte connect response", reply)
	}
	if sid := binary.BigEndian.Uint64(reply[4+8:]); sid != 0 {
		t.Fatalf("session id %x, want 0 (expired)", sid)
	}
	// Once: the following dial is a real one again.
	refuse(hp)
}
