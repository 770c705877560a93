package zk

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

func isLost(g *guard) bool {
	select {
	case <-g.Lost():
		return true
	default:
		return false
	}
}

func TestGuard(t *testing.T) {
	neg := func() time.Duration { return time.Hour }
	fresh := func() time.Time { return time.Now() }
	stale := func() time.Time { return time.Now().Add(-31 * time.Minute) }
	tests := []struct {
		name     string
		lastRead func() time.Time
		ev       *zk.Event
		sid      int64
		want     error // nil: still held
	}{
		{"fresh connection holds", fresh, nil, 0, nil},
		{"reconnect with our session holds", fresh, &zk.Event{Type: zk.EventSession, State: zk.StateHasSession}, 7, nil},
		{"disconnect alone holds (the read clock decides)", fresh, &zk.Event{Type: zk.EventSession, State: zk.StateDisconnected}, 7, nil},
		{"nothing read for over half the timeout", stale, nil, 0, coord.ErrDisconnected},
		{"expired", fresh, &zk.Event{Type: zk.EventSession, State: zk.StateExpired}, 7, coord.ErrSessionExpired},
		{"another session", fresh, &zk.Event{Type: zk.EventSession, State: zk.StateHasSession}, 8, coord.ErrSessionExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGuard(7, neg, tt.lastRead)
			defer g.Fail(coord.ErrReleased)
			if tt.ev != nil {
				g.event(*tt.ev, tt.sid)
			}
			if tt.want == nil {
				if isLost(g) {
					t.Fatalf("lost: %v", g.Reason())
				}
				return
			}
			if !isLost(g) || !errors.Is(g.Reason(), tt.want) || !errors.Is(g.Reason(), coord.ErrLost) {
				t.Fatalf("lost=%v reason %v, want %v", isLost(g), g.Reason(), tt.want)
			}
		})
	}
}

// The timer re-arms from the last read: a connection that keeps reading
// is never declared lost, one that stops is.
func TestGuardTimerFollowsReads(t *testing.T) {
	var stopped atomic.Bool
	var reads atomic.Int64
	last := func() time.Time {
		reads.Add(1)
		if stopped.Load() {
			return time.Now().Add(-time.Hour)
		}
		return time.Now() // always reading
	}
	g := newGuard(7, func() time.Duration { return 100 * time.Millisecond }, last)
	// A negative check: several re-arms (each reads the last read), no loss.
	testenv.WaitFor(t, "three re-arms", 30*time.Second, func() bool { return reads.Load() >= 4 })
	if isLost(g) {
		t.Fatalf("lost while reading: %v", g.Reason())
	}
	stopped.Store(true)
	select {
	case <-g.Lost():
	case <-time.After(30 * time.Second):
		t.Fatal("not lost after reads stopped")
	}
	if !errors.Is(g.Reason(), coord.ErrDisconnected) {
		t.Fatalf("reason %v", g.Reason())
	}
}
