package coord

import (
	"context"
	"fmt"
	"sync"
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
