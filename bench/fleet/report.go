package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/internal/testzk"
)

// counters returns the ensemble's zxid (its count of ordered writes) and
// the sum of its servers' session (connection) requests.
func (e *env) counters() (zxid, sessions int64, err error) {
	for _, s := range e.zk.Servers {
		m, err := mntr(s.Addr())
		if err != nil {
			return 0, 0, err
		}
		sessions += m["zk_connection_request_count"]
	}
	zxid, err = testzk.Zxid(e.zk.Servers[e.zk.Leader()].Addr())
	return zxid, sessions, err
}

// watches sums the servers' watch counts.
func (e *env) watches() (int64, error) {
	var n int64
	for _, s := range e.zk.Servers {
		m, err := mntr(s.Addr())
		if err != nil {
			return 0, err
		}
		n += m["zk_watch_count"]
	}
	return n, nil
}

func mntr(addr string) (map[string]int64, error) { return testzk.Mntr(addr) }

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}

func report(c config, ss ...*sample) {
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("fleet: %d nodes x %d calls, %d converging at once, %d services x %d providers, 3-node ensemble\n",
		c.nodes, c.calls, c.parallel, c.services, c.providers)
	fmt.Printf("machine: %d CPUs, load average %s\n", runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Println()
	row := func(name string, f func(s *sample) string) {
		fmt.Printf("%-34s", name)
		for _, s := range ss {
			fmt.Printf("%16s", f(s))
		}
		fmt.Println()
	}
	row("", func(s *sample) string { return s.mode })
	row("", func(s *sample) string {
		switch {
		case s.cpu == nil:
			return "(no process)"
		case s.mode == "direct":
			return "(process)"
		}
		return "(process+sock)"
	})
	row("calls (failed)", func(s *sample) string { return fmt.Sprintf("%d (%d)", s.calls, s.failed) })
	row("elapsed", func(s *sample) string { return s.elapsed.Round(time.Millisecond).String() })
	row("ensemble writes", func(s *sample) string { return strconv.FormatInt(s.writes, 10) })
	row("ensemble writes/s", func(s *sample) string { return perSec(s.writes, s.elapsed) })
	row("writes per converge", func(s *sample) string { return fmt.Sprintf("%.1f", float64(s.writes)/float64(c.nodes)) })
	row("sessions (connections) created", func(s *sample) string { return strconv.FormatInt(s.sessions, 10) })
	row("sessions/s", func(s *sample) string { return perSec(s.sessions, s.elapsed) })
	row("server watches (mntr, after)", func(s *sample) string { return strconv.FormatInt(s.watches, 10) })
	row("call p50 (process, or request)", func(s *sample) string { return ms(pct(s.lat, 0.50)) })
	row("call p99 (process, or request)", func(s *sample) string { return ms(pct(s.lat, 0.99)) })
	row("call CPU p50 (user+sys)", func(s *sample) string {
		if len(s.cpu) == 0 {
			return "no process"
		}
		return ms(pct(s.cpu, 0.50))
	})
	row("converge p50", func(s *sample) string { return ms(pct(s.converge, 0.50)) })
}

func perSec(n int64, d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(n)/d.Seconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
