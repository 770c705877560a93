package coord

import (
	"context"
	"fmt"

	"github.com/svcdisco/svcdisco/registry"
)

// Detector finds the leader of an election without taking part in it
// (Mesos' master detector).
type Detector interface {
	// Leader returns the group's current leader in the provider shape
	// (OK false when the group has none).
	Leader(ctx context.Context, group string) (LeaderChange, error)
	// WatchLeader sends the current leader at once, then every change, until
	// ctx is done (the channel is then closed). Consecutive sends always
	// differ. While the backend cannot be reached for longer than it takes
	// a leader to lose its term, it sends "no leader": a partitioned
	// watcher must not keep trusting a leader that may have been replaced.
	WatchLeader(ctx context.Context, group string) (<-chan LeaderChange, error)
}

// LeaderChange is one observation of a group's leader.
type LeaderChange struct {
	Leader registry.Provider
	OK     bool // false: no leader
	// Token is the leader's fencing token when the backend knows it.
	Token int64
}

// Same reports whether a and b name the same leadership.
func (a LeaderChange) Same(b LeaderChange) bool {
	if a.OK != b.OK {
		return false
	}
	return !a.OK || (a.Token == b.Token && a.Leader.ID == b.Leader.ID && a.Leader.Addr() == b.Leader.Addr())
}

// ValidateGroup reports whether group is a valid election name: the same
// rule as a service name, [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
func ValidateGroup(group string) error {
	if !registry.ValidName(group) {
		return fmt.Errorf("invalid group %q: want [A-Za-z0-9][A-Za-z0-9._-]{0,127}", group)
	}
	return nil
}
