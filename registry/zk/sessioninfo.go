package zk

import (
	"context"
	"sync"
	"time"
)

// SessionState is a change in the Registry's ZooKeeper session, as
// SessionEvents reports it. Coordination recipes (locks, elections) built on
// the Registry's session act on these: a holder must stop acting as holder
// on SessionPresumedLost at the latest, and everything it created is gone
// when a SessionConnected event carries a new session ID.
type SessionState int

const (
	// SessionConnected: the client has a session, new (ID changed) or the
	// same one after a reconnect.
	SessionConnected SessionState = iota + 1
	// SessionDisconnected: the connection dropped; the session may live on.
	SessionDisconnected
	// SessionExpired: the server said the session is gone.
	SessionExpired
	// SessionPresumedLost: disconnected for longer than the negotiated
	// session timeout; the server has most likely expired the session.
	SessionPresumedLost
	// SessionClosed: the Registry was closed; the last event.
	SessionClosed
)

func (s SessionState) String() string {
	switch s {
	case SessionConnected:
		return "connected"
	case SessionDisconnected:
		return "disconnected"
	case SessionExpired:
		return "expired"
	case SessionPresumedLost:
		return "presumed-lost"
	case SessionClosed:
		return "closed"
	}
	return "unknown"
}

// Session describes the Registry's ZooKeeper session at one moment.
type Session struct {
	ID           int64         // 0 before the first session
	Timeout      time.Duration // negotiated with the server (the requested one until then)
	Connected    bool          // the client has a live connection with the session
	PresumedLost bool          // disconnected for longer than Timeout
}

// SessionEvent is one change of the session: what happened, and the
// session as it was right after.
type SessionEvent struct {
	State   SessionState
	Session Session
}

// Session returns the current state of the session.
func (r *Registry) Session() Session { return r.session.snapshot() }

// SessionEvents reports every session change, in order and without loss
// (the queue behind the channel grows rather than drop an event), until ctx
// ends or the Registry is closed; then the channel is closed. The first
// event is the state at the time of the call (SessionConnected or
// SessionDisconnected), so a subscriber never misses the starting point.
func (r *Registry) SessionEvents(ctx context.Context) <-chan SessionEvent {
	return r.session.listen(ctx)
}

func (s *sessionWatcher) snapshot() Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

func (s *sessionWatcher) snapshotLocked() Session {
	return Session{ID: s.sid, Timeout: s.negotiated, Connected: s.hasSession, PresumedLost: s.presumedLost}
}

// publishLocked tells every listener; called with s.mu held, in the same
// critical section as the change, so a listener subscribing concurrently
// sees either the old state and then the event, or the new state alone.
func (s *sessionWatcher) publishLocked(state SessionState) {
	ev := SessionEvent{State: state, Session: s.snapshotLocked()}
	for l := range s.listeners {
		l.push(ev)
	}
}

func (s *sessionWatcher) listen(ctx context.Context) <-chan SessionEvent {
	l := &listener{out: make(chan SessionEvent), wake: make(chan struct{}, 1), closed: make(chan struct{})}
	s.mu.Lock()
	first := SessionEvent{State: SessionDisconnected, Session: s.snapshotLocked()}
	if first.Session.Connected {
		first.State = SessionConnected
	}
	l.push(first)
	if s.stopped() {
		l.push(SessionEvent{State: SessionClosed, Session: first.Session})
		l.close()
	} else {
		s.listeners[l] = struct{}{}
	}
	s.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-l.closed: // the Registry was closed
			return
		}
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.close()
	}()
	go l.pump(ctx)
	return l.out
}

// listener is one SessionEvents subscriber: an unbounded queue drained by
// its own goroutine, so a slow reader never blocks the session.
type listener struct {
	out    chan SessionEvent
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	queue []SessionEvent
}

func (l *listener) push(ev SessionEvent) {
	l.mu.Lock()
	l.queue = append(l.queue, ev)
	l.mu.Unlock()
	notify(l.wake)
}

func (l *listener) close() { l.once.Do(func() { close(l.closed) }) }

func (l *listener) pump(ctx context.Context) {
	defer close(l.out)
	for {
		l.mu.Lock()
		q := l.queue
		l.queue = nil
		l.mu.Unlock()
		for _, ev := range q {
			select {
			case l.out <- ev:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-l.wake:
		case <-l.closed:
			l.mu.Lock()
			rest := len(l.queue)
			l.mu.Unlock()
			if rest == 0 {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
