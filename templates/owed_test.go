package templates

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

// The reproduction: the reload command fails after the file was
// written; the next pass finds the file unchanged but still owes the
// reload, says so and runs it — across processes, since the debt is kept
// beside the destination — until it succeeds once.
func TestFailedCommandIsOwed(t *testing.T) {
	src := writeTemplate(t, `{{ range providers "web" }}{{ .Host }} {{ end }}`)
	dir := t.TempDir()
	dest := filepath.Join(dir, "out22")
	flag := filepath.Join(dir, "reload-ok")
	cmd := "test -e " + flag + " && echo reloaded >> " + filepath.Join(dir, "reloads")
	load := func() *Template { // a fresh Template each pass, as a new --once run
		tm, err := Load(Spec{Source: src, Destination: dest, Command: cmd})
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	res := load().Apply(context.Background(), fixture(), ApplyOptions{})
	if res.Status != StatusWritten || res.Command != "failed" || res.Code != exitcode.Failure || !strings.Contains(res.Reason, "owed") {
		t.Fatalf("first pass: %+v", res)
	}
	res = load().Apply(context.Background(), fixture(), ApplyOptions{})
	if res.Status != StatusUnchanged || res.Command != "failed" || res.Code != exitcode.Failure || !strings.Contains(res.Reason, "owed from an earlier pass failed again") {
		t.Fatalf("second pass, command still failing: %+v", res)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res = load().Apply(context.Background(), fixture(), ApplyOptions{})
	if res.Status != StatusUnchanged || res.Command != "ok" || res.Code != 0 || !strings.Contains(res.Reason, "owed from an earlier pass") {
		t.Fatalf("third pass, command fixed: %+v", res)
	}
	res = load().Apply(context.Background(), fixture(), ApplyOptions{})
	if res.Status != StatusUnchanged || res.Command != "" || res.Reason != "" {
		t.Fatalf("fourth pass: nothing is owed any more: %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "reloads")); string(b) != "reloaded\n" {
		t.Errorf("reloads: %q, want exactly one", b)
	}
	if _, err := os.Stat(owedMarker(dest)); !os.IsNotExist(err) {
		t.Errorf("marker left behind: %v", err)
	}
}
