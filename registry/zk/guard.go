package zk

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
)

// SafeFraction is the share of the NEGOTIATED session timeout a holder may
// go without hearing from ZooKeeper before it declares its lock (or
// leadership) lost: one half.
//
// Why one half: the server expires a session one session timeout after it
// last heard from the client, and the grant to the next holder can follow
// at once. go-zookeeper pings every third of the timeout when idle, so a
// healthy connection never goes longer than a third (plus a round trip)
// without a reply; one half leaves room for a slow reply without false
// alarms. And the clock starts at the last reply READ from the server (see
// replyFrames: a watch notification does not count), not at
// the disconnect event (go-zookeeper only notices a silent partition two
// thirds of the timeout after the last read, too late to start a timer
// then). That leaves the other half of the timeout for stopping the child:
// KillBudget says how much of it a stop may spend before SIGKILL.
const SafeFraction = 0.5

// KillBudget is how long a stop caused by a lost session may wait between
// SIGTERM and SIGKILL: a quarter of the negotiated timeout, so the child is
// dead by three quarters of it, a quarter before the server can expire the
// session.
func KillBudget(negotiated time.Duration) time.Duration { return negotiated / 4 }

// guard watches one session on behalf of one Hold and closes lost when the
// Hold must be assumed gone: the session expired or was replaced, or
// nothing was read from the server for SafeFraction of the negotiated
// session timeout. It is fed by the connection's state events (event) and
// reads the time of the last reply received through lastRead.
type guard struct {
	sid        int64
	lastRead   func() time.Time
	negotiated func() time.Duration

	mu     sync.Mutex
	timer  *time.Timer
	lost   chan struct{}
	reason error
}

// newGuard starts guarding session sid. negotiated reports the session
// timeout the server granted; lastRead reports when the connection last
// received anything.
func newGuard(sid int64, negotiated func() time.Duration, lastRead func() time.Time) *guard {
	g := &guard{sid: sid, lastRead: lastRead, negotiated: negotiated, lost: make(chan struct{})}
	g.mu.Lock()
	g.arm()
	g.mu.Unlock()
	return g
}

// arm sets the timer to the moment the last read becomes too old.
// Called with mu held.
func (g *guard) arm() {
	if g.reason != nil {
		return
	}
	limit := time.Duration(float64(g.negotiated()) * SafeFraction)
	wait := time.Until(g.lastRead().Add(limit))
	if wait <= 0 {
		g.fail(fmt.Errorf("%w: no reply from zookeeper for more than %v (%v of the negotiated session timeout %v)",
			coord.ErrDisconnected, limit, SafeFraction, g.negotiated()))
		return
	}
	g.timer = time.AfterFunc(wait, g.check)
}

func (g *guard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.arm()
}

// event feeds a session event of the connection: expiry, or a session that
// is not ours, is a loss at once.
func (g *guard) event(ev zk.Event, sid int64) {
	if ev.Type != zk.EventSession {
		return
	}
	switch {
	case ev.State == zk.StateExpired:
		g.Fail(coord.ErrSessionExpired)
	case ev.State == zk.StateHasSession && sid != g.sid:
		g.Fail(fmt.Errorf("%w: new session 0x%x replaced 0x%x", coord.ErrSessionExpired, sid, g.sid))
	}
}

// Fail declares the Hold lost for reason (first reason wins).
func (g *guard) Fail(reason error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail(reason)
}

func (g *guard) fail(reason error) {
	if g.reason != nil {
		return
	}
	g.reason = reason
	if g.timer != nil {
		g.timer.Stop()
	}
	close(g.lost)
}

// Lost is closed when the Hold must be assumed gone.
func (g *guard) Lost() <-chan struct{} { return g.lost }

// Reason is why Lost was closed (nil before).
func (g *guard) Reason() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reason
}

// guardSession starts a guard for session sid on r's connection, fed by its
// events; stop detaches it (and must be called once the hold is over). A
// session that changed before the guard was attached is a loss at once.
// Locks and elections use it the same way.
func (r *Registry) guardSession(sid int64) (g *guard, stop func()) {
	g = newGuard(sid, r.obs.Negotiated, r.obs.LastRead)
	stop = r.obs.listen(g.event)
	if r.conn.SessionID() != sid {
		g.Fail(fmt.Errorf("%w: session changed while acquiring", coord.ErrSessionExpired))
	}
	return g, stop
}
