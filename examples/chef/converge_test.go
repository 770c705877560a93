package chef

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// registry is the ZooKeeper the converges use, with providers registered
// under two environments' roots (ROOT/production and ROOT/staging) of one
// ensemble.
type registry struct {
	zk   *testzk.Cluster
	root string // root_prefix of the converged nodes
	port string // ZooKeeper's client port
}

// provider is one `svcdisco register` the test holds for its duration.
type provider struct {
	env, service, host, address string
	port                        int
	attrs                       []string
}

var providers = []provider{
	{"production", "web", "web1.example.com", "10.0.0.1", 8080, []string{"zone=a"}},
	{"production", "web", "web2.example.com", "10.0.0.2", 8081, []string{"zone=b"}},
	{"staging", "web", "web-staging.example.com", "10.1.0.1", 8080, []string{"zone=a"}},
	{"production", "bakery-kafka-broker", "kafka1.example.com", "10.0.0.5", 9092, nil},
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	return newRegistryOn(t, testzk.Shared(t))
}

// newRegistryOn is newRegistry on a server of the test's own (a test that
// counts the server's writes cannot share it: another test's session
// expiring is a write too).
func newRegistryOn(t *testing.T, zk *testzk.Cluster) *registry {
	t.Helper()
	r := &registry{zk: zk, root: testzk.Root(t)}
	r.port = zk.ConnString()[strings.LastIndex(zk.ConnString(), ":")+1:]
	count := map[string]int{}
	for _, p := range providers {
		args := []string{"register", p.service, "--port", strconv.Itoa(p.port), "--host", p.host,
			"--address", p.address, "--registry", zk.URL(""), "--root", r.root + "/" + p.env}
		for _, a := range p.attrs {
			args = append(args, "--attr", a)
		}
		stderr := startRegister(t, args)
		// Wait for each before the next, so "oldest first" is this order.
		count[p.env+"/"+p.service]++
		if _, err := r.query(p.env, p.service, count[p.env+"/"+p.service]); err != nil {
			out, _ := exec.Command(binary, "query", p.service, "--registry", zk.URL(""), "--root", r.root+"/"+p.env).CombinedOutput()
			t.Fatalf("%v\nregister %s: %s\n%s", err, p.host, stderr.String(), out)
		}
	}
	return r
}

// startRegister runs `svcdisco register` until the test ends (SIGTERM:
// it deregisters, then exits).
func startRegister(t *testing.T, args []string) *testenv.Buffer {
	t.Helper()
	stderr := &testenv.Buffer{}
	cmd := exec.Command(binary, args...)
	cmd.Env = testenv.CleanEnv()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return stderr
}

// query waits until env's service has at least n providers and returns
// them. It polls plain queries: a `query --at-least N --wait` that starts
// while the provider is being registered can miss it and wait in vain.
func (r *registry) query(env, service string, n int) ([]map[string]any, error) {
	var got []map[string]any
	var last error
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		cmd := exec.Command(binary, "query", service, "-o", "json", "--registry", r.zk.URL(""),
			"--root", r.root+"/"+env)
		cmd.Env = testenv.CleanEnv()
		out, err := cmd.Output()
		if err == nil {
			err = json.Unmarshal(out, &got)
		}
		if err == nil && len(got) >= n {
			return got, nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("query %s/%s: fewer than %d providers after 90s (%v)", env, service, n, last)
}

// kitchenFor is a workspace whose README examples install the test's
// binary from a file:// URL and use the test's ZooKeeper.
func kitchenFor(t *testing.T, r *registry) *kitchen {
	t.Helper()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return newKitchen(t, map[string]string{
		"https://artifacts.example.com/svcdisco/1.0.0/svcdisco-linux-amd64": "file://" + binary,
		"<sha256>":                       hex.EncodeToString(sum[:]),
		"%w[zk1:2181 zk2:2181 zk3:2181]": "%w[127.0.0.1:" + r.port + "]",
	})
}

// nodeAttrs are the svcdisco attributes of every converge: files in the
// scratch directory, the test's root, no agent unless asked.
func nodeAttrs(k *kitchen, r *registry, extra map[string]any) map[string]any {
	sd := map[string]any{
		"bin":          k.path("usr/local/bin/svcdisco"),
		"config_file":  k.path("etc/svcdisco/svcdisco.yaml"),
		"services_dir": k.path("etc/svcdisco/services.d"),
		"root_prefix":  r.root,
		"agent":        map[string]any{"enabled": false},
		"haproxy":      map[string]any{"config_file": k.path("etc/haproxy/haproxy.cfg")},
	}
	for name, v := range extra {
		sd[name] = v
	}
	return map[string]any{"svcdisco": sd}
}

// fakeExhibitor answers Exhibitor's cluster/list with the test's ZooKeeper.
func fakeExhibitor(t *testing.T, r *registry) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/exhibitor/v1/cluster/list" {
			http.NotFound(w, req)
			return
		}
		fmt.Fprintf(w, `{"servers":["127.0.0.1"],"port":%s}`, r.port)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFirstRun converges a node's first run in production, for real (no
// agent: it needs systemd): the README's role, the ironfan-style consumer
// (whose legacy library shadows the plain names for every later recipe
// unless the compatibility layer is active, as on a real ironfan node), then
// the README's provider, lazy and outage examples.
func TestFirstRun(t *testing.T) {
	r := newRegistry(t)
	k := kitchenFor(t, r)
	// A provider file left by a service this node no longer provides.
	k.write("etc/svcdisco/services.d/web-legacy.json", `{"service":"web-legacy","port":1}`+"\n")
	attrs := nodeAttrs(k, r, map[string]any{
		"config": map[string]any{"templates": []any{map[string]any{
			"source": "/etc/svcdisco/haproxy.cfg.tmpl", "destination": "/etc/haproxy/haproxy.cfg"}}},
	})
	attrs["cluster_name"] = "bakery"
	attrs["ironfan_consumer"] = map[string]any{"dir": k.path("etc/ironfan_consumer"),
		"exhibitor_url": fakeExhibitor(t, r)}
	out, err := k.run(converge{env: "production", attrs: attrs, runList: []string{
		"role[svcdisco_zk]", "recipe[ironfan_consumer]", "recipe[readme::provider]",
		"recipe[svcdisco_test::late_provider]", "recipe[readme::lazy]", "recipe[readme::outage]"}})
	if err != nil {
		t.Fatalf("chef-solo: %v\n%s", err, out)
	}
	t.Run("RoleHostsAreNotUnionedWithADefault", func(t *testing.T) { checkConfigFile(t, k, r) })
	t.Run("BinaryInstalledAtCompileTime", func(t *testing.T) { checkBinaryAndCompileTime(t, k) })
	t.Run("LazyLooksUpAtConvergeTime", func(t *testing.T) {
		want := "10.0.0.1:8080\n10.0.0.2:8081\n10.0.0.9:8082"
		if got := k.readFile("etc/myapp/backends.txt"); got != want {
			t.Errorf("backends.txt = %q, want %q (with the provider registered during the converge)", got, want)
		}
	})
	t.Run("SvcdiscoProvider", func(t *testing.T) { checkProviderFiles(t, k, out) })
	t.Run("OutageExampleKeepsTheFile", func(t *testing.T) {
		if k.exists("etc/myapp/db.txt") || !strings.Contains(out, "keeping the current db.txt") {
			t.Errorf("db.txt exists: %v; want it absent and the warning logged:\n%s", k.exists("etc/myapp/db.txt"), out)
		}
	})
	t.Run("IronfanConsumer", func(t *testing.T) { checkIronfanConsumer(t, k, r) })
	t.Run("SecondRunChangesNothing", func(t *testing.T) {
		out, err := k.run(converge{env: "production", attrs: attrs, runList: []string{"role[svcdisco_zk]", "recipe[readme::provider]"}})
		if err != nil {
			t.Fatalf("chef-solo: %v\n%s", err, out)
		}
		for _, want := range []string{"services.d/web.json] action create (up to date)",
			"svcdisco.yaml] action create (up to date)", "/usr/local/bin/svcdisco] action create (up to date)"} {
			if !strings.Contains(out, want) {
				t.Errorf("second run: output lacks %q\n%s", want, out)
			}
		}
	})
}

func checkConfigFile(t *testing.T, k *kitchen, r *registry) {
	text := k.readFile("etc/svcdisco/svcdisco.yaml")
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("svcdisco.yaml: %v\n%s", err, text)
	}
	if want := "zk://127.0.0.1:" + r.port; cfg["registry"] != want {
		t.Errorf("registry = %v, want %s (the role's hosts only)", cfg["registry"], want)
	}
	if want := r.root + "/production"; cfg["root"] != want {
		t.Errorf("root = %v, want %s", cfg["root"], want)
	}
	tpl, _ := cfg["templates"].([]any)
	first, _ := func() (map[string]any, bool) {
		if len(tpl) != 1 {
			return nil, false
		}
		m, ok := tpl[0].(map[string]any)
		return m, ok
	}()
	if first["source"] != "/etc/svcdisco/haproxy.cfg.tmpl" || strings.Contains(text, "!ruby") || len(text) > 1000 {
		t.Errorf("templates not written as plain YAML:\n%.2000s", text)
	}
	out, err := exec.Command(binary, "version", "--config", k.path("etc/svcdisco/svcdisco.yaml")).CombinedOutput()
	if err != nil {
		t.Errorf("svcdisco version --config: %v\n%s", err, out)
	}
}

func checkBinaryAndCompileTime(t *testing.T, k *kitchen) {
	want, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(k.path("usr/local/bin/svcdisco"))
	if err != nil || string(got) != string(want) {
		t.Errorf("binary not installed from the role's url: %v", err)
	}
	// Production's providers only: the staging one shares the ensemble.
	if got := k.readFile("etc/myapp/backends-at-compile.txt"); got != "10.0.0.1:8080\n10.0.0.2:8081" {
		t.Errorf("backends-at-compile.txt = %q, want production's two providers", got)
	}
}

func checkProviderFiles(t *testing.T, k *kitchen, out string) {
	var web map[string]any
	if err := json.Unmarshal([]byte(k.readFile("etc/svcdisco/services.d/web.json")), &web); err != nil {
		t.Fatalf("web.json: %v", err)
	}
	want := map[string]any{"service": "web", "port": 8080.0, "check": "http://127.0.0.1:8080/health",
		"attributes": map[string]any{"version": "1.4.2", "zone": "us-east-1a"}}
	if fmt.Sprint(web) != fmt.Sprint(want) {
		t.Errorf("web.json = %v, want %v", web, want)
	}
	if k.exists("etc/svcdisco/services.d/web-legacy.json") {
		t.Error("svcdisco_provider 'web-legacy' action :delete left its file")
	}
	for _, line := range []string{"* svcdisco_provider[web] action create", "* svcdisco_provider[web-legacy] action delete"} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q (the resource is not reported)", line)
		}
	}
	var app map[string]any
	if err := json.Unmarshal([]byte(k.readFile("etc/svcdisco/services.d/app.json")), &app); err != nil ||
		fmt.Sprint(app["attributes"]) != "map[role:master]" {
		t.Errorf("provide_service('app', role: 'master'): %v %v", app, err)
	}
}

func checkIronfanConsumer(t *testing.T, k *kitchen, r *registry) {
	var facts map[string]any
	if err := json.Unmarshal([]byte(k.readFile("etc/ironfan_consumer/facts.json")), &facts); err != nil {
		t.Fatalf("facts.json: %v", err)
	}
	// The consumer looks up at compile time, before the late provider of
	// TestFirstRun registers.
	want := map[string]any{
		"servers":                  []any{"web1.example.com", "web2.example.com"},
		"zone_a":                   []any{"10.0.0.1"},
		"zone_b":                   []any{"web2.example.com"},
		"newest":                   "web2.example.com 10.0.0.2 web2.example.com",
		"newest_port":              8081.0,
		"newest_is_a_mash":         true,
		"or_fail":                  "10.0.0.2",
		"provider_private_ip":      "10.0.0.2",
		"provider_fqdn":            "web2.example.com",
		"all_provider_private_ips": []any{"10.0.0.1", "10.0.0.2"},
		"absent":                   "nil",
		"kafka_zk":                 "127.0.0.1:" + r.port + "/kafka",
		"broker":                   "kafka1.example.com:9092",
		"brokers":                  1.0,
	}
	for key, w := range want {
		if fmt.Sprint(facts[key]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", key, facts[key], w)
		}
	}
	wantCfg := "server web1.example.com 10.0.0.1:8080 check\nserver web2.example.com 10.0.0.2:8081 check\n"
	if got := k.readFile("etc/ironfan_consumer/backends.cfg"); got != wantCfg {
		t.Errorf("backends.cfg (the ironfan template) =\n%s\nwant\n%s", got, wantCfg)
	}
	for _, f := range []string{"app.json", "bakery-kafka-broker.json"} {
		if !k.exists("etc/svcdisco/services.d/" + f) {
			t.Errorf("provide_service / announce wrote no %s", f)
		}
	}
}
