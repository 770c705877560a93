package chef

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

const cookbook = "cookbooks/svcdisco"

// binary is svcdisco built once for these tests.
var binary string

func TestMain(m *testing.M) { testenv.MainWithBinary(m, &binary, false, testzk.StopShared) }

// rubyPath finds ruby, or ends the test as for any missing server: a
// failure when SVCDISCO_REQUIRE_INTEGRATION=1, else a skip.
func rubyPath(t *testing.T) string {
	t.Helper()
	ruby, err := exec.LookPath("ruby")
	if err == nil {
		return ruby
	}
	testenv.Missing(t, "ruby (apt-get install ruby)", err)
	return ""
}

// TestRubySyntax: every Ruby file of the cookbook passes `ruby -wc`
// without a warning.
func TestRubySyntax(t *testing.T) {
	ruby := rubyPath(t)
	var files []string
	err := filepath.WalkDir(cookbook, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".rb") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d Ruby files under %s: %v", len(files), cookbook, files)
	}
	for _, f := range files {
		out, err := exec.Command(ruby, "-wc", f).CombinedOutput()
		if err != nil || string(out) != "Syntax OK\n" {
			t.Errorf("ruby -wc %s: %v\n%s", f, err, out)
		}
	}
}

// features lists the commands beyond query this source tree has, so the
// Ruby tests of agent/maintenance and ensemble run exactly when the
// commands exist (and fail if they then misbehave).
func features() string {
	var fs []string
	for _, f := range []string{"agent", "ensemble"} {
		if _, err := os.Stat(filepath.Join("../../internal/cmd", f)); err == nil {
			fs = append(fs, f)
		}
	}
	return strings.Join(fs, ",")
}

var summaryRE = regexp.MustCompile(`(\d+) runs, (\d+) assertions, (\d+) failures, (\d+) errors, (\d+) skips`)

// TestCookbook runs the cookbook's minitest suite (test/all.rb) against
// the built binary and a real ZooKeeper.
func TestCookbook(t *testing.T) {
	ruby := rubyPath(t)
	zkc := testzk.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ruby, "-w", "-Ilibraries", "test/all.rb", "--verbose")
	cmd.Dir = cookbook
	cmd.Env = append(testenv.CleanEnv(),
		"SVCDISCO_BIN="+binary,
		"SVCDISCO_REGISTRY="+zkc.URL(""),
		"SVCDISCO_ROOT="+testzk.Root(t),
		"SVCDISCO_TEST_FEATURES="+features(),
		"TMPDIR="+t.TempDir(),
		"XDG_CACHE_HOME="+t.TempDir(),
	)
	// Ruby starts `svcdisco register` and `svcdisco agent` processes; they
	// share its process group, so whatever the outcome none outlives the
	// test (SIGTERM: they deregister first).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	if err == nil {
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) })
		err = cmd.Wait()
	}
	m := summaryRE.FindSubmatch(out.Bytes())
	if err != nil || m == nil || string(m[3]) != "0" || string(m[4]) != "0" {
		t.Fatalf("ruby test/all.rb: %v\n%s", err, out.String())
	}
	if string(m[1]) == "0" {
		t.Fatalf("no Ruby test ran:\n%s", out.String())
	}
	if warnings := cookbookWarnings(out.Bytes()); len(warnings) > 0 {
		t.Fatalf("Ruby warnings in the cookbook:\n%s", strings.Join(warnings, "\n"))
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasSuffix(l, " = S") { // minitest --verbose marks a skipped test so
			t.Log("skipped:", l)
		}
	}
	t.Logf("minitest: %s (features: %q)", m[0], features())
}

// cookbookWarnings are `ruby -w` warnings raised in the cookbook's files.
func cookbookWarnings(out []byte) []string {
	var ws []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "warning:") && (strings.Contains(l, "libraries/") || strings.Contains(l, "test/")) {
			ws = append(ws, l)
		}
	}
	return ws
}
