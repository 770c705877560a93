package coord

import (
	"context"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// Elector runs leader elections: any number of contenders join a group, at
// most one of them leads at a time. Each backend implements it next to its
// registry code, on the same session.
type Elector interface {
	// Campaign joins group as me (a provider without Service; the group
	// stands in for it) within ctx, and returns once the candidacy is
	// written. The candidacy then stays up, re-joining after a session
	// loss, until it is resigned or the registry is closed.
	Campaign(ctx context.Context, group string, me registry.Provider) (Candidacy, error)
}

// Candidacy is one contender's membership of an election.
type Candidacy interface {
	// Terms receives a Term each time this contender becomes the leader.
	// A term lasts until its Lost channel closes; the next Term is sent
	// only after the previous one ended. The channel is closed when the
	// candidacy ends.
	Terms() <-chan *Term
	// Done is closed when the candidacy has ended (resigned, or the
	// registry closed, see Err). Any term has ended by then.
	Done() <-chan struct{}
	// Err says why the candidacy ended: nil after Resign.
	Err() error
	// Resign ends the current term (if any) and removes the candidacy from
	// the election, so the next contender leads at once instead of after a
	// session timeout.
	Resign(ctx context.Context) error
}

// ValidateContender checks a contender before it joins group. Unlike a
// provider, a contender may have no port (0): a singleton job serves
// nothing.
func ValidateContender(group string, p registry.Provider) error {
	if err := ValidateGroup(group); err != nil {
		return err
	}
	if p.Port == 0 {
		p.Port = 1 // only the range is checked
	}
	p.Service = group
	return p.Validate()
}

// Term is one period of leadership, a Hold like a lock's: a fencing token
// that strictly increases from one leader to the next, and a channel closed
// when the leader must assume it no longer leads.
type Term struct {
	token   int64
	lost    chan struct{}
	release func(context.Context) error
	budget  func() time.Duration

	once   sync.Once
	mu     sync.Mutex
	reason error
}

// NewTerm starts a term with the given fencing token. release steps down
// (Release calls it). Backends call NewTerm.
func NewTerm(token int64, release func(context.Context) error) *Term {
	return &Term{token: token, lost: make(chan struct{}), release: release}
}

// Release steps down: the candidacy is resigned, so another contender
// leads at once. Releasing an ended term is not an error.
func (t *Term) Release(ctx context.Context) error {
	if t.release == nil {
		return nil
	}
	return t.release(ctx)
}

// WithKillBudget sets how long a command stopped because the term was lost
// may take between SIGTERM and SIGKILL (the part of the session timeout
// left after the holder noticed). Backends call it before handing the term
// out.
func (t *Term) WithKillBudget(budget func() time.Duration) *Term {
	t.budget = budget
	return t
}

// KillBudget is the budget set by WithKillBudget, 0 when there is none.
func (t *Term) KillBudget() time.Duration {
	if t.budget == nil {
		return 0
	}
	return t.budget()
}

// Token is the term's fencing token (ZooKeeper: the czxid of the leader's
// member znode; Consul: the lock index of the election key).
func (t *Term) Token() int64 { return t.token }

// Lost is closed when the term ends.
func (t *Term) Lost() <-chan struct{} { return t.lost }

// LostReason says why the term ended, nil while it lasts.
func (t *Term) LostReason() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reason
}

// End ends the term with reason (the first reason wins). Backends call it;
// calling it again does nothing.
func (t *Term) End(reason error) {
	t.once.Do(func() {
		t.mu.Lock()
		t.reason = reason
		t.mu.Unlock()
		close(t.lost)
	})
}

// Ended reports whether the term is over.
func (t *Term) Ended() bool {
	select {
	case <-t.lost:
		return true
	default:
		return false
	}
}
