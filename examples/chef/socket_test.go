package chef

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/nodecache"
)

// fiftyCalls is a recipe making 50 discovery calls at compile time, the
// mix of a busy converge, and writing what they returned.
const fiftyCalls = `out = []
10.times do
  out << all_providers_for_service('web').map { |p| "#{p['host']}:#{p['port']}" }.join(',')
  out << all_providers_for_service('web', where: { 'zone' => 'a' }).map { |p| p['host'] }.join(',')
  out << provider_for_service('web')['host']
  out << all_providers_for_service('web', at_least: 2, wait: 5).size.to_s
  out << all_providers_for_service('bakery-kafka-broker').map { |p| p['port'] }.join(',')
end
file node['fifty']['out'] do
  content out.join("\n") + "\n"
end
`

// TestConvergeThroughAgentSocket converges a node making 50 discovery
// calls twice with real chef-solo: without the agent socket every call is
// a ZooKeeper session (each session created and closed is an ordered write,
// counted by the server's zxid); with node['svcdisco']['agent']['socket'] the
// same converge, with the same answers, costs the ensemble no session and
// no write at all.
//
// It runs on a server of its own, and each count starts once only the
// registrants and the agent hold sessions: a session expiring in the
// window (one an earlier test left, or a command's not yet closed) is a
// write too.
func TestConvergeThroughAgentSocket(t *testing.T) {
	r := newRegistryOn(t, testzk.Start(t, 1))
	k := kitchenFor(t, r)
	k.write("cookbooks/readme/recipes/fifty_calls.rb", fiftyCalls)
	sock := k.path("run/svcdisco/agent.sock")
	startAgent(t, r, sock)
	zkAddr := r.zk.ConnString()

	// sessions counts sessions established on the server (mntr).
	sessions := func() int64 {
		t.Helper()
		m, err := testzk.Mntr(zkAddr)
		if err != nil {
			t.Fatal(err)
		}
		return m["zk_connection_request_count"]
	}
	var opened []int64
	writes := func(socket string) (int64, string) {
		t.Helper()
		s0 := sessions()
		extra := map[string]any{"bin": binary, "registry": r.zk.URL(""), "agent": map[string]any{"enabled": false, "socket": socket}}
		attrs := nodeAttrs(k, r, extra)
		out := k.path(fmt.Sprintf("fifty-%t.txt", socket != ""))
		attrs["fifty"] = map[string]any{"out": out}
		testenv.WaitFor(t, "the sessions of the registrants and the agent only", 60*time.Second, func() bool {
			m, err := testzk.Mntr(zkAddr)
			return err == nil && m["zk_global_sessions"] == int64(len(providers)+1)
		})
		before, err := testzk.Zxid(zkAddr)
		if err != nil {
			t.Fatal(err)
		}
		log, err := k.run(converge{env: "production", runList: []string{"recipe[readme::fifty_calls]"}, attrs: attrs})
		if err != nil {
			t.Fatalf("converge (socket %q): %v\n%s", socket, err, log)
		}
		after, err := testzk.Zxid(zkAddr)
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, sessions()-s0)
		return after - before, k.readFile(strings.TrimPrefix(out, k.dir+"/"))
	}
	// The first ask of each service starts the agent's watches (reads).
	c := nodecache.NewClient(sock)
	for _, svc := range []string{"web", "bakery-kafka-broker"} {
		if _, err := c.Watch(t.Context(), svc); err != nil {
			t.Fatal(err)
		}
	}
	direct, want := writes("")
	through, got := writes(sock)
	t.Logf("50 calls: %d ensemble writes and %d sessions directly, %d writes and %d sessions through the agent socket",
		direct, opened[0], through, opened[1])
	if opened[0] < 50 || opened[1] != 0 {
		t.Errorf("sessions opened by the converge: %d directly (want one per call), %d through the agent (want 0)", opened[0], opened[1])
	}
	if got != want || !strings.Contains(want, "web1.example.com:8080,web2.example.com:8081") {
		t.Errorf("answers through the agent:\n%s\ndirect:\n%s", got, want)
	}
	if direct < 2*50 {
		t.Errorf("direct converge: %d writes, expected at least 2 per call (session create and close)", direct)
	}
	if through != 0 {
		t.Errorf("converge through the agent socket: %d ensemble writes, want 0", through)
	}
}

// startAgent runs `svcdisco agent --serve sock` for the production root
// with no provider directory, until the test ends.
func startAgent(t *testing.T, r *registry, sock string) {
	t.Helper()
	stderr := &testenv.Buffer{}
	cmd := exec.Command(binary, "agent", "--serve", sock, "--registry", r.zk.URL(""), "--root", r.root+"/production")
	cmd.Env = testenv.CleanEnv()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("agent's log:\n%s", stderr.String())
		}
	})
	c := nodecache.NewClient(sock)
	testenv.WaitFor(t, "the agent's socket to answer", time.Minute, func() bool {
		_, err := c.Ping(context.Background())
		return err == nil
	})
}
