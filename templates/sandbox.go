package templates

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// The template sandbox, after consul-template's: FunctionDenylist removes
// functions from what a template may call (env exposes every environment
// variable to whoever can write a template), and SandboxPath confines the
// file-reading function, file, to one directory tree.

// FunctionNames are the functions a template can call, sorted; a
// function_denylist may name only these.
func FunctionNames() []string {
	var names []string
	for n := range funcMap(nil, Spec{}) {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// validateSandbox checks a stanza's function_denylist and sandbox_path.
func (s Spec) validateSandbox() error {
	known := funcMap(nil, Spec{})
	for _, n := range s.FunctionDenylist {
		if _, ok := known[n]; !ok {
			return fmt.Errorf("function_denylist: unknown function %q", n)
		}
	}
	if s.SandboxPath != "" && !filepath.IsAbs(s.SandboxPath) {
		return fmt.Errorf("sandbox_path %q: want an absolute path", s.SandboxPath)
	}
	return nil
}

// sandbox adds file and replaces every denied function by one that fails,
// keeping the name so templates still parse and the error names it.
func sandbox(m template.FuncMap, s Spec) {
	m["file"] = func(name string) (string, error) { return readSandboxed(s.SandboxPath, name, s.maxSize()) }
	for _, n := range s.FunctionDenylist {
		name := n
		m[name] = func(...any) (string, error) {
			return "", fmt.Errorf("function %q is denied by function_denylist", name)
		}
	}
}

// readSandboxed reads name (relative names are relative to dir) if, with
// every symlink resolved, it lies inside dir. With no dir, file is off.
func readSandboxed(dir, name string, maxSize int64) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("file %q: file reads need a sandbox_path (--sandbox-path) to confine them", name)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("file %q: sandbox_path: %w", name, err)
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(dir, name)
	}
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return "", fmt.Errorf("file %q: %w", name, err)
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return "", fmt.Errorf("file %q: outside sandbox_path %s", name, dir)
	}
	f, err := os.Open(real)
	if err != nil {
		return "", fmt.Errorf("file %q: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return "", fmt.Errorf("file %q: %w", name, err)
	}
	if int64(len(b)) > maxSize {
		return "", fmt.Errorf("file %q: larger than %d bytes (max_size)", name, maxSize)
	}
	return string(b), nil
}
