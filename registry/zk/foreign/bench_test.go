package foreign

import (
	"context"
	"fmt"
	"sync"
	"testing"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// BenchmarkNerveListing1000 lists 1,000 Nerve entries: one getChildren and
// 1,000 pipelined gets per listing (what -o lines costs on foreign
// formats).
func BenchmarkNerveListing1000(b *testing.B) {
	const n = 1000
	chroot := testzk.Root(b)
	z := openZK(b, chroot)
	conn := z.Conn()
	for _, p := range []string{chroot + "/nerve", chroot + "/nerve/web"} {
		if _, err := conn.Create(p, nil, 0, gozk.WorldACL(gozk.PermAll)); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := fmt.Sprintf(`{"host":"10.0.%d.%d","port":8080,"name":"i-%d","labels":{"az":"a"}}`, i/256, i%256, i)
			if _, err := conn.Create(fmt.Sprintf("%s/nerve/web/i-%d_", chroot, i), []byte(data), gozk.FlagEphemeral|gozk.FlagSequence, gozk.WorldACL(gozk.PermAll)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	reg, err := Wrap(z, Source{Format: FormatNerve, Path: "/nerve/{service}"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		ps, err := reg.Providers(context.Background(), "web", registry.ListOptions{FieldsOnly: true})
		if err != nil || len(ps) != n {
			b.Fatalf("%d providers, %v", len(ps), err)
		}
	}
}
