package bench

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/mirror"
)

// BenchmarkRegisterMirror measures the primary's registration latency
// under --mirror beside a plain registration on the same server, measured
// alternately in the same run: with a mirror that answers (a second
// standalone server) and with one that is down (a partitioned proxy in
// front of it). The copy is made in the background, so the target is
// x-baseline ≈ 1 in both.
func BenchmarkRegisterMirror(b *testing.B) {
	a := testzk.Shared(b)
	m, err := testzk.New(1)
	if err != nil {
		testzk.Missing(b, err)
	}
	defer m.Stop()
	down := testzk.NewProxy(b, m.ConnString())
	down.Partition()
	for _, tc := range []struct{ name, mirror string }{{"up", m.ConnString()}, {"down", down.Addr()}} {
		b.Run("mirror-"+tc.name, func(b *testing.B) {
			root := testzk.Root(b)
			plain := openZK(b, a.ConnString(), root+"-plain")
			defer plain.Close()
			w := mirror.New(openZK(b, a.ConnString(), root), mirror.Options{Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
			defer w.Close()
			w.SetMirror(tc.mirror, func(ctx context.Context) (registry.Registry, error) {
				return openZKCtx(ctx, tc.mirror, root)
			})
			port := 0
			register := func(r registry.Registry) func() {
				return func() {
					port++
					if _, err := r.Register(context.Background(), registry.Provider{Service: "web", Host: "h", Port: port}); err != nil {
						b.Fatal(err)
					}
				}
			}
			compare(b, register(plain), register(w))
		})
	}
}
