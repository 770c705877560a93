package templates

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSandbox(t *testing.T) {
	t.Setenv("SVCDISCO_TEST_SECRET", "hunter2-env")
	box := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret.txt")
	for p, body := range map[string]string{filepath.Join(box, "in.txt"): "inside\n", outside: "outside\n"} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(box, "link.txt")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body string
		spec       Spec
		want       string // output, or the error's text when wantErr
		wantErr    bool
	}{
		{"env allowed by default", `{{ env "SVCDISCO_TEST_SECRET" }}`, Spec{}, "hunter2-env", false},
		{"env denied", `{{ env "SVCDISCO_TEST_SECRET" }}`, Spec{FunctionDenylist: []string{"env"}}, `function "env" is denied`, true},
		{"sprig function denied", `{{ upper "x" }}`, Spec{FunctionDenylist: []string{"upper"}}, `function "upper" is denied`, true},
		{"file off without sandbox", `{{ file "` + outside + `" }}`, Spec{}, "need a sandbox_path", true},
		{"file inside, relative", `{{ file "in.txt" }}`, Spec{SandboxPath: box}, "inside\n", false},
		{"file inside, absolute", `{{ file "` + filepath.Join(box, "in.txt") + `" }}`, Spec{SandboxPath: box}, "inside\n", false},
		{"file outside", `{{ file "` + outside + `" }}`, Spec{SandboxPath: box}, "outside sandbox_path", true},
		{"file escaping with ..", `{{ file "../` + filepath.Base(filepath.Dir(outside)) + `/secret.txt" }}`, Spec{SandboxPath: box}, "outside sandbox_path", true},
		{"file through a symlink out", `{{ file "link.txt" }}`, Spec{SandboxPath: box}, "outside sandbox_path", true},
		{"file denied", `{{ file "in.txt" }}`, Spec{SandboxPath: box, FunctionDenylist: []string{"file"}}, `function "file" is denied`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Source, c.spec.Destination = writeTemplate(t, c.body), filepath.Join(t.TempDir(), "out")
			tm, err := Load(c.spec)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			ex, err := tm.Execute(fixture())
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("got %v, want an error containing %q", err, c.want)
				}
				return
			}
			if err != nil || string(ex.Contents) != c.want {
				t.Fatalf("got %q, %v; want %q", ex.Contents, err, c.want)
			}
		})
	}
}

func TestSandboxValidate(t *testing.T) {
	for _, sp := range []Spec{
		{Source: "a", Destination: "b", FunctionDenylist: []string{"evn"}},
		{Source: "a", Destination: "b", SandboxPath: "relative/dir"},
	} {
		if err := sp.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", sp)
		}
	}
	if names := FunctionNames(); !contains(names, "env") || !contains(names, "file") || !contains(names, "providers") {
		t.Errorf("FunctionNames() = %v", names)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
