package mirror

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// BenchmarkRegister is the primary's registration latency (Register, then
// Deregister outside the timer) with no mirror, with a mirror that answers
// and with a mirror that is down (a partitioned proxy): the mirror is
// written in the background, so the three should cost the same.
//
//	go test -run '^$' -bench Register -benchtime 200x ./registry/mirror
func BenchmarkRegister(b *testing.B) {
	a := testzk.Shared(b)
	if clusterB.c == nil && clusterB.err == nil {
		clusterB.c, clusterB.err = testzk.New(1)
	}
	if clusterB.err != nil {
		testzk.Missing(b, clusterB.err)
	}
	down := testzk.NewProxy(b, clusterB.c.ConnString())
	down.Partition()
	for _, tc := range []struct{ name, mirror string }{
		{"no-mirror", ""},
		{"mirror-up", clusterB.c.ConnString()},
		{"mirror-down", down.Addr()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			root := testzk.Root(b)
			ctx := context.Background()
			p, err := openZK(ctx, a.ConnString(), root, 10*time.Second, nil)
			if err != nil {
				b.Fatal(err)
			}
			w := New(p, Options{Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
			defer w.Close()
			if tc.mirror != "" {
				w.SetMirror(tc.mirror, opener(tc.mirror, root, 10*time.Second, nil))
			}
			port := 1
			for b.Loop() {
				reg, err := w.Register(ctx, registry.Provider{Service: "web", Host: "h", Port: port})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := reg.Deregister(ctx); err != nil {
					b.Fatal(err)
				}
				port++
				b.StartTimer()
			}
		})
	}
}
