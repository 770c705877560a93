// Package bench measures svcdisco against real servers, each figure beside a
// raw-client baseline measured in the same run (`make bench`).
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/zk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

// BenchmarkQueryZK measures `query` at 10, 1,000 and 10,000 providers,
// each figure beside its floor measured in the same run, alternately:
//
//   - fields-only: query.Run for `-o lines` (one getChildren, parse, sort)
//     against a bare Children call on the same connection (target <= 2x);
//   - attributes: query.Run for `-o json` against a raw go-zookeeper client
//     doing what Curator, Nerve and Synapse do, getChildren then a get of
//     every child, a goroutine each (target <= 1.1x);
//   - process-lines: the whole `svcdisco query -o lines` process against
//     bench/baseline/children, a minimal Go program that connects, calls
//     getChildren once and prints the names (target <= 1.5x at 10,000
//     providers, <= 2x at 10);
//   - process-json: `svcdisco query -o json` against `children -get` (the
//     raw pipelined gets, printed), with both processes' peak RSS (target
//     <= 40 MB for svcdisco at 10,000).
//
// Each reports the median ns/op for svcdisco, baseline-ns/op, and
// x-baseline = svcdisco / baseline (lower is better); the process ones also
// report each process's median CPU time (cpu-ms, baseline-cpu-ms).
func BenchmarkQueryZK(b *testing.B) {
	zkc := testzk.Shared(b)
	bins := buildBinaries(b)
	for _, n := range []int{10, 1000, 10000} {
		root := fmt.Sprintf("/bench%d", n)
		holder := populate(b, zkc.ConnString(), root, n)
		reg := openZK(b, zkc.ConnString(), root)
		conn := reg.Conn()
		dir := root + "/services/web"
		children := func() {
			if names, _, err := conn.Children(dir); err != nil || len(names) != n {
				b.Fatalf("baseline children: %d, %v", len(names), err)
			}
		}
		gets := func() {
			names, _, err := conn.Children(dir)
			if err != nil || len(names) != n {
				b.Fatalf("baseline children: %d, %v", len(names), err)
			}
			var wg sync.WaitGroup
			for _, name := range names {
				wg.Go(func() {
					if _, _, err := conn.Get(dir + "/" + name); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		}
		run := func(fieldsOnly bool) func() {
			return func() {
				ps, err := query.Run(context.Background(), reg, query.Options{Service: "web", FieldsOnly: fieldsOnly})
				if err != nil || len(ps) != n {
					b.Fatalf("query: %d providers, %v", len(ps), err)
				}
			}
		}
		b.Run(fmt.Sprintf("providers=%d/fields-only", n), func(b *testing.B) { compare(b, children, run(true)) })
		b.Run(fmt.Sprintf("providers=%d/attributes", n), func(b *testing.B) { compare(b, gets, run(false)) })
		for _, mode := range []struct{ name, output, baseFlag string }{
			{"process-lines", "lines", ""}, {"process-json", "json", "-get"},
		} {
			b.Run(fmt.Sprintf("providers=%d/%s", n, mode.name), func(b *testing.B) {
				base := []string{"-servers", zkc.ConnString(), "-path", dir}
				if mode.baseFlag != "" {
					base = append(base, mode.baseFlag)
				}
				ours := []string{"--registry", "zk://" + zkc.ConnString(), "--root", root, "query", "web", "-o", mode.output}
				var cpuBase, cpuOurs []time.Duration
				compare(b,
					func() { cpuBase = append(cpuBase, execLines(b, n, "", bins.children, base...).cpu) },
					func() { cpuOurs = append(cpuOurs, execLines(b, n, "", bins.svcdisco, ours...).cpu) })
				// CPU time (user+system) is steadier than wall time on a
				// loaded machine: it leaves out the time spent waiting for a
				// core.
				b.ReportMetric(float64(median(cpuOurs).Microseconds())/1000, "cpu-ms")
				b.ReportMetric(float64(median(cpuBase).Microseconds())/1000, "baseline-cpu-ms")
				// Peak RSS from one more run of each, outside the timing.
				rssBase := execLines(b, n, bins.maxrss, bins.children, base...).rss
				rssOurs := execLines(b, n, bins.maxrss, bins.svcdisco, ours...).rss
				b.ReportMetric(float64(rssOurs)/1024, "peak-RSS-MB")
				b.ReportMetric(float64(rssBase)/1024, "baseline-peak-RSS-MB")
			})
		}
		reg.Close()
		holder.Close()
	}
}

// compare runs baseline and ours alternately b.N times and reports the
// median of each (the machine is shared: a mean would mostly measure the
// worst scheduling stall) and their ratio, x-baseline.
func compare(b *testing.B, baseline, ours func()) {
	b.Helper()
	baseline() // warm both paths
	ours()
	tBase, tOurs := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		baseline()
		t1 := time.Now()
		ours()
		tOurs = append(tOurs, time.Since(t1))
		tBase = append(tBase, t1.Sub(t0))
	}
	b.StopTimer()
	mBase, mOurs := median(tBase), median(tOurs)
	b.ReportMetric(float64(mOurs.Nanoseconds()), "ns/op")
	b.ReportMetric(float64(mBase.Nanoseconds()), "baseline-ns/op")
	b.ReportMetric(float64(mOurs)/float64(mBase), "x-baseline")
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

type binaries struct{ svcdisco, children, maxrss string }

// buildBinaries builds svcdisco and the baseline program once per run.
func buildBinaries(b *testing.B) binaries {
	b.Helper()
	dir := b.TempDir()
	bins := binaries{svcdisco: filepath.Join(dir, "svcdisco"), children: filepath.Join(dir, "children"), maxrss: filepath.Join(dir, "maxrss")}
	for out, pkg := range map[string]string{bins.svcdisco: "../cmd/svcdisco", bins.children: "./baseline/children", bins.maxrss: "./baseline/maxrss"} {
		if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
		}
	}
	return bins
}

// usage is what a process cost: CPU time, and peak RSS in KiB when
// measured.
type usage struct {
	cpu time.Duration
	rss int64
}

// execLines runs a program that prints one line per provider and checks it
// printed n. With maxrss (bin/maxrss; see there why) it runs the program
// through it and reports the program's peak RSS; the CPU time is then the
// wrapper's and the program's together.
func execLines(b *testing.B, n int, maxrss, bin string, args ...string) usage {
	var rssFile string
	cmd := exec.Command(bin, args...)
	if maxrss != "" {
		rssFile = filepath.Join(b.TempDir(), "rss")
		cmd = exec.Command(maxrss, append([]string{"-o", rssFile, bin}, args...)...)
	}
	cmd.Env = testenv.CleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, errb.String())
	}
	if lines := bytes.Count(out.Bytes(), []byte("\n")); lines < n {
		b.Fatalf("%s printed %d lines, want at least %d", filepath.Base(bin), lines, n)
	}
	u := usage{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	if rssFile == "" {
		return u
	}
	raw, err := os.ReadFile(rssFile)
	if err != nil {
		b.Fatal(err)
	}
	if u.rss, err = strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64); err != nil {
		b.Fatalf("peak RSS %q: %v", raw, err)
	}
	return u
}

func openZK(b *testing.B, servers, root string) *zk.Registry {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := openZKCtx(ctx, servers, root)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func openZKCtx(ctx context.Context, servers, root string) (*zk.Registry, error) {
	return zk.Open(ctx, zk.Options{Servers: []string{servers}, Root: root, SessionTimeout: 30 * time.Second, Logger: slog.New(slog.DiscardHandler)})
}

// populate registers n realistic providers of "web" on one session held by
// the returned connection (raw creates, many in flight, for speed).
func populate(b *testing.B, servers, root string, n int) *gozk.Conn {
	b.Helper()
	conn, _, err := gozk.Connect([]string{servers}, 30*time.Second, gozk.WithLogInfo(false))
	if err != nil {
		b.Fatal(err)
	}
	acl := gozk.WorldACL(gozk.PermAll)
	for _, p := range []string{root, root + "/services", root + "/services/web"} {
		if _, err := conn.Create(p, nil, 0, acl); err != nil && err != gozk.ErrNodeExists {
			b.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p := registry.Provider{
				Service: "web", Host: fmt.Sprintf("web-%05d.us-east-1.example.com", i), Address: "10.0.0.5", Port: 8080,
				Attributes: map[string]string{"zone": "us-east-1a", "version": "1.4.2"}, Weight: 1, Status: registry.StatusUp,
				Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			}
			p.ID = registry.DefaultID(p.Service, p.Host, p.Port)
			data, _ := json.Marshal(p)
			name := zk.InstanceName(p.Host, p.Port, p.Timestamp)
			if _, err := conn.Create(root+"/services/web/"+name, data, gozk.FlagEphemeral, acl); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	return conn
}
