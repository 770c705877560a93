package renderer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func render(t *testing.T, in RenderInput) *RenderResult {
	t.Helper()
	res, err := Render(context.Background(), &in)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return res
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

// leftovers lists files in dir other than want: a staged file left behind
// would be one.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range ents {
		if !contains(want, e.Name()) {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestWriteNewUnchangedPerms(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.conf")
	res := render(t, RenderInput{Path: p, Contents: []byte("one\n")})
	if !res.DidRender || read(t, p) != "one\n" || mode(t, p) != DefaultPerms {
		t.Fatalf("new file: %+v %q %o", res, read(t, p), mode(t, p))
	}
	res = render(t, RenderInput{Path: p, Contents: []byte("one\n")})
	if res.DidRender || res.WouldRender {
		t.Fatalf("same contents rewritten: %+v", res)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	render(t, RenderInput{Path: p, Contents: []byte("two\n")})
	if read(t, p) != "two\n" || mode(t, p) != 0o600 {
		t.Fatalf("existing mode not kept: %q %o", read(t, p), mode(t, p))
	}
	render(t, RenderInput{Path: p, Contents: []byte("three\n"), Perms: 0o640})
	if mode(t, p) != 0o640 {
		t.Fatalf("perms not applied: %o", mode(t, p))
	}
	if extra := leftovers(t, dir, "a.conf"); extra != nil {
		t.Fatalf("left behind: %v", extra)
	}
}

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.conf")
	render(t, RenderInput{Path: p, Contents: []byte("one\n"), Backup: true})
	if _, err := os.Stat(p + ".bak"); !os.IsNotExist(err) {
		t.Fatalf("backup of nothing written: %v", err)
	}
	render(t, RenderInput{Path: p, Contents: []byte("two\n"), Backup: true})
	if read(t, p+".bak") != "one\n" || read(t, p) != "two\n" {
		t.Fatalf("backup %q, file %q", read(t, p+".bak"), read(t, p))
	}
}

// TestCheckCommand: the check sees the staged contents (via {{.}} and
// $SVCDISCO_STAGED); when it fails, the destination is byte-identical and
// no staged file is left behind.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.conf")
	render(t, RenderInput{Path: p, Contents: []byte("good\n")})
	check := `grep -q good {{.}} && grep -q good "$SVCDISCO_STAGED"`
	res := render(t, RenderInput{Path: p, Contents: []byte("good too\n"), CheckCommand: check})
	if !res.DidRender || read(t, p) != "good too\n" {
		t.Fatalf("accepted file not written: %+v", res)
	}
	_, err := Render(context.Background(), &RenderInput{Path: p, Contents: []byte("bad\n"), CheckCommand: check + " || { echo config invalid >&2; exit 1; }"})
	var ce *CheckError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "config invalid") {
		t.Fatalf("want a CheckError carrying the output, got %v", err)
	}
	if read(t, p) != "good too\n" {
		t.Fatalf("rejected file written: %q", read(t, p))
	}
	if extra := leftovers(t, dir, "a.conf"); extra != nil {
		t.Fatalf("left behind: %v", extra)
	}
}

func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.conf")
	render(t, RenderInput{Path: p, Contents: []byte("a\nb\nc\n")})
	res := render(t, RenderInput{Path: p, Contents: []byte("a\nB\nc\n"), DryRun: true, CheckCommand: "exit 1"})
	if !res.WouldRender || res.DidRender || read(t, p) != "a\nb\nc\n" {
		t.Fatalf("dry run: %+v, file %q", res, read(t, p))
	}
	want := "--- " + p + "\n+++ " + p + " (rendered)\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
	if res.Diff != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", res.Diff, want)
	}
}

func TestCreateDestDirs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x", "y", "a.conf")
	if _, err := Render(context.Background(), &RenderInput{Path: p, Contents: []byte("a")}); err == nil {
		t.Fatal("missing directory: want an error")
	}
	render(t, RenderInput{Path: p, Contents: []byte("a"), CreateDestDirs: true})
	if read(t, p) != "a" {
		t.Fatal("not written")
	}
}

func TestNotRegular(t *testing.T) {
	if _, err := Render(context.Background(), &RenderInput{Path: t.TempDir(), Contents: []byte("a")}); err == nil {
		t.Fatal("a directory as destination: want an error")
	}
}

// A symlinked destination keeps its link: the target is written, staged in
// the target's directory (relative links, chains and a not yet existing
// target included).
func TestSymlinkedDestination(t *testing.T) {
	linkDir, targetDir := t.TempDir(), t.TempDir()
	target := filepath.Join(targetDir, "haproxy.cfg")
	if err := os.WriteFile(target, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(linkDir, target)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(linkDir, "link")
	chain := filepath.Join(linkDir, "chain")
	if err := os.Symlink(rel, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("link", chain); err != nil {
		t.Fatal(err)
	}
	if res := render(t, RenderInput{Path: chain, Contents: []byte("new\n"), Backup: true}); !res.DidRender {
		t.Fatal("not rendered")
	}
	for _, l := range []string{link, chain} {
		if info, err := os.Lstat(l); err != nil || info.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symlink (%v)", l, err)
		}
	}
	if got := read(t, target); got != "new\n" || mode(t, target) != 0o640 {
		t.Errorf("target: %q %v", got, mode(t, target))
	}
	if got := read(t, target+".bak"); got != "old\n" {
		t.Errorf("backup beside the target: %q", got)
	}
	if extra := leftovers(t, linkDir, "link", "chain"); len(extra) != 0 {
		t.Errorf("left in the link's directory: %v", extra)
	}
	dangling := filepath.Join(linkDir, "dangling")
	if err := os.Symlink(filepath.Join(targetDir, "later.cfg"), dangling); err != nil {
		t.Fatal(err)
	}
	render(t, RenderInput{Path: dangling, Contents: []byte("x\n")})
	if got := read(t, filepath.Join(targetDir, "later.cfg")); got != "x\n" {
		t.Errorf("dangling link's target: %q", got)
	}
	loop := filepath.Join(linkDir, "loop")
	if err := os.Symlink("loop", loop); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(context.Background(), &RenderInput{Path: loop, Contents: []byte("x")}); err == nil || !strings.Contains(err.Error(), "symlinks") {
		t.Errorf("symlink loop: %v", err)
	}
}
