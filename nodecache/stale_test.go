package nodecache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/nodecache"
	"github.com/svcdisco/svcdisco/registry"
)

// TestStaleWhileDisconnected: cut off from the ensemble, the agent answers
// only callers that allow a stale answer that old, and says how old; once
// it is back, answers are fresh again with no manual step.
func TestStaleWhileDisconnected(t *testing.T) {
	zk := testzk.Shared(t)
	root := testzk.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	writer := open(t, ctx, zk.ConnString(), root)
	if _, err := writer.Register(ctx, provider("api", 1, nil)); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, ctx, zk.ConnString(), root, time.Hour)
	c := nodecache.NewClient(n.socket)
	if ps, err := c.Providers(ctx, "api", registry.ListOptions{}); err != nil || len(ps) != 1 {
		t.Fatalf("fresh: %v %v", ps, err)
	}
	n.proxy.Partition()
	testenv.WaitFor(t, "the agent to notice the partition", time.Minute, func() bool { return !n.cache.Online() })

	_, err := c.Providers(ctx, "api", registry.ListOptions{})
	if !errors.Is(err, nodecache.ErrStale) {
		t.Fatalf("no stale allowed: %v, want a stale error", err)
	}
	var ages []time.Duration
	c.StaleOK = time.Hour
	c.OnStale = func(_ string, age time.Duration) { ages = append(ages, age) }
	ps, err := c.Providers(ctx, "api", registry.ListOptions{})
	if err != nil || len(ps) != 1 || len(ages) != 1 {
		t.Fatalf("stale allowed: %v %v (stale calls %v)", ps, err, ages)
	}
	// A reader whose registry is unreachable too takes the stale answer
	// only when allowed; it tried the registry first.
	opened := 0
	unreachable := func(context.Context) (registry.Registry, error) {
		opened++
		return nil, registry.ErrUnreachable
	}
	r := &nodecache.Reader{Agent: nodecache.NewClient(n.socket), Open: unreachable, Logger: quiet}
	if _, err := r.Providers(ctx, "api", registry.ListOptions{}); !errors.Is(err, registry.ErrUnreachable) || opened != 1 {
		t.Errorf("reader without stale: %v (registry opened %d times)", err, opened)
	}
	r = &nodecache.Reader{Agent: c, Open: unreachable, Logger: quiet}
	if ps, err := r.Providers(ctx, "api", registry.ListOptions{}); err != nil || len(ps) != 1 || opened != 2 {
		t.Errorf("reader with stale: %v %v (registry opened %d times)", ps, err, opened)
	}
	// Older than allowed: refused. The age grows from the partition, so
	// an allowance of 1ns is always exceeded.
	c.StaleOK = time.Nanosecond
	if _, err := c.Providers(ctx, "api", registry.ListOptions{}); !errors.Is(err, nodecache.ErrStale) {
		t.Errorf("older than allowed: %v", err)
	}

	n.proxy.Heal()
	c.StaleOK, ages = 0, nil
	testenv.WaitFor(t, "a fresh answer after the partition", time.Minute, func() bool {
		ps, err := c.Providers(ctx, "api", registry.ListOptions{})
		return err == nil && len(ps) == 1
	})
	if len(ages) != 0 {
		t.Errorf("a fresh answer was reported stale: %v", ages)
	}
}

// TestIdleWatchDropped: a service nobody asks for loses its watch; asking
// again starts a new one.
func TestIdleWatchDropped(t *testing.T) {
	zk := testzk.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := startNode(t, ctx, zk.ConnString(), testzk.Root(t), 200*time.Millisecond)
	c := nodecache.NewClient(n.socket)
	if _, err := c.Providers(ctx, "idle", registry.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if w := n.cache.Watched(); len(w) != 1 {
		t.Fatalf("watched %v after an ask", w)
	}
	testenv.WaitFor(t, "the idle watch to be dropped", time.Minute, func() bool { return len(n.cache.Watched()) == 0 })
	if _, err := c.Providers(ctx, "idle", registry.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if w := n.cache.Watched(); len(w) != 1 {
		t.Errorf("watched %v after asking again", w)
	}
}
