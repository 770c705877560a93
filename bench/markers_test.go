package bench

import (
	"context"
	"testing"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// BenchmarkMaintenanceMarkers measures the fields-only listing of 1,000
// providers, 100 of them in maintenance, since maintenance markers moved
// out of the service directory into <root>/maintenance/<service>: the
// listing now sends two getChildren (service directory and markers),
// pipelined. Baseline: the one getChildren of the service directory alone,
// which is what the listing cost when markers were siblings (the reply
// then also carried the 100 marker names). x-baseline near 1 means the
// second request costs no extra round trip.
func BenchmarkMaintenanceMarkers(b *testing.B) {
	const n, inMaint = 1000, 100
	zkc := testzk.Shared(b)
	root := "/benchmarkers"
	holder := populate(b, zkc.ConnString(), root, n)
	defer holder.Close()
	reg := openZK(b, zkc.ConnString(), root)
	defer reg.Close()
	conn := reg.Conn()
	dir := root + "/services/web"
	names, _, err := conn.Children(dir)
	if err != nil {
		b.Fatal(err)
	}
	acl := gozk.WorldACL(gozk.PermAll)
	for _, p := range []string{root + "/maintenance", root + "/maintenance/web"} {
		if _, err := conn.Create(p, nil, 0, acl); err != nil && err != gozk.ErrNodeExists {
			b.Fatal(err)
		}
	}
	for _, name := range names[:inMaint] {
		if _, err := holder.Create(root+"/maintenance/web/"+name, nil, gozk.FlagEphemeral, acl); err != nil && err != gozk.ErrNodeExists {
			b.Fatal(err)
		}
	}
	compare(b,
		func() {
			if got, _, err := conn.Children(dir); err != nil || len(got) != n {
				b.Fatalf("baseline children: %d, %v", len(got), err)
			}
		},
		func() {
			ps, err := reg.Providers(context.Background(), "web", registry.ListOptions{FieldsOnly: true})
			if err != nil || len(ps) != n-inMaint {
				b.Fatalf("fields-only listing: %d providers, %v", len(ps), err)
			}
		})
}
