package zk

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// sessionWatcher follows the connection's session events. It
//   - lets Open wait for the first session,
//   - re-runs reconcile (re-register everything) after every (re)connect,
//     which is how a provider survives session expiry without duplicates,
//   - presumes registrations lost when the client has been disconnected for
//     longer than the session timeout, as Mesos does: it does not wait for
//     the server to say so, because a partitioned client may never hear it,
//   - tells subscribers (watches) to re-list after every reconnect.
type sessionWatcher struct {
	log       *slog.Logger
	timeout   time.Duration
	reconcile func(ctx context.Context) error

	mu           sync.Mutex
	conn         *zk.Conn
	sid          int64
	hasSession   bool
	presumedLost bool
	lostTimer    *time.Timer
	ready        chan struct{} // closed at the first session
	readyClosed  bool
	subs         map[chan struct{}]struct{}

	// reconciles counts finished reconcile runs (tests wait on it).
	reconciles atomic.Int64

	kick chan struct{}
	done chan struct{}
	once sync.Once
}

func newSessionWatcher(log *slog.Logger, timeout time.Duration, reconcile func(context.Context) error) *sessionWatcher {
	return &sessionWatcher{
		log:       log,
		timeout:   timeout,
		reconcile: reconcile,
		ready:     make(chan struct{}),
		subs:      map[chan struct{}]struct{}{},
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

func (s *sessionWatcher) run(conn *zk.Conn, events <-chan zk.Event) {
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	go s.reconcileLoop()
	for ev := range events {
		if ev.Type != zk.EventSession {
			continue
		}
		switch ev.State {
		case zk.StateHasSession:
			s.onSession(conn.SessionID(), ev.Server)
		case zk.StateDisconnected:
			s.onDisconnect()
		case zk.StateExpired:
			s.log.Warn("zookeeper session expired; providers will be re-registered on a new session")
			s.onDisconnect()
		}
	}
}

func (s *sessionWatcher) onSession(sid int64, server string) {
	s.mu.Lock()
	prev, wasLost := s.sid, s.presumedLost
	s.sid, s.hasSession, s.presumedLost = sid, true, false
	if s.lostTimer != nil {
		s.lostTimer.Stop()
		s.lostTimer = nil
	}
	if !s.readyClosed {
		close(s.ready)
		s.readyClosed = true
	}
	subs := make([]chan struct{}, 0, len(s.subs))
	for c := range s.subs {
		subs = append(subs, c)
	}
	s.mu.Unlock()

	switch {
	case prev == 0:
		s.log.Debug("zookeeper session established", "server", server, "session", fmt.Sprintf("0x%x", sid))
	case prev != sid:
		s.log.Warn("new zookeeper session; re-registering", "server", server,
			"session", fmt.Sprintf("0x%x", sid), "previous", fmt.Sprintf("0x%x", prev))
	case wasLost:
		s.log.Info("reconnected to zookeeper with the same session", "server", server)
	default:
		s.log.Debug("reconnected to zookeeper", "server", server)
	}
	for _, c := range subs {
		notify(c)
	}
	notify(s.kick)
}

func (s *sessionWatcher) onDisconnect() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done: // closed by us: nothing is lost
		return
	default:
	}
	if !s.hasSession {
		return
	}
	s.hasSession = false
	s.lostTimer = time.AfterFunc(s.timeout, func() {
		s.mu.Lock()
		lost := !s.hasSession
		s.presumedLost = lost
		s.mu.Unlock()
		if lost {
			s.log.Warn("disconnected from zookeeper for longer than the session timeout; registrations presumed lost until reconnected",
				"session_timeout", s.timeout)
		}
	})
}

// reconcileLoop runs reconcile after each new session, one at a time, and
// retries a failed run while the session lasts.
func (s *sessionWatcher) reconcileLoop() {
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
			err := s.reconcile(ctx)
			cancel()
			s.reconciles.Add(1)
			if err == nil || !s.connected() {
				break
			}
			s.log.Warn("re-registration failed; retrying", "err", err)
			select {
			case <-s.done:
				return
			case <-time.After(time.Second):
			}
		}
	}
}

func (s *sessionWatcher) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hasSession
}

// PresumedLost reports whether the client has been cut off for longer than
// the session timeout.
func (s *sessionWatcher) PresumedLost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presumedLost
}

func (s *sessionWatcher) waitSession(ctx context.Context) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// subscribe returns a channel signalled after every (re)connect.
func (s *sessionWatcher) subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	return c, func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}
}

func (s *sessionWatcher) stop() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		if s.lostTimer != nil {
			s.lostTimer.Stop()
		}
		s.mu.Unlock()
	})
}

// notify does a non-blocking send: one pending signal stands for many.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
