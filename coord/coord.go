// Package coord holds svcdisco's backend-neutral coordination vocabulary:
// exclusive locks (lock.go), leader election and leader detection. Each
// backend implements these next to its registry code so that a lock or a
// candidacy lives on the same session as the registry connection.
//
// The one rule every implementation follows: a Hold is held only while the
// backend session is, and the holder learns that it must stop (Lost) BEFORE
// the backend can grant the same lock or leadership to someone else. On
// ZooKeeper that means acting on a local timer when the client is cut off,
// because a partitioned client never hears of its own session's expiry.
package coord

import (
	"errors"
	"fmt"
)

// Sentinel errors, usable with errors.Is.
var (
	// ErrLockTimeout: the lock (or leadership) was held by someone else
	// for as long as the caller was willing to wait. Errors wrapping it
	// are *HeldError values naming the current holder when it is known.
	ErrLockTimeout = errors.New("not acquired in time")
	// ErrLost: a Hold was held and must now be assumed gone.
	ErrLost = errors.New("lock lost")
	// ErrNodeGone: the lock node (or candidacy node) was deleted by
	// someone else, or is owned by another session.
	ErrNodeGone = fmt.Errorf("%w: lock node gone", ErrLost)
	// ErrSessionExpired: the backend reported the session expired (or a
	// new session replaced it).
	ErrSessionExpired = fmt.Errorf("%w: session expired", ErrLost)
	// ErrDisconnected: the client has been cut off from the backend for
	// longer than the safe fraction of the session timeout; the server may
	// expire the session soon, so the holder stops now.
	ErrDisconnected = fmt.Errorf("%w: disconnected too long", ErrLost)
	// ErrReleased: the Hold was released by its owner.
	ErrReleased = errors.New("released")
)

// HeldError says who holds a lock that could not be acquired in time.
type HeldError struct {
	Name   string // the lock
	Holder string // a description of the current holder, "" when unknown
}

func (e *HeldError) Error() string {
	if e.Holder == "" {
		return fmt.Sprintf("lock %s: %v (held elsewhere)", e.Name, ErrLockTimeout)
	}
	return fmt.Sprintf("lock %s: %v (held by %s)", e.Name, ErrLockTimeout, e.Holder)
}

func (e *HeldError) Unwrap() error { return ErrLockTimeout }
