package chef

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
)

// chefSolo finds a Chef Infra Client: chef-solo on PATH (a user's Chef or
// Cinc), else the kit beside the project (../shared/chef, CI's layout),
// else the test ends as for any missing server.
func chefSolo(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chef-solo"); err == nil {
		return p
	}
	kit, err := filepath.Abs("../../../shared/chef/chef-solo")
	if err == nil {
		if _, err = os.Stat(kit); err == nil {
			return kit
		}
	}
	testenv.Missing(t, "chef-solo (on PATH, or ../shared/chef/chef-solo after ../shared/chef/install)", err)
	return ""
}

// kitchen is one chef-solo workspace: the svcdisco cookbook, the test
// cookbooks under testdata/, and a cookbook "readme" made of the README's
// examples (see readmeExamples), all converged in legacy mode.
type kitchen struct {
	t    *testing.T
	solo string
	dir  string // scratch directory; README paths under /etc/ are moved here
	subs map[string]string
}

// Paths a converge writes, all inside the scratch directory.
func (k *kitchen) path(p string) string { return filepath.Join(k.dir, p) }

func newKitchen(t *testing.T, subs map[string]string) *kitchen {
	t.Helper()
	k := &kitchen{t: t, solo: chefSolo(t), dir: t.TempDir(), subs: subs}
	k.subs["'/etc/"] = "'" + k.dir + "/etc/"
	for _, d := range []string{"cookbooks/readme/recipes", "roles", "cache", "nodes"} {
		if err := os.MkdirAll(k.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	k.write("cookbooks/readme/metadata.rb", "name 'readme'\nversion '0.1.0'\ndepends 'svcdisco'\n")
	for _, ex := range readmeExamples(t) {
		if ex.converged {
			k.write(ex.path, k.substitute(ex.code))
		}
	}
	return k
}

func (k *kitchen) substitute(code string) string {
	for from, to := range k.subs {
		code = strings.ReplaceAll(code, from, to)
	}
	return code
}

func (k *kitchen) write(rel, content string) {
	k.t.Helper()
	p := k.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		k.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

// converge is one chef-solo run.
type converge struct {
	env     string         // Chef environment
	runList []string       // run list
	attrs   map[string]any // normal attributes (node.json)
	whyRun  bool
}

// run runs chef-solo and returns its output and error. The run's process
// group (anything a recipe started) is stopped when the test ends.
func (k *kitchen) run(c converge) (string, error) {
	k.t.Helper()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			k.t.Fatal(err)
		}
		return a
	}
	k.write("solo.rb", fmt.Sprintf(`cookbook_path [%q, %q, %q]
file_cache_path %q
node_path %q
role_path %q
environment_path %q
environment %q
node_name 'node1'
solo_legacy_mode true
`, abs("cookbooks"), abs("testdata/cookbooks"), k.path("cookbooks"), k.path("cache"), k.path("nodes"),
		k.path("roles"), abs("testdata/environments"), c.env))
	attrs := map[string]any{"run_list": c.runList}
	for name, v := range c.attrs {
		attrs[name] = v
	}
	node, err := json.Marshal(attrs)
	if err != nil {
		k.t.Fatal(err)
	}
	k.write("node.json", string(node))
	args := []string{"--legacy-mode", "-c", k.path("solo.rb"), "-j", k.path("node.json"), "--no-color"}
	if c.whyRun {
		args = append(args, "--why-run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.solo, args...)
	cmd.Dir = k.dir
	// chef-solo runs as root here, whose default caches are under
	// /var/cache/svcdisco: a converge's answers stay in its scratch directory.
	cmd.Env = append(testenv.CleanEnv(), "XDG_CACHE_HOME="+k.path("cache"), "HOME="+k.dir,
		"SVCDISCO_ANSWER_CACHE="+k.path("cache/answers"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A process a recipe leaves running must not hold the output open.
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		pgid := cmd.Process.Pid
		k.t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGTERM) })
	}
	k.t.Logf("chef-solo %s (why-run %v): %v in %s", strings.Join(c.runList, ","), c.whyRun, err,
		time.Since(start).Round(time.Millisecond))
	return string(out), err
}

// readFile returns a file the converge wrote ("" when it does not exist).
func (k *kitchen) readFile(rel string) string {
	b, err := os.ReadFile(k.path(rel))
	if err != nil && !os.IsNotExist(err) {
		k.t.Fatal(err)
	}
	return string(b)
}

func (k *kitchen) exists(rel string) bool {
	_, err := os.Stat(k.path(rel))
	return err == nil
}

// example is a code block of the cookbook README marked with an HTML
// comment: "converged as PATH" blocks become file PATH of the readme
// cookbook (roles/NAME.rb: a role) and are converged as they are (paths
// under /etc/ moved to the scratch directory, hosts and URLs substituted);
// "excerpt of PATH" blocks must appear verbatim in that fixture file.
type example struct {
	path      string
	code      string
	converged bool
}

var exampleRE = regexp.MustCompile("(?s)<!-- (converged as|excerpt of) (\\S+) -->\n```[a-z]*\n(.*?)```")

func readmeExamples(t *testing.T) []example {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var exs []example
	for _, m := range exampleRE.FindAllStringSubmatch(string(b), -1) {
		p := m[2]
		if m[1] == "converged as" && !strings.HasPrefix(p, "roles/") {
			p = "cookbooks/readme/" + p
		}
		exs = append(exs, example{path: p, code: m[3], converged: m[1] == "converged as"})
	}
	if len(exs) == 0 {
		t.Fatal("README.md has no marked examples")
	}
	return exs
}
