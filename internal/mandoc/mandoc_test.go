package mandoc_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/mandoc"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

// TestGenMan: a page per command, with the global flags, that man(1)
// itself formats without complaint.
func TestGenMan(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if err := mandoc.GenMan(dir); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"svcdisco.1", "svcdisco-agent.1", "svcdisco-query.1", "svcdisco-render.1", "svcdisco-chroot-prime.1"} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.Contains(s, ".TH \"SVCDISCO\" \"1\" \"Nov 2023\"") || !strings.Contains(s, "--registry") {
			t.Errorf("%s: no header with SOURCE_DATE_EPOCH's date or no --registry:\n%.300s", page, s)
		}
	}
	manBin, err := exec.LookPath("man")
	if err != nil {
		testenv.Missing(t, "man (man-db)", err)
	}
	cmd := exec.Command(manBin, "-l", filepath.Join(dir, "svcdisco-agent.1"))
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=100")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--metrics-addr") {
		t.Fatalf("man -l svcdisco-agent.1: %v\n%.500s", err, out)
	}
}
