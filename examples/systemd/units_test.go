// Package systemd_test checks the example units with systemd's own
// verifier, against a built svcdisco and its generated man pages.
package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/mandoc"
	"github.com/svcdisco/svcdisco/internal/testenv"
)

var bin string

func TestMain(m *testing.M) { testenv.MainWithBinary(m, &bin, false, nil) }

// Units are the daemon units the .deb ships.
var Units = []string{"svcdisco-agent.service", "svcdisco-render.service"}

// TestUnitsVerify: `systemd-analyze verify` accepts both units without a
// warning, with ExecStart pointed at a real binary and
// Documentation=man:… resolved against the generated pages.
func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze (Debian's systemd)", err)
	}
	if _, err := exec.LookPath("man"); err != nil {
		testenv.Missing(t, "man (Debian's man-db)", err)
	}
	dir := t.TempDir()
	if err := mandoc.GenMan(filepath.Join(dir, "man", "man1")); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, u := range Units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, want := range []string{"Type=notify", "Documentation=man:svcdisco", "CacheDirectory=svcdisco", "ExecStart=/usr/bin/svcdisco "} {
			if !strings.Contains(s, want) {
				t.Errorf("%s has no %q", u, want)
			}
		}
		p := filepath.Join(dir, u)
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(s, "/usr/bin/svcdisco", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"), "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		for _, u := range Units {
			if strings.Contains(line, u) { // a warning about one of ours
				t.Errorf("systemd-analyze verify warns: %s", line)
			}
		}
	}
}
