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

// sessionWatcher follows the connection's session. It
//   - lets Open wait for the first session,
//   - re-runs reconcile (re-register everything) after every (re)connect,
//     which is how a provider survives session expiry without duplicates,
//     and again every reconcileEvery as a safety net,
//   - presumes registrations lost when the client has been disconnected for
//     longer than the NEGOTIATED session timeout, as Mesos does: it does not
//     wait for the server to say so, because a partitioned client may never
//     hear it,
//   - starts a fresh connection when the servers are up but keep refusing
//     the session (see refused),
//   - tells subscribers (watches, SessionEvents) about every change.
//
// Events come from go-zookeeper's event callback, which runs on
// go-zookeeper's own goroutines: the callback only appends to a queue that
// one goroutine works through, so nothing is dropped and go-zookeeper is
// never blocked (its 6-slot event channel drops events when full, which a
// session expiry with many watches does).
type sessionWatcher struct {
	log            *slog.Logger
	requested      time.Duration
	reconcileEvery time.Duration
	servers        int
	reconcile      func(ctx context.Context) error
	renew          func(reason string) // start a fresh connection

	mu           sync.Mutex
	gen          int // connection generation; events of older ones are ignored
	queue        []sessionEvent
	hs           handshake // the last answered handshake of generation gen
	sid          int64
	negotiated   time.Duration
	hasSession   bool
	presumedLost bool
	refusals     int // handshakes refused since the last session
	lostTimer    *time.Timer
	ready        chan struct{} // closed at the first session
	readyClosed  bool
	subs         map[chan struct{}]struct{}
	listeners    map[*listener]struct{}

	// reconciles counts finished reconcile runs (tests wait on it).
	reconciles atomic.Int64

	wake chan struct{}
	kick chan struct{}
	done chan struct{}
	once sync.Once
}

// reconcileTimeout is the least time one reconcile run is given.
const reconcileTimeout = 30 * time.Second

type eventKind int

const (
	evState   eventKind = iota // a go-zookeeper session state
	evRefused                  // a server closed the connection unanswered
	evLost                     // the presumed-lost timer fired
)

type sessionEvent struct {
	gen    int
	kind   eventKind
	state  zk.State
	server string
	hs     handshake
}

func newSessionWatcher(log *slog.Logger, o Options, reconcile func(context.Context) error) *sessionWatcher {
	return &sessionWatcher{
		log:            log,
		requested:      o.SessionTimeout,
		negotiated:     o.SessionTimeout,
		reconcileEvery: o.ReconcileEvery,
		servers:        len(o.Servers),
		reconcile:      reconcile,
		ready:          make(chan struct{}),
		subs:           map[chan struct{}]struct{}{},
		listeners:      map[*listener]struct{}{},
		wake:           make(chan struct{}, 1),
		kick:           make(chan struct{}, 1),
		done:           make(chan struct{}),
	}
}

// start runs the event and reconcile loops.
func (s *sessionWatcher) start() {
	go s.eventLoop()
	go s.reconcileLoop()
}

// newGeneration is called before a connection is made: its callbacks carry
// the generation so that late events of a replaced connection are ignored.
func (s *sessionWatcher) newGeneration() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.refusals = 0
	return s.gen
}

// callbacks returns the event callback and the wire observer hooks of
// generation gen. They never block.
func (s *sessionWatcher) callbacks(gen int) (zk.EventCallback, func(handshake), func(handshake)) {
	onEvent := func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		s.mu.Lock()
		s.post(sessionEvent{gen: gen, kind: evState, state: ev.State, server: ev.Server, hs: s.hs})
		s.mu.Unlock()
	}
	answered := func(hs handshake) {
		s.mu.Lock()
		if gen == s.gen {
			s.hs = hs
		}
		s.mu.Unlock()
	}
	refused := func(hs handshake) {
		s.mu.Lock()
		s.post(sessionEvent{gen: gen, kind: evRefused, hs: hs})
		s.mu.Unlock()
	}
	return onEvent, answered, refused
}

// post queues an event; called with s.mu held.
func (s *sessionWatcher) post(ev sessionEvent) {
	s.queue = append(s.queue, ev)
	notify(s.wake)
}

func (s *sessionWatcher) eventLoop() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, ev := range q {
			s.handle(ev)
		}
	}
}

func (s *sessionWatcher) handle(ev sessionEvent) {
	s.mu.Lock()
	current := ev.gen == s.gen
	s.mu.Unlock()
	if !current {
		return
	}
	switch ev.kind {
	case evLost:
		s.onLost()
	case evRefused:
		s.onRefused(ev.hs)
	case evState:
		switch ev.state {
		case zk.StateHasSession:
			s.onSession(ev.hs, ev.server)
		case zk.StateDisconnected:
			s.onDisconnect(SessionDisconnected)
		case zk.StateExpired:
			s.log.Warn("zookeeper session expired; providers will be re-registered on a new session")
			s.onDisconnect(SessionExpired)
		}
	}
}

func (s *sessionWatcher) onSession(hs handshake, server string) {
	s.mu.Lock()
	prev, wasLost := s.sid, s.presumedLost
	s.sid, s.hasSession, s.presumedLost, s.refusals = hs.sid, true, false, 0
	if hs.timeout > 0 {
		s.negotiated = hs.timeout
	}
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
	s.publishLocked(SessionConnected)
	s.mu.Unlock()

	sess := fmt.Sprintf("0x%x", hs.sid)
	switch {
	case prev == 0:
		s.log.Debug("zookeeper session established", "server", server, "session", sess, "timeout", hs.timeout)
	case prev != hs.sid:
		s.log.Warn("new zookeeper session; re-registering", "server", server,
			"session", sess, "previous", fmt.Sprintf("0x%x", prev))
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

func (s *sessionWatcher) onDisconnect(state SessionState) {
	s.mu.Lock()
	if s.stopped() || !s.hasSession {
		if state == SessionExpired && !s.stopped() {
			s.publishLocked(state) // told on reconnecting: everything of the session is gone
		}
		s.mu.Unlock()
		return
	}
	s.hasSession = false
	gen, timeout := s.gen, s.negotiated
	s.lostTimer = time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.post(sessionEvent{gen: gen, kind: evLost})
		s.mu.Unlock()
	})
	s.publishLocked(state)
	s.mu.Unlock()
}

func (s *sessionWatcher) onLost() {
	s.mu.Lock()
	if s.hasSession || s.presumedLost {
		s.mu.Unlock()
		return
	}
	s.presumedLost = true
	timeout := s.negotiated
	s.publishLocked(SessionPresumedLost)
	s.mu.Unlock()
	s.log.Warn("disconnected from zookeeper for longer than the session timeout; registrations presumed lost until reconnected",
		"session_timeout", timeout)
	s.maybeRenew()
}

// onRefused counts a server closing the connection without answering our
// session request. ZooKeeper does that when the client has seen a newer
// zxid than the server has: after a server's data was wiped (rebuilt at
// the same address), the client would otherwise be refused for ever. While
// disconnected the session is presumed lost anyway, so once max(3, number
// of servers) handshakes in a row that carried a non-zero zxid were
// refused, a fresh connection (zxid 0, new session) costs nothing more and
// gets the providers back. A fresh connection's handshakes carry zxid 0
// and never count, so a server that refuses everyone (not serving, no
// quorum) cannot make the client renew in a loop.
func (s *sessionWatcher) onRefused(hs handshake) {
	s.mu.Lock()
	if hs.lastZxid != 0 {
		s.refusals++
	}
	s.mu.Unlock()
	s.maybeRenew()
}

func (s *sessionWatcher) maybeRenew() {
	s.mu.Lock()
	need := max(3, s.servers)
	ok := s.presumedLost && !s.hasSession && s.refusals >= need && !s.stopped()
	n := s.refusals
	s.mu.Unlock()
	if !ok {
		return
	}
	reason := fmt.Sprintf("zookeeper accepts connections but closed %d session handshakes unanswered; "+
		"the server may have lost its data (the client has seen a newer zxid than it has)", n)
	s.log.Warn("starting a fresh zookeeper connection: "+reason, "refusals", n)
	s.renew(reason)
}

// reconcileLoop runs reconcile after each new session and every
// reconcileEvery, one at a time, and retries a failed run while the
// session lasts.
func (s *sessionWatcher) reconcileLoop() {
	tick := time.NewTicker(s.reconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.kick:
		case <-tick.C:
			if !s.connected() {
				continue
			}
		}
		for {
			// Bounded so a run cannot hang on a dead connection, but not
			// by the session timeout: re-creating many providers on a
			// loaded machine can take longer than a short session.
			ctx, cancel := context.WithTimeout(context.Background(), max(s.timeout(), reconcileTimeout))
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

func (s *sessionWatcher) timeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.negotiated
}

// PresumedLost reports whether the client has been cut off for longer than
// the negotiated session timeout.
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

// stopped reports whether stop was called; with or without s.mu held.
func (s *sessionWatcher) stopped() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *sessionWatcher) stop() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		if s.lostTimer != nil {
			s.lostTimer.Stop()
		}
		ls := s.listeners
		s.listeners = map[*listener]struct{}{}
		s.mu.Unlock()
		for l := range ls {
			l.push(SessionEvent{State: SessionClosed})
			l.close()
		}
	})
}

// notify does a non-blocking send: one pending signal stands for many.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
