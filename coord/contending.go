package coord

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Contending is the bookkeeping a backend's Candidacy shares with every
// other: the terms it hands out, its end, and the resign request. A
// backend embeds it (after Init), sends each term on TermsC and closes
// TermsC and DoneC when its run loop ends; Terms, Done, Err and Resign
// then come with it.
type Contending struct {
	group   string
	TermsC  chan *Term
	DoneC   chan struct{}
	ResignC chan struct{} // closed by Resign
	once    sync.Once
}

// Init makes the channels for a candidacy in group.
func (c *Contending) Init(group string) {
	c.group = group
	c.TermsC = make(chan *Term, 1)
	c.DoneC = make(chan struct{})
	c.ResignC = make(chan struct{})
}

func (c *Contending) Terms() <-chan *Term   { return c.TermsC }
func (c *Contending) Done() <-chan struct{} { return c.DoneC }

// Err is nil: a candidacy built on Contending ends only when resigned.
func (c *Contending) Err() error { <-c.DoneC; return nil }

// Resign asks the run loop to end the current term and leave, and waits
// for it within ctx.
func (c *Contending) Resign(ctx context.Context) error {
	c.once.Do(func() { close(c.ResignC) })
	select {
	case <-c.DoneC:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("resign %s: %w", c.group, ctx.Err())
	}
}

// Resigned reports whether Resign was called.
func (c *Contending) Resigned() bool {
	select {
	case <-c.ResignC:
		return true
	default:
		return false
	}
}

// RunTerms is a backend candidacy's run loop, until resigned: it gets what
// a term stands on (a session, a lease: held, or open's, retried every
// second while open fails), runs one term on it, ends it, and starts
// again. ttl bounds each open and end; what names the holding in logs.
// It closes TermsC and DoneC when it returns.
func RunTerms[H comparable](c *Contending, log *slog.Logger, ttl time.Duration, what string, held H,
	open func(context.Context) (H, error), term func(H), end func(context.Context, H) error) {
	defer close(c.DoneC)
	defer close(c.TermsC)
	var none H
	for {
		if held == none {
			ctx, cancel := context.WithTimeout(context.Background(), ttl)
			h, err := open(ctx)
			cancel()
			if err != nil {
				log.Warn("elect: cannot open a "+what+"; retrying", "group", c.group, "err", err)
				if c.Pause() {
					return
				}
				continue
			}
			held = h
		}
		term(held)
		ctx, cancel := context.WithTimeout(context.Background(), ttl)
		if err := end(ctx, held); err != nil {
			log.Debug("elect: ending the "+what+" failed; it expires", "err", err)
		}
		cancel()
		held = none
		if c.Resigned() {
			return
		}
	}
}

// Pause waits a second; true when resigned meanwhile.
func (c *Contending) Pause() bool {
	select {
	case <-c.ResignC:
		return true
	case <-time.After(time.Second):
		return false
	}
}
