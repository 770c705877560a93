package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
	"github.com/svcdisco/svcdisco/templates"
)

// BenchmarkRenderLatency is the time from a registration to the rendered
// file showing it, in watch mode with wait 0: notification, re-list with
// provider data, render, atomic write with fsyncs. Reported as p50/p90
// beside BenchmarkRenderLatencyBaseline (the bare ZooKeeper floor).
func BenchmarkRenderLatency(b *testing.B) {
	c := testzk.Start(b, 1)
	url := "zk://" + c.Servers[0].Addr()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := openRegistry(b, ctx, url)
	defer reg.Close()

	dir := b.TempDir()
	src, dest := filepath.Join(dir, "web.tmpl"), filepath.Join(dir, "web.conf")
	body := `{{ range providers "web" }}server {{ .ID }} {{ .Host }}:{{ .Port }} weight {{ .Weight }}` + "\n{{ end }}"
	if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	tm, err := templates.Load(templates.Spec{Source: src, Destination: dest})
	if err != nil {
		b.Fatal(err)
	}
	results := make(chan templates.Result, 64)
	done := make(chan error, 1)
	go func() {
		done <- templates.Watch(ctx, templates.Options{
			Templates: []*templates.Template{tm},
			Open:      func(ctx context.Context) (registry.Registry, error) { return openRegistry(b, ctx, url), nil },
			OnResult: func(r templates.Result) {
				select {
				case results <- r:
				case <-ctx.Done():
				}
			},
		})
	}()
	defer func() { cancel(); <-done }()
	awaitFile(b, results, dest, func(s string) bool { return s == "" })

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		host := fmt.Sprintf("host%d", i)
		start := time.Now()
		r, err := reg.Register(ctx, registry.Provider{Service: "web", Host: host, Port: 8080, Weight: 1})
		if err != nil {
			b.Fatal(err)
		}
		awaitFile(b, results, dest, func(s string) bool { return strings.Contains(s, " "+host+":") })
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err := r.Deregister(ctx); err != nil {
			b.Fatal(err)
		}
		awaitFile(b, results, dest, func(s string) bool { return s == "" })
		b.StartTimer()
	}
	reportPercentiles(b, lat)
}

// BenchmarkRenderLatencyBaseline is the floor any watch-based renderer
// has: create an ephemeral znode on one connection, receive the child
// watch on another and re-list the children.
func BenchmarkRenderLatencyBaseline(b *testing.B) {
	c := testzk.Start(b, 1)
	servers := []string{c.Servers[0].Addr()}
	writer := connect(b, servers)
	watcher := connect(b, servers)
	dir := "/bench-baseline"
	if _, err := writer.Create(dir, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, _, ch, err := watcher.ChildrenW(dir)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("%s/host%d:8080@%d", dir, i, time.Now().UnixMilli())
		start := time.Now()
		if _, err := writer.Create(name, []byte(`{"service":"web"}`), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			b.Fatal(err)
		}
		<-ch
		if _, _, err := watcher.Children(dir); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if err := writer.Delete(name, -1); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportPercentiles(b, lat)
}

func openRegistry(b *testing.B, ctx context.Context, url string) registry.Registry {
	b.Helper()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	reg, err := dial.Open(cctx, dial.Options{URL: url, Root: "/bench-render",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return reg
}

func connect(b *testing.B, servers []string) *zk.Conn {
	b.Helper()
	conn, events, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		b.Fatal(err)
	}
	for ev := range events {
		if ev.State == zk.StateHasSession {
			break
		}
	}
	b.Cleanup(conn.Close)
	return conn
}

// awaitFile waits for a written (or unchanged) result after which the file
// satisfies ok.
func awaitFile(b *testing.B, results <-chan templates.Result, dest string, ok func(string) bool) {
	b.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case r := <-results:
			if r.Status != templates.StatusWritten && r.Status != templates.StatusUnchanged {
				continue
			}
			data, err := os.ReadFile(dest)
			if err == nil && ok(string(data)) {
				return
			}
		case <-timeout:
			b.Fatalf("timed out waiting for %s", dest)
		}
	}
}

// reportPercentiles adds p50 and p90 latency in milliseconds.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*9/10]), "p90-ms")
}
