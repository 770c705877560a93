// Package templates is svcdisco's templating engine: Go text/template files
// rendered from the registry's providers, once (at converge time, for Chef)
// or continuously (watch mode), written atomically and never replacing a
// good file with a worse one. See Template for the functions a template
// can call, Once and Watch for the two modes, and package renderer for how
// a file is put in place.
package templates

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// Spec is one template stanza: what to render, where, and how to guard and
// announce the result.
type Spec struct {
	// Source is the template file.
	Source string
	// Destination is the file written.
	Destination string
	// Command runs through sh -c after Destination changed (a reload).
	Command string
	// CheckCommand validates the staged file before it replaces
	// Destination; see renderer.RenderInput.CheckCommand.
	CheckCommand string
	// Perms is Destination's mode; zero keeps the existing mode (or 0644).
	Perms fs.FileMode
	// Backup keeps the previous contents as Destination+".bak".
	Backup bool
	// Wait debounces re-renders in watch mode.
	Wait Wait
	// MinProviders maps a service to the fewest providers it may have for
	// the file to be rendered at all.
	MinProviders map[string]int
	// CreateDestDirs creates Destination's missing parent directories.
	CreateDestDirs bool
	// MaxSize bounds the rendered output and the source, in bytes
	// (DefaultMaxSize when zero).
	MaxSize int64
	// RenderTimeout bounds one execution of the template
	// (DefaultRenderTimeout when zero).
	RenderTimeout time.Duration
	// FunctionDenylist names functions the template may not call (they
	// fail when called); see sandbox.go.
	FunctionDenylist []string
	// SandboxPath is the directory the file function may read in; ""
	// turns file off.
	SandboxPath string
}

// Wait is consul-template's wait: after a change, render once no further
// change came for Min, but at the latest Max after the first change.
type Wait struct {
	Min, Max time.Duration
}

// ParseWait parses "MIN:MAX" or "MIN" (then MAX is 4×MIN, as
// consul-template does). "" and "0" mean no debounce.
func ParseWait(s string) (Wait, error) {
	if s == "" || s == "0" {
		return Wait{}, nil
	}
	bad := func() (Wait, error) {
		return Wait{}, fmt.Errorf("invalid wait %q: want MIN:MAX durations like 200ms:1s", s)
	}
	lo, hi, two := strings.Cut(s, ":")
	min, err := time.ParseDuration(lo)
	if err != nil || min < 0 {
		return bad()
	}
	max := 4 * min
	if two {
		if max, err = time.ParseDuration(hi); err != nil || max < min {
			return bad()
		}
	}
	return Wait{Min: min, Max: max}, nil
}

func (w Wait) String() string { return w.Min.String() + ":" + w.Max.String() }

// ParseFlag parses --template SRC:DEST[:COMMAND]. The command is everything
// after the second colon, so it may contain colons itself.
func ParseFlag(s string) (Spec, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return Spec{}, fmt.Errorf("invalid --template %q: want SRC:DEST[:COMMAND]", s)
	}
	sp := Spec{Source: parts[0], Destination: parts[1]}
	if len(parts) == 3 {
		sp.Command = parts[2]
	}
	return sp, nil
}

// ParsePerms parses an octal mode like "0640" or "640". "" is zero (keep).
func ParsePerms(s string) (fs.FileMode, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n == 0 || n > 0o7777 {
		return 0, fmt.Errorf("invalid perms %q: want an octal mode like 0640", s)
	}
	return fs.FileMode(n), nil
}

// Validate checks a stanza before anything is rendered.
func (s Spec) Validate() error {
	if s.Source == "" || s.Destination == "" {
		return fmt.Errorf("template %q: source and destination are required", s.Source)
	}
	if s.MaxSize < 0 || s.RenderTimeout < 0 {
		return fmt.Errorf("template %s: max_size and the render timeout must not be negative", s.Source)
	}
	for svc, n := range s.MinProviders {
		if err := registry.ValidateService(svc); err != nil {
			return fmt.Errorf("template %s: min_providers: %w", s.Source, err)
		}
		if n < 0 {
			return fmt.Errorf("template %s: min_providers %s: %d must be >= 0", s.Source, svc, n)
		}
	}
	if err := s.validateSandbox(); err != nil {
		return fmt.Errorf("template %s: %w", s.Source, err)
	}
	return nil
}

// ParseSize parses a byte size: a number of bytes, or one with a KiB, MiB
// or GiB suffix (also k, m, g). "" is zero (the default).
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("invalid size %q: want bytes, or a number with KiB, MiB or GiB, like 16MiB", s)
	}
	return n * mult, nil
}

// ParsePermsValue reads a config file's perms: a string is octal digits
// ("0640"); a number is what YAML made of an octal literal (0640 → 416),
// so it is taken as the mode itself and must fit in 0777.
func ParsePermsValue(v any) (fs.FileMode, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case string:
		return ParsePerms(v)
	case int:
		if v <= 0 || v > 0o777 {
			return 0, fmt.Errorf("invalid perms %d: write an octal mode, e.g. perms: \"0640\"", v)
		}
		return fs.FileMode(v), nil
	default:
		return 0, fmt.Errorf("invalid perms %v: write an octal mode, e.g. perms: \"0640\"", v)
	}
}

// CheckDestinations refuses two stanzas writing the same file: each would
// overwrite the other on every pass and run the other's reload command.
// Paths are compared after making them absolute and following symlinks,
// so "out", "./out" and a link to out are the same destination.
func CheckDestinations(specs []Spec) error {
	seen := map[string]string{}
	for _, s := range specs {
		key := sameFileKey(s.Destination)
		if prev, dup := seen[key]; dup {
			return fmt.Errorf("templates %s and %s both write %s: give each template its own destination", prev, s.Source, s.Destination)
		}
		seen[key] = s.Source
	}
	return nil
}

func sameFileKey(dest string) string {
	p, err := filepath.Abs(dest)
	if err != nil {
		return filepath.Clean(dest)
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
		return filepath.Join(dir, filepath.Base(p))
	}
	return p
}
