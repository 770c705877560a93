package templates

import (
	"context"
	"time"

	"github.com/svcdisco/svcdisco/coord"
)

// ensureLeader starts the one watch of an election shared by every
// template that calls `leader "GROUP"`, so a change of leader alone
// re-renders them (the providers' watches do not see elections).
func (w *watcher) ensureLeader(ctx context.Context, group string) {
	if w.watchedLeaders[group] || w.store.currentDetector() == nil {
		return
	}
	w.watchedLeaders[group] = true
	go w.followLeader(ctx, group)
}

// followLeader keeps group's leader in the store and tells the run loop of
// every change, until ctx ends. The detector sends the current leader at
// once, then each change. It also sends "no leader" while the registry has
// been unreachable for longer than a leader keeps its term; a file must not
// be rewritten for an outage (the old file is the better one), so a "no
// leader" is only taken once a direct read confirms it. A watch that
// cannot be set up, or that ends before ctx, is set up again with backoff
// (250ms to 5s); meanwhile renders read the election directly.
func (w *watcher) followLeader(ctx context.Context, group string) {
	det := w.store.currentDetector()
	backoff := 250 * time.Millisecond
	for failures := 0; ; failures++ {
		changes, err := det.WatchLeader(ctx, group)
		if err == nil {
			got := false
			for lc := range changes {
				got = true
				if !lc.OK && !w.confirmNoLeader(ctx, det, group) {
					continue // an outage, not an election without a leader
				}
				w.store.setLeader(group, lc)
				select {
				case w.leaderChanged <- group:
				case <-ctx.Done():
					return
				}
			}
			w.store.forgetLeader(group)
			if got {
				failures, backoff = -1, 250*time.Millisecond
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.fetchFailed(failures == 0, "cannot watch the leader; retrying until it can", err, "group", group, "retry_in", backoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// confirmNoLeader reads the election directly: true when the registry
// answers that nobody leads, false when it cannot be asked (an outage keeps
// the leader last seen, and the files rendered from it).
func (w *watcher) confirmNoLeader(ctx context.Context, det coord.Detector, group string) bool {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lc, err := det.Leader(rctx, group)
	if err != nil {
		w.fetchFailed(false, "cannot read the leader; files stay as they are", err, "group", group)
		return false
	}
	return !lc.OK
}
