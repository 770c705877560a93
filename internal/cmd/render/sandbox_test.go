package render_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testzk"
)

// TestSandboxFlagsAndConfig: --function-denylist and a stanza's
// function_denylist stop env; --sandbox-path and sandbox_path confine file.
func TestSandboxFlagsAndConfig(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	dir := filepath.Dir(e.file("in.txt", "from the sandbox\n", 0o644))
	envTmpl := e.file("env.tmpl", `{{ env "HOME" }}`+"\n", 0o644)
	fileTmpl := e.file("file.tmpl", `{{ file "in.txt" }}`, 0o644)
	dest := e.file("out", "keep me\n", 0o644)

	_, errOut, code := e.run("render", "--once", "--function-denylist", "env", "--template", envTmpl+":"+dest)
	if code != 2 || !strings.Contains(errOut, `function "env" is denied`) {
		t.Fatalf("--function-denylist env: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = e.run("render", "--once", "--function-denylist", "evn", "--template", envTmpl+":"+dest)
	if code != 2 || !strings.Contains(errOut, `unknown function "evn"`) {
		t.Fatalf("--function-denylist typo: exit %d, stderr %q", code, errOut)
	}
	if _, _, code = e.run("render", "--once", "--template", fileTmpl+":"+dest); code != 2 || e.read(dest) != "keep me\n" {
		t.Fatalf("file without a sandbox: exit %d, dest %q", code, e.read(dest))
	}
	if _, errOut, code = e.run("render", "--once", "--sandbox-path", dir, "--template", fileTmpl+":"+dest); code != 0 || e.read(dest) != "from the sandbox\n" {
		t.Fatalf("--sandbox-path: exit %d, dest %q, stderr %q", code, e.read(dest), errOut)
	}
	cfg := e.file("svcdisco.yaml", "templates:\n  - source: "+envTmpl+"\n    destination: "+dest+"\n    function_denylist: [env]\n    sandbox_path: "+dir+"\n", 0o644)
	if _, errOut, code = e.run("render", "--once", "--config", cfg); code != 2 || !strings.Contains(errOut, `function "env" is denied`) {
		t.Fatalf("function_denylist in the config: exit %d, stderr %q", code, errOut)
	}
}
