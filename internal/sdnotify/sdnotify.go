// Package sdnotify tells systemd how a daemon is doing, over the datagram
// socket systemd names in $NOTIFY_SOCKET (sd_notify(3)): READY=1 once the
// daemon does its job, STOPPING=1 when it begins to shut down, and
// WATCHDOG=1 keep-alives when the unit sets WatchdogSec=.
//
// It is a few lines of our own rather than a library: the protocol is one
// sendto(2) of "KEY=VALUE" lines to a unix datagram socket, whose name
// starts with '@' for the abstract namespace (Go's net package maps '@' to
// the leading NUL itself). Without $NOTIFY_SOCKET every call is a no-op,
// so a daemon run by hand or by another supervisor behaves as before.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// Notifier sends states to systemd. The zero value and nil are valid and
// send nothing.
type Notifier struct {
	addr string // $NOTIFY_SOCKET; "" when not run by systemd

	mu   sync.Mutex
	conn *net.UnixConn
}

// FromEnv is the Notifier for $NOTIFY_SOCKET (sending nothing when unset).
func FromEnv() *Notifier { return &Notifier{addr: os.Getenv("NOTIFY_SOCKET")} }

// Enabled says whether states go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != "" }

// Send sends one notification, e.g. "READY=1" or "STATUS=…\nREADY=1".
func (n *Notifier) Send(state string) error {
	if !n.Enabled() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.addr, Net: "unixgram"})
		if err != nil {
			return fmt.Errorf("sd_notify: connect %s: %w", n.addr, err)
		}
		n.conn = c
	}
	if _, err := n.conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr, err)
	}
	return nil
}

// Ready says the daemon is up (Type=notify units start on it); status,
// when not empty, is shown by systemctl status.
func (n *Notifier) Ready(status string) error {
	if status != "" {
		return n.Send("READY=1\nSTATUS=" + status)
	}
	return n.Send("READY=1")
}

// Stopping says the daemon began shutting down (deregistering).
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

// Close releases the socket.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close()
	n.conn = nil
	return err
}

// WatchdogInterval is how often to send WATCHDOG=1: half of
// $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises. It is 0 when the
// watchdog is off, or meant for another process ($WATCHDOG_PID names a
// different PID). A malformed value is an error.
func WatchdogInterval() (time.Duration, error) {
	usec := os.Getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil || p <= 0 {
			return 0, fmt.Errorf("invalid WATCHDOG_PID %q: want a process ID", pid)
		}
		if p != os.Getpid() {
			return 0, nil
		}
	}
	u, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || u == 0 {
		return 0, fmt.Errorf("invalid WATCHDOG_USEC %q: want a positive number of microseconds", usec)
	}
	return time.Duration(u) * time.Microsecond / 2, nil
}

// Watchdog sends WATCHDOG=1 every interval until ctx ends. It returns at
// once when interval is not positive or nothing listens.
func (n *Notifier) Watchdog(ctx context.Context, interval time.Duration, onErr func(error)) {
	if !n.Enabled() || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := n.Send("WATCHDOG=1"); err != nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
