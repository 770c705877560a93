package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func TestCheckMount(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		ok   bool
	}{
		{"/", true},
		{"/proc", true}, // its own file system
		{dir, false},    // a plain directory
		{filepath.Join(dir, "missing"), false},
		{file, false},
	}
	for _, tt := range tests {
		err := CheckMount(context.Background(), tt.path, time.Minute)
		if tt.ok != (err == nil) {
			t.Errorf("CheckMount(%s) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrMountMissing) || exitcode.Of(err) != exitcode.MountMissing) {
			t.Errorf("CheckMount(%s) = %v (exit %d), want ErrMountMissing with exit 12", tt.path, err, exitcode.Of(err))
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/srv/my\040data`: "/srv/my data",
		`/a\134b`:         `/a\b`,
		`/plain`:          "/plain",
		`/trailing\04`:    `/trailing\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}
