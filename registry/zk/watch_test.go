package zk

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// TestWatchSeesRegisterRightAfterWatch: Watch returns with its watch set,
// so a registration made right after it returns is always signalled.
func TestWatchSeesRegisterRightAfterWatch(t *testing.T) {
	zkc := testzk.Shared(t)
	r := open(t, zkc.ConnString(), testzk.Root(t), 5*time.Second, nil)
	first, err := r.Register(ctxT(t), web("h0", 80)) // the service exists
	if err != nil {
		t.Fatal(err)
	}
	defer first.Deregister(context.Background())
	for i := 0; i < 500; i++ {
		ctx, cancel := context.WithCancel(ctxT(t))
		ch, err := r.Watch(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		reg, err := r.Register(ctx, web(fmt.Sprintf("h%d", i+1), 80))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("iteration %d: a registration right after Watch was never signalled", i)
		}
		cancel()
		if err := reg.Deregister(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWatchReconnectsKeepCountsFlat: 20 reconnects on the same session add
// neither goroutines nor watches, in the client or on the server.
func TestWatchReconnectsKeepCountsFlat(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	proxy := testzk.NewProxy(t, zkc.Servers[0].Addr())
	owner := open(t, zkc.ConnString(), root, 5*time.Second, nil)
	for i := 0; i < 5; i++ {
		if _, err := owner.Register(ctxT(t), web(fmt.Sprintf("h%d", i), 80)); err != nil {
			t.Fatal(err)
		}
	}
	r := open(t, proxy.Addr(), root, 10*time.Second, nil)
	ch, err := r.Watch(ctxT(t), "web")
	if err != nil {
		t.Fatal(err)
	}
	sid := r.conn.SessionID()
	// wchc lists data watches: one per provider, and the exists watch on
	// the marker directory, which does not exist yet (child watches are
	// not listed).
	const watches = 5 + 1
	testenv.WaitFor(t, "the watches to be set", 10*time.Second, func() bool { return sessionWatches(t, zkc, sid) == watches })
	before := runtime.NumGoroutine()

	for i := 0; i < 20; i++ {
		proxy.Partition()
		testenv.WaitFor(t, "the client to notice the cut", 10*time.Second, func() bool { return !r.session.connected() })
		proxy.Heal()
		testenv.WaitFor(t, "reconnect", 10*time.Second, func() bool { return r.session.connected() })
	}
	if got := r.conn.SessionID(); got != sid {
		t.Fatalf("session changed %x -> %x: the test needs reconnects on one session", sid, got)
	}
	// go-zookeeper sets the watches again right after each reconnect.
	testenv.WaitFor(t, "the server to hold the same watches", 10*time.Second, func() bool {
		return sessionWatches(t, zkc, sid) == watches
	})
	// Goroutines of the dropped connections end a moment later: wait for
	// the count to come back, failing if it does not.
	testenv.WaitFor(t, fmt.Sprintf("goroutines back to %d (+2)", before), 10*time.Second, func() bool {
		return runtime.NumGoroutine() <= before+2
	})
	if got := r.conn.SessionID(); got != sid {
		t.Fatalf("session changed %x -> %x (an expiry ends every watch goroutine: no proof)", sid, got)
	}
	// The watch still works.
	for len(ch) > 0 {
		<-ch
	}
	if _, err := owner.Register(ctxT(t), web("late", 80)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no signal after the reconnects")
	}
}

// sessionWatches is the number of watches the server holds for session
// sid, from the wchc four-letter word ("0x<sid>" then one path per line).
func sessionWatches(t *testing.T, zkc *testzk.Cluster, sid int64) int {
	t.Helper()
	out, err := testzk.FourLetter(zkc.Servers[0].Addr(), "wchc", 5*time.Second)
	if err != nil {
		t.Fatalf("wchc: %v", err)
	}
	n, in := 0, false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "0x") {
			v, err := strconv.ParseUint(line[2:], 16, 64)
			in = err == nil && int64(v) == sid
			continue
		}
		if in && line != "" {
			n++
		}
	}
	return n
}
