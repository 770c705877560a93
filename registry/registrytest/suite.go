// Package registrytest is the backend conformance suite: ONE set of
// behavioural tests of registry.Registry and of the commands built on it
// (register, query, services), run against every backend on a real server.
// A backend passes when it behaves as DESIGN.md says, whatever its wire
// protocol; what truly differs between backends (a ZooKeeper chroot, a
// Consul ACL token) is tested in the backend's own package.
//
// The suite's own tests (conformance_test.go) run it against real ZooKeeper
// and real Consul. Crash and SIGTERM tests run a real `svcdisco register` in
// a child process: the test binary re-executed, see Main.
package registrytest

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/registry"
)

// Backend is what the suite needs of one backend.
type Backend struct {
	// Name names the backend in test output: "zk", "consul".
	Name string
	// URL is the --registry URL of the server the suite runs against.
	URL string
	// UnreachableURL names a registry nothing listens on.
	UnreachableURL string
	// Open connects a new client under root. ttl is the crash-detection
	// time: the session timeout on ZooKeeper, the check TTL on Consul.
	// Open registers the client's Close with t.Cleanup.
	Open func(t *testing.T, root string, ttl time.Duration, log *slog.Logger) registry.Registry
	// InjectBad writes, under root, an entry of service that the entry rule
	// (registry.CheckKey) does not make a provider, the way another tool
	// might. It returns a string that the warning about it must contain.
	InjectBad func(t *testing.T, root, service string) string
	// Proxy, when set, returns a registry URL reaching the server through
	// a TCP proxy the test can cut (partition) and restore (heal).
	Proxy func(t *testing.T) (url string, partition, heal func())
	// LockTTL is the session timeout the lock fault tests use (Consul's
	// minimum session TTL is 10s; ZooKeeper's test servers allow less).
	LockTTL time.Duration
	// Ensemble, when set, starts a 3-server ensemble for the ensemble
	// fault rounds of the lock tests.
	Ensemble func(t *testing.T) Ensemble
	// LockRounds is the default number of fault rounds of
	// LockNeverTwoHolders (SVCDISCO_LOCK_ROUNDS overrides it).
	LockRounds int
}

// Ensemble is a replicated backend a test can break.
type Ensemble struct {
	URL string
	// KillLeader kills the leader (SIGKILL) and returns what restarts it.
	KillLeader func(t *testing.T) (restart func())
	// LoseQuorum kills a majority and returns what restarts it.
	LoseQuorum func(t *testing.T) (restore func())
}

// CrashTTL is the crash-detection time used by the crash tests: short, so
// they take seconds, long enough for a loaded CI machine to keep up.
const CrashTTL = 2 * time.Second

// Run runs every conformance test against b.
func Run(t *testing.T, b Backend) {
	s := &suite{b: b}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RegisterListDeregister", s.testRegisterListDeregister},
		{"InvalidInput", s.testInvalidInput},
		{"ReRegistration", s.testReRegistration},
		{"CloseDeregisters", s.testCloseDeregisters},
		{"Ordering", s.testOrdering},
		{"CaseDifferingNames", s.testCaseDifferingNames},
		{"QueryOptions", s.testQueryOptions},
		{"Tags", s.testTags},
		{"AtLeastWait", s.testAtLeastWait},
		{"Watch", s.testWatch},
		{"Maintenance", s.testMaintenance},
		{"MaintenanceSurvivesCheckFlap", s.testMaintenanceSurvivesCheckFlap},
		{"HealthChecked", s.testHealthChecked},
		{"Agent", s.testAgent},
		{"BadDataSkipped", s.testBadDataSkipped},
		{"CLIOutputAndExitCodes", s.testCLI},
		{"SIGTERMDeregistersAtOnce", s.testSIGTERM},
		{"CrashDropsOutAfterTTL", s.testCrash},
		{"Election", s.testElection},
	}
	tests = append(tests, s.lockTests()...)
	for _, tt := range tests {
		t.Run(tt.name, tt.fn)
	}
}

// LogBuffer collects a backend's logs for assertions.
type LogBuffer = testenv.Buffer

type suite struct{ b Backend }

var uniq struct {
	sync.Mutex
	n int
}

// root returns a --root unique to the test, so tests sharing a server do
// not see each other's providers.
func (s *suite) root(t *testing.T) string {
	uniq.Lock()
	defer uniq.Unlock()
	uniq.n++
	return "/conformance/" + s.b.Name + "-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + strconv.Itoa(uniq.n)
}

// open connects a client whose logs go to buf (nil: discarded).
func (s *suite) open(t *testing.T, root string, buf *LogBuffer) registry.Registry {
	t.Helper()
	return s.openTTL(t, root, 10*time.Second, buf)
}

func (s *suite) openTTL(t *testing.T, root string, ttl time.Duration, buf *LogBuffer) registry.Registry {
	t.Helper()
	var h slog.Handler = slog.DiscardHandler
	if buf != nil {
		h = slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return s.b.Open(t, root, ttl, slog.New(h))
}

// ctxT is a context for one step of a test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func list(t *testing.T, r registry.Registry, service string) []registry.Provider {
	t.Helper()
	ps, err := r.Providers(ctxT(t), service, registry.ListOptions{})
	if err != nil {
		t.Fatalf("Providers(%s): %v", service, err)
	}
	registry.Sort(ps)
	return ps
}

func mustRegister(t *testing.T, r registry.Registry, p registry.Provider) registry.Registration {
	t.Helper()
	reg, err := r.Register(ctxT(t), p)
	if err != nil {
		t.Fatalf("Register(%s %s:%d): %v", p.Service, p.Host, p.Port, err)
	}
	return reg
}

// web is a provider of "web" with an address, an attribute and an endpoint.
func web(host string, port int) registry.Provider {
	return registry.Provider{Service: "web", Host: host, Address: "10.0.0.5", Port: port, Weight: 1,
		Attributes: map[string]string{"zone": "a"},
		Endpoints:  map[string]registry.Endpoint{"admin": {Host: host, Port: port + 1}}}
}
