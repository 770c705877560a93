package coord

import "context"

// Hold is a lock or a leadership, held while the backend session is.
type Hold interface {
	// Token is the fencing token: it strictly increases from one holder
	// to the next (ZooKeeper: the lock node's czxid; Consul: the lock
	// key's ModifyIndex after the acquire). A storage layer that records
	// the highest token it has seen can refuse a stale holder's writes.
	Token() int64
	// Lost is closed when the holder must assume it no longer holds.
	// It is also closed after Release.
	Lost() <-chan struct{}
	// LostReason says why Lost was closed: an error wrapping ErrLost
	// (ErrNodeGone, ErrSessionExpired, ErrDisconnected) or ErrReleased.
	// It is nil while the Hold is held.
	LostReason() error
	// Release gives the lock up (deletes the lock node / releases the
	// key). Releasing a lost Hold is not an error.
	Release(ctx context.Context) error
}

// Locker takes exclusive locks.
type Locker interface {
	// Lock blocks until the lock name is held or ctx is done. When ctx
	// ends while someone else holds the lock, the error wraps
	// ErrLockTimeout (a *HeldError naming the holder when known); when
	// the backend cannot be reached, it wraps registry.ErrUnreachable.
	Lock(ctx context.Context, name string) (Hold, error)
}

// Semaphorer takes counting locks: at most limit holders of name at once.
// A backend without a semaphore recipe does not implement it.
type Semaphorer interface {
	// Semaphore blocks until one of the limit slots of name is held or
	// ctx is done, with the same errors as Locker.Lock. Asking for a
	// limit other than the one the current holders use is bad input.
	Semaphore(ctx context.Context, name string, limit int) (Hold, error)
}
