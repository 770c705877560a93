package templates

import (
	"log/slog"
	"sync"
	"time"
)

// outage tracks whether the registry answers, for watch mode's log: one
// Warn when the first request fails, one when a request succeeds again,
// with how long it lasted — not a line per retry. It also remembers when
// the registry last came back, for the settle window.
type outage struct {
	log *slog.Logger
	now func() time.Time

	window time.Duration // the settle window (see settle.go); 0: none

	mu          sync.Mutex
	since       time.Time // zero while the registry answers
	back        time.Time // when the last outage ended
	settleUntil time.Time
}

func newOutage(log *slog.Logger, settle time.Duration) *outage {
	return &outage{log: log, now: time.Now, window: settle}
}

// failed records a request that found the registry unreachable.
func (o *outage) failed(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.since.IsZero() {
		return
	}
	o.since = o.now()
	o.log.Warn("registry unreachable; files stay as they are until it answers", "err", err)
}

// ok records a successful request; the first after an outage opens the
// settle window.
func (o *outage) ok() {
	o.mu.Lock()
	if o.since.IsZero() {
		o.mu.Unlock()
		return
	}
	t := o.now()
	o.log.Warn("registry reachable again", "outage", t.Sub(o.since).Round(time.Millisecond))
	o.since, o.back = time.Time{}, t
	o.mu.Unlock()
	o.startSettle("the registry came back")
}

// down reports whether an outage is going on.
func (o *outage) down() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.since.IsZero()
}

// recovered is when the registry last came back (zero: never down).
func (o *outage) recovered() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.back
}
