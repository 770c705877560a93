// Command fleet is svcdisco's fleet-scale load generator: N simulated nodes
// converge against a real 3-node ZooKeeper ensemble on loopback, each
// converge making a realistic mix of discovery calls as whole `svcdisco`
// processes (what a Chef run does), once asking the registry directly and
// once through a node-local agent (`agent --serve`, one per node). It
// prints, side by side, what the ensemble paid (writes/s from the zxid,
// sessions/s from the servers' connection counters, watches from mntr) and
// the p50/p99 of one call.
//
//	go run ./bench/fleet -nodes 20 -calls 50
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/nodecache"
)

type config struct {
	nodes, calls, parallel, services, providers int
	bin                                         string
	churn                                       time.Duration
}

func main() {
	var c config
	flag.IntVar(&c.nodes, "nodes", 20, "simulated nodes (each converges once per mode)")
	flag.IntVar(&c.calls, "calls", 50, "discovery calls per converge")
	flag.IntVar(&c.parallel, "parallel", 4, "nodes converging at once")
	flag.IntVar(&c.services, "services", 10, "services in the registry")
	flag.IntVar(&c.providers, "providers", 5, "providers per service")
	flag.DurationVar(&c.churn, "churn", 5*time.Second, "how long to measure the ensemble's session-churn ceiling")
	flag.StringVar(&c.bin, "bin", "", "svcdisco binary (default: built into a temporary directory)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	dir, err := os.MkdirTemp("", "svcdisco-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if c.bin == "" {
		c.bin = filepath.Join(dir, "svcdisco")
		if out, err := exec.Command("go", "build", "-o", c.bin, "./cmd/svcdisco").CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v\n%s", err, out)
		}
	}
	ens, err := testzk.New(3)
	if err != nil {
		return fmt.Errorf("ensemble: %w", err)
	}
	defer ens.Stop()
	if err := ens.WaitServing(time.Minute); err != nil {
		return err
	}
	e := &env{c: c, dir: dir, zk: ens, url: ens.URL(""), root: "/fleet"}
	stop, err := e.populate()
	defer stop()
	if err != nil {
		return err
	}
	direct, err := e.measure("direct", nil)
	if err != nil {
		return err
	}
	sockets, stopAgents, err := e.startAgents()
	defer stopAgents()
	if err != nil {
		return err
	}
	agent, err := e.measure("agent", sockets)
	if err != nil {
		return err
	}
	e.noProcess = true
	socket, err := e.measure("agent socket", sockets)
	if err != nil {
		return err
	}
	var servers []string
	for _, s := range ens.Servers {
		servers = append(servers, s.Addr())
	}
	z0, _, err := e.counters()
	if err != nil {
		return err
	}
	ceiling, err := churn(servers, e.root+"/services/svc0", 8, c.churn)
	if err != nil {
		return fmt.Errorf("churn: %w", err)
	}
	z1, _, err := e.counters()
	if err != nil {
		return err
	}
	report(c, direct, agent, socket)
	fmt.Printf("\nensemble ceiling, session create + getChildren + close from 8 in-process clients for %s:\n", c.churn)
	fmt.Printf("  %.0f sessions/s, %.0f writes/s\n", ceiling, float64(z1-z0)/c.churn.Seconds())
	perNode := float64(c.calls) / 1800
	fmt.Printf("  direct: each node converging every 30 min with %d calls makes %.3f sessions/s;\n", c.calls, perNode)
	fmt.Printf("  the ceiling is reached at %.0f nodes (half of it, to leave room for registrations: %.0f)\n", ceiling/perNode, ceiling/perNode/2)
	fmt.Printf("  agent: converges cost 0 sessions and 0 writes; each node holds 1 session and %.0f watches\n",
		float64(agent.watches-direct.watches)/float64(c.nodes))
	return nil
}

// env is one benchmark's ensemble and data.
type env struct {
	// noProcess: calls are requests on the agent's socket (what the Chef
	// library sends), not svcdisco processes.
	noProcess bool
	c         config
	dir       string
	zk        *testzk.Cluster
	url, root string
}

func (e *env) args(a ...string) []string {
	return append([]string{"--registry", e.url, "--root", e.root}, a...)
}

// populate registers providers providers for each service through one
// agent holding them all (one session), and waits until they are listed.
func (e *env) populate() (func(), error) {
	dir := filepath.Join(e.dir, "services.d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() {}, err
	}
	for s := 0; s < e.c.services; s++ {
		for p := 0; p < e.c.providers; p++ {
			f := fmt.Sprintf("service: svc%d\nport: %d\nhost: h%d.example.com\nattributes: {zone: z%d}\n", s, 8000+p, p, p%2)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("svc%d-%d.yaml", s, p)), []byte(f), 0o644); err != nil {
				return func() {}, err
			}
		}
	}
	stop, err := e.start("agent", "--config-dir", dir)
	if err != nil {
		return stop, err
	}
	last := fmt.Sprintf("svc%d", e.c.services-1)
	for deadline := time.Now().Add(time.Minute); ; {
		q := exec.Command(e.c.bin, e.args("query", last, "--at-least", strconv.Itoa(e.c.providers), "--wait", "10s", "-o", "lines")...)
		q.Env = e.environ()
		out, _ := q.Output()
		if strings.Count(string(out), "\n") >= e.c.providers {
			return stop, nil
		}
		if time.Now().After(deadline) {
			return stop, fmt.Errorf("providers not registered after a minute")
		}
	}
}

// environ keeps the calls' answer cache in the scratch directory.
func (e *env) environ() []string {
	return append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(e.dir, "cache"), "SVCDISCO_ANSWER_CACHE="+filepath.Join(e.dir, "answers"))
}

// start runs a long-lived svcdisco until the returned func stops it.
func (e *env) start(a ...string) (func(), error) {
	cmd := exec.Command(e.c.bin, e.args(a...)...)
	cmd.Env = e.environ()
	if err := cmd.Start(); err != nil {
		return func() {}, err
	}
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}, nil
}

// startAgents starts one `agent --serve` per node (a pure cache node) and
// waits for every socket to answer.
func (e *env) startAgents() ([]string, func(), error) {
	var stops []func()
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	empty := filepath.Join(e.dir, "empty.d") // no providers: pure cache nodes
	if err := os.MkdirAll(empty, 0o755); err != nil {
		return nil, stopAll, err
	}
	socks := make([]string, e.c.nodes)
	for i := range socks {
		socks[i] = filepath.Join(e.dir, fmt.Sprintf("node%d.sock", i))
		stop, err := e.start("agent", "--serve", socks[i], "--config-dir", empty)
		stops = append(stops, stop)
		if err != nil {
			return nil, stopAll, err
		}
	}
	for _, s := range socks {
		if err := waitSocket(s); err != nil {
			return nil, stopAll, err
		}
	}
	return socks, stopAll, nil
}

// waitSocket waits until the agent answers on path with its session up,
// so its session is not counted as one a converge caused.
func waitSocket(path string) error {
	c := nodecache.NewClient(path)
	defer c.Close()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.Ping(ctx)
		cancel()
		if err == nil && st.Online {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // a process start: nothing to wait on but the answer
	}
	return fmt.Errorf("%s: no agent online after a minute", path)
}

// calls is one converge's mix: mostly the providers of a service as
// host:port lines (templates), attribute-filtered JSON, the newest
// provider, an --at-least guard, and the list of services.
func (e *env) calls(node int) [][]string {
	out := make([][]string, 0, e.c.calls)
	for i := 0; len(out) < e.c.calls; i++ {
		svc := fmt.Sprintf("svc%d", (node+i)%e.c.services)
		var a []string
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			a = []string{"query", svc, "-o", "lines"}
		case 6, 7:
			a = []string{"query", svc, "-o", "json", "--where", "zone=z1"}
		case 8:
			a = []string{"query", svc, "-o", "json", "--latest"}
		default:
			if i%20 == 9 {
				a = []string{"query", svc, "--at-least", "2", "--wait", "5s", "-o", "lines"}
			} else {
				a = []string{"services", "-o", "json"}
			}
		}
		out = append(out, a)
	}
	return out
}

// sample is what one mode measured.
type sample struct {
	mode             string
	elapsed          time.Duration
	calls, failed    int
	writes, sessions int64
	watches          int64
	lat              []time.Duration
	cpu              []time.Duration // user+system time of each call's process
	converge         []time.Duration
}

// measure converges every node once: sockets nil asks the registry
// directly, else node i asks sockets[i].
func (e *env) measure(mode string, sockets []string) (*sample, error) {
	s := &sample{mode: mode}
	z0, c0, err := e.counters()
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < e.c.parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for node := range next {
				lat, cpu, conv, failed := e.converge(node, sockets)
				mu.Lock()
				s.lat, s.cpu, s.failed = append(s.lat, lat...), append(s.cpu, cpu...), s.failed+failed
				s.converge = append(s.converge, conv)
				mu.Unlock()
			}
		}()
	}
	for n := 0; n < e.c.nodes; n++ {
		next <- n
	}
	close(next)
	wg.Wait()
	s.elapsed = time.Since(start)
	s.calls = len(s.lat)
	z1, c1, err := e.counters()
	if err != nil {
		return nil, err
	}
	s.writes, s.sessions = z1-z0, c1-c0
	s.watches, err = e.watches()
	return s, err
}

// converge runs one node's calls in order, timing each whole process.
func (e *env) converge(node int, sockets []string) (lat, cpu []time.Duration, total time.Duration, failed int) {
	start := time.Now()
	for _, a := range e.calls(node) {
		if sockets != nil && !e.noProcess {
			a = append(a, "--agent-socket", sockets[node])
		}
		if e.noProcess {
			t := time.Now()
			if err := e.ask(sockets[node], a); err != nil {
				failed++
			}
			lat = append(lat, time.Since(t))
			continue
		}
		t := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, e.c.bin, e.args(a...)...)
		cmd.Env = e.environ()
		err := cmd.Run()
		cancel()
		lat = append(lat, time.Since(t))
		if cmd.ProcessState != nil {
			cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
		if err != nil {
			failed++
		}
	}
	return lat, cpu, time.Since(start), failed
}

// ask makes one call as the Chef library does with an agent socket: one
// request on a new connection, no process.
func (e *env) ask(sock string, args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := nodecache.NewClient(sock)
	defer c.Close()
	if args[0] == "services" {
		_, err := c.Services(ctx)
		return err
	}
	_, err := c.Query(ctx, args)
	return err
}
