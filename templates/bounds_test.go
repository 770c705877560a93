package templates

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

// applyKeepsOld applies a template over an existing destination and
// checks it was refused with code, naming want, and left the old file.
func applyKeepsOld(t *testing.T, spec Spec, code int, want string) {
	t.Helper()
	spec.Destination = filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(spec.Destination, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	res := tm.Apply(context.Background(), fixture(), ApplyOptions{})
	if res.Status != StatusRefused || res.Code != code || !strings.Contains(res.Reason, want) {
		t.Errorf("got %s (code %d): %s; want refused with %d naming %q", res.Status, res.Code, res.Reason, code, want)
	}
	if b, _ := os.ReadFile(spec.Destination); string(b) != "old\n" {
		t.Errorf("destination changed to %d bytes", len(b))
	}
	if ents, _ := os.ReadDir(filepath.Dir(spec.Destination)); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

// The reproduction ran for 36 s, reached 5.7 GB and wrote 789 MB.
func TestRenderBounds(t *testing.T) {
	t.Run("until 100000000", func(t *testing.T) {
		src := writeTemplate(t, `{{ range $i := until 100000000 }}{{ $i }}{{ end }}`)
		applyKeepsOld(t, Spec{Source: src}, exitcode.Usage, "more than the limit of 1000000")
	})
	t.Run("output size", func(t *testing.T) {
		src := writeTemplate(t, `{{ range until 2000 }}x{{ end }}`)
		applyKeepsOld(t, Spec{Source: src, MaxSize: 1000}, exitcode.Usage, "output larger than 1000 bytes")
	})
	t.Run("repeat", func(t *testing.T) {
		src := writeTemplate(t, `{{ repeat 2000 "x" }}`)
		applyKeepsOld(t, Spec{Source: src, MaxSize: 1000}, exitcode.Usage, "repeat 2000")
	})
	t.Run("render time", func(t *testing.T) {
		// 10^9 iterations: it cannot finish, whatever the machine's load.
		src := writeTemplate(t, `{{ range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ $p := providers "web" }}{{ end }}{{ end }}{{ end }}`)
		applyKeepsOld(t, Spec{Source: src, RenderTimeout: 200 * time.Millisecond}, exitcode.Unreachable, "rendering took longer than 200ms")
	})
	t.Run("within bounds", func(t *testing.T) {
		src := writeTemplate(t, `{{ range until 10 }}x{{ end }}{{ seq 3 }}{{ repeat 2 "y" }}`)
		tm, err := Load(Spec{Source: src, Destination: "x", MaxSize: 100, RenderTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if ex, err := tm.Execute(fixture()); err != nil || string(ex.Contents) != "xxxxxxxxxx1 2 3yy" {
			t.Fatalf("%v %+v", err, ex)
		}
	})
}

// A source that is not a regular file is refused when loaded: a FIFO
// would block for ever, /dev/zero never ends.
func TestSourceMustBeRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := writeTemplate(t, strings.Repeat("x", 2000))
	for src, want := range map[string]string{fifo: "not a regular file", "/dev/zero": "not a regular file", big: "larger than 1000 bytes"} {
		if _, err := Load(Spec{Source: src, Destination: "out", MaxSize: 1000}); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), src) {
			t.Errorf("%s: %v, want an error naming it: %s", src, err, want)
		}
	}
}
