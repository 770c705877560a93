package sdnotify_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/sdnotify"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestDaemonLifecycle: READY=1 (with STATUS) once, then STOPPING=1 the
// moment the daemon's context ends, over a real datagram socket, by path
// and in the abstract namespace.
func TestDaemonLifecycle(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run("abstract="+strconv.FormatBool(abstract), func(t *testing.T) {
			sock := testenv.ListenNotify(t, abstract)
			t.Setenv("NOTIFY_SOCKET", sock.Addr)
			t.Setenv("WATCHDOG_USEC", "")
			ctx, cancel := context.WithCancel(context.Background())
			d := sdnotify.Start(ctx, discard)
			d.Ready("serving")
			d.Ready("twice") // sent once only
			if got := sock.Next(t); got != "READY=1\nSTATUS=serving" {
				t.Fatalf("first message %q, want READY=1 with STATUS", got)
			}
			cancel()
			if got := sock.Next(t); got != "STOPPING=1" {
				t.Fatalf("after cancel: %q, want STOPPING=1", got)
			}
			d.Close()
		})
	}
}

// TestWatchdogKeepAlives: with WATCHDOG_USEC (and WATCHDOG_PID naming this
// process) the daemon sends WATCHDOG=1 repeatedly until closed; Close
// sends STOPPING=1 when the context never ended.
func TestWatchdogKeepAlives(t *testing.T) {
	sock := testenv.ListenNotify(t, false)
	t.Setenv("NOTIFY_SOCKET", sock.Addr)
	t.Setenv("WATCHDOG_USEC", "20000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	d := sdnotify.Start(context.Background(), discard)
	for i := 0; i < 3; i++ {
		if got := sock.Next(t); got != "WATCHDOG=1" {
			t.Fatalf("message %d: %q, want WATCHDOG=1", i, got)
		}
	}
	d.Close()
	if got := sock.Expect(t, "STOPPING=1"); len(got) == 0 {
		t.Fatal("no STOPPING=1")
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"", "", 0, false},
		{"30000000", "", 15 * time.Second, false},
		{"30000000", me, 15 * time.Second, false},
		{"30000000", "1", 0, false}, // meant for another process
		{"0", "", 0, true},
		{"soon", "", 0, true},
		{"30000000", "x", 0, true},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		got, err := sdnotify.WatchdogInterval()
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("USEC=%q PID=%q: %v, %v; want %v, error %v", tc.usec, tc.pid, got, err, tc.want, tc.err)
		}
	}
}

// TestWithoutSocket: no NOTIFY_SOCKET, nothing sent and nothing fails.
func TestWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := sdnotify.FromEnv()
	if n.Enabled() {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	if err := n.Ready(""); err != nil {
		t.Fatal(err)
	}
	d := sdnotify.Start(context.Background(), discard)
	d.Ready("")
	d.Close()
}
