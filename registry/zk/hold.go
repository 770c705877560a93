package zk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/zkcall"
)

// zkHold is a held ZooKeeper lock: our lock node, watched for deletion
// and re-confirmed after every reconnect, on a session guarded against
// silent partitions (guard).
type zkHold struct {
	r     *Registry
	name  string
	node  string
	token int64
	g     *guard

	unlisten func()
	stop     chan struct{}
	once     sync.Once
}

func (r *Registry) newHold(name, node string, czxid, sid int64) *zkHold {
	h := &zkHold{r: r, name: name, node: node, token: czxid, stop: make(chan struct{})}
	h.g, h.unlisten = r.guardSession(sid)
	go h.watch()
	r.log.Info("lock acquired", "lock", name, "node", node, "token", czxid,
		"negotiated_session_timeout", r.obs.Negotiated())
	return h
}

func (h *zkHold) Token() int64          { return h.token }
func (h *zkHold) Lost() <-chan struct{} { return h.g.Lost() }

func (h *zkHold) LostReason() error {
	err := h.g.Reason()
	if err == nil || errors.Is(err, coord.ErrReleased) {
		return err
	}
	return fmt.Errorf("lock %s (%s): %w", h.name, h.node, err)
}

// KillBudget is how long a stop caused by a lost hold may give the child
// between SIGTERM and SIGKILL: a quarter of the negotiated session timeout
// (see SafeFraction).
func (h *zkHold) KillBudget() time.Duration { return KillBudget(h.r.obs.Negotiated()) }

// watch follows our node: deleted, or owned by another session after a
// reconnect, means lost.
func (h *zkHold) watch() {
	reconnected, unsub := h.r.session.subscribe()
	defer unsub()
	for {
		ok, st, ch, err := h.r.conn.ExistsW(h.node)
		switch {
		case err != nil && !connectionTrouble(err):
			h.g.Fail(fmt.Errorf("%w: %v", coord.ErrSessionExpired, err))
			return
		case err == nil && (!ok || st.EphemeralOwner != h.g.sid):
			h.g.Fail(coord.ErrNodeGone)
			return
		}
		var retry <-chan time.Time
		if err != nil { // cut off: look again after the reconnect (or in a second)
			retry = time.After(time.Second)
		}
		select {
		case <-ch:
		case <-reconnected:
		case <-retry:
		case <-h.g.Lost():
			return
		case <-h.stop:
			return
		}
	}
}

// Release deletes our lock node. Call it only once the child is dead.
func (h *zkHold) Release(ctx context.Context) error {
	var err error
	h.once.Do(func() {
		lostBefore := h.g.Reason()
		h.g.Fail(coord.ErrReleased)
		close(h.stop)
		h.unlisten()
		if lostBefore != nil && h.r.conn.State() != zk.StateHasSession {
			return // cut off: the node goes with the session
		}
		_, err = zkcall.Do1(ctx, func() (struct{}, error) { return struct{}{}, h.r.conn.Delete(h.node, -1) })
		if errors.Is(err, zk.ErrNoNode) || (err != nil && lostBefore != nil) {
			// Gone already, or the session is (or soon will be) over:
			// the node goes with it.
			err = nil
		}
		if err != nil {
			err = h.r.unreachable(fmt.Sprintf("release lock %s", h.name), err)
		}
	})
	return err
}
