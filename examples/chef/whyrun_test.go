package chef

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestWhyRunWithAgent converges a staging node (TestFirstRun's is in
// production, on the same ensemble) with the README's role and provider
// example and haproxy_example, with --why-run and the agent enabled
// (systemd is not needed then): the unit is a systemd_unit, the provider's
// change notifies the agent, a new binary restarts it, haproxy.cfg would
// list staging's provider only, and nothing is written.
func TestWhyRunWithAgent(t *testing.T) {
	r := newRegistry(t)
	k := kitchenFor(t, r)
	attrs := nodeAttrs(k, r, map[string]any{"agent": map[string]any{"enabled": true}})
	// An older svcdisco is installed: the role's url and checksum replace it.
	const older = "#!/bin/sh\n# an older svcdisco\nexec %s \"$@\"\n"
	k.write("usr/local/bin/svcdisco", fmt.Sprintf(older, binary))
	if err := os.Chmod(k.path("usr/local/bin/svcdisco"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A current haproxy.cfg: why-run then prints the diff it would apply.
	const current = "# the current haproxy.cfg\n"
	k.write("etc/haproxy/haproxy.cfg", current)
	out, err := k.run(converge{env: "staging", attrs: attrs, whyRun: true, runList: []string{
		"role[svcdisco_zk]", "recipe[readme::provider]", "recipe[svcdisco::haproxy_example]"}})
	if err != nil {
		t.Fatalf("chef-solo --why-run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"* systemd_unit[svcdisco-agent.service] action create",
		"* systemd_unit[svcdisco-agent.service] action enable",
		"* systemd_unit[svcdisco-agent.service] action start",
		"* svcdisco_provider[web] action create",
		// the new binary (installed at compile time) restarts the agent
		"- Would update content in file " + k.path("usr/local/bin/svcdisco"),
		"* notify_group[svcdisco binary changed] action run",
		"* systemd_unit[svcdisco-agent.service] action restart",
		// the delayed notification of the provider example
		"* systemd_unit[svcdisco-agent.service] action reload",
		// haproxy.cfg's diff: staging's provider
		"+    server web-web-staging.example.com-8080 10.1.0.1:8080 check weight 1 # zone a",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "10.0.0.1") || strings.Contains(out, "10.0.0.2") {
		t.Error("a staging node would list production's providers")
	}
	for _, f := range []string{"etc/svcdisco/services.d/web.json", "etc/svcdisco/svcdisco.yaml"} {
		if k.exists(f) {
			t.Errorf("--why-run wrote %s", f)
		}
	}
	if got := k.readFile("usr/local/bin/svcdisco"); got != fmt.Sprintf(older, binary) {
		t.Error("--why-run replaced the binary")
	}
	if got := k.readFile("etc/haproxy/haproxy.cfg"); got != current {
		t.Errorf("--why-run changed haproxy.cfg:\n%s", got)
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestCompileErrorWritesNothing: providers declared by a run that then
// fails to compile are not written.
func TestCompileErrorWritesNothing(t *testing.T) {
	r := newRegistry(t)
	k := kitchenFor(t, r)
	out, err := k.run(converge{env: "production", attrs: nodeAttrs(k, r, nil),
		runList: []string{"recipe[svcdisco_test::compile_error]"}})
	if err == nil || !strings.Contains(out, "a later compile error") {
		t.Fatalf("want the run to fail on its compile error; got %v\n%s", err, out)
	}
	entries, err := os.ReadDir(k.path("etc/svcdisco/services.d"))
	if err == nil && len(entries) > 0 {
		t.Errorf("a run that failed to compile wrote %s", entries[0].Name())
	}
}

// TestTooFewProvidersFailsWithSvcdiscoError: haproxy_example with fewer
// providers than min_providers fails its template resource with
// Svcdisco::NotEnoughProvidersError itself, not Chef's TemplateError.
func TestTooFewProvidersFailsWithSvcdiscoError(t *testing.T) {
	r := newRegistry(t)
	k := kitchenFor(t, r)
	attrs := nodeAttrs(k, r, map[string]any{"install_method": "none", "bin": binary,
		"haproxy": map[string]any{"config_file": k.path("etc/haproxy/haproxy.cfg"), "min_providers": 3}})
	out, err := k.run(converge{env: "production", attrs: attrs, whyRun: true,
		runList: []string{"role[svcdisco_zk]", "recipe[svcdisco::haproxy_example]"}})
	if err == nil {
		t.Fatalf("want the run to fail: 2 providers, min_providers 3\n%s", out)
	}
	trace := k.readFile("cache/chef-stacktrace.out")
	lines := strings.SplitN(trace, "\n", 3) // "Generated at ...", "CLASS: MESSAGE", ...
	first := ""
	if len(lines) > 1 {
		first = strings.SplitN(lines[1], ": ", 2)[0]
	}
	if first != "Svcdisco::NotEnoughProvidersError" || !strings.Contains(out, "at least 3 required") {
		t.Errorf("the run failed with %q, want Svcdisco::NotEnoughProvidersError and svcdisco's message\n%s", first, out)
	}
}

// TestReadmeExamples: every "excerpt of" example of the README is in the
// fixture it names, and the converged examples are the ones the converge
// tests run.
func TestReadmeExamples(t *testing.T) {
	converged := map[string]bool{}
	for _, ex := range readmeExamples(t) {
		if ex.converged {
			converged[ex.path] = true
			continue
		}
		b, err := os.ReadFile(ex.path)
		if err != nil || !strings.Contains(string(b), ex.code) {
			t.Errorf("README example is not in %s (%v):\n%s", ex.path, err, ex.code)
		}
	}
	for _, p := range []string{"roles/svcdisco_zk.rb", "cookbooks/readme/recipes/provider.rb",
		"cookbooks/readme/recipes/lazy.rb", "cookbooks/readme/recipes/outage.rb"} {
		if !converged[p] {
			t.Errorf("README has no example converged as %s", p)
		}
	}
}
