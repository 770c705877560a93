package testenv

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NotifySocket is a real unix datagram socket standing in for systemd's
// $NOTIFY_SOCKET: what a daemon sends with sd_notify arrives here.
type NotifySocket struct {
	// Addr is the value for NOTIFY_SOCKET (a path, or "@name" for the
	// abstract namespace).
	Addr string
	conn *net.UnixConn
}

// ListenNotify opens a NotifySocket, abstract ("@…") or in a temporary
// directory, closed at the end of t.
func ListenNotify(t testing.TB, abstract bool) *NotifySocket {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = "@svcdisco-test-" + filepath.Base(filepath.Dir(name))
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("notify socket %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return &NotifySocket{Addr: name, conn: c}
}

// Env is the environment entry that points a daemon at s.
func (s *NotifySocket) Env() string { return "NOTIFY_SOCKET=" + s.Addr }

// Next waits for the next datagram. The deadline only stops a test whose
// daemon never sends; it does not bound how fast it does.
func (s *NotifySocket) Next(t testing.TB) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := s.conn.SetReadDeadline(time.Now().Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, _, err := s.conn.ReadFromUnix(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("no sd_notify message within 60s")
	}
	if err != nil {
		t.Fatalf("notify socket: %v", err)
	}
	return string(buf[:n])
}

// Expect waits for a datagram carrying the line want (e.g. "READY=1"),
// skipping others (WATCHDOG=1 keep-alives), and returns every datagram
// read, that one last.
func (s *NotifySocket) Expect(t testing.TB, want string) []string {
	t.Helper()
	var got []string
	for {
		msg := s.Next(t)
		got = append(got, msg)
		for _, l := range strings.Split(msg, "\n") {
			if l == want {
				return got
			}
		}
	}
}
