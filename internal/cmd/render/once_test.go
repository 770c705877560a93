package render_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testzk"
)

const webTmpl = "{{ range providers \"web\" }}server {{ .Host }}:{{ .Port }}\n{{ end }}"

// TestOnceWrittenUnchanged: the first run writes and reloads; the second
// finds the same contents and neither writes nor reloads.
func TestOnceWrittenUnchanged(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	reg := e.registry()
	e.register(reg, "web", "web1", 8080, nil)
	e.register(reg, "web", "web2", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := filepath.Join(e.dir, "web.conf")
	marker := filepath.Join(e.dir, "reloaded")
	flag := src + ":" + dest + ":touch " + marker

	out, errOut, code := e.run("render", "--once", "--template", flag)
	if code != 0 || out != "written "+dest+"\n" {
		t.Fatalf("first run: exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	if got := e.read(dest); got != "server web1:8080\nserver web2:8080\n" {
		t.Fatalf("rendered %q", got)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("command did not run: %v", err)
	}
	os.Remove(marker)
	out, _, code = e.run("render", "--once", "--template", flag)
	if code != 0 || out != "unchanged "+dest+"\n" {
		t.Fatalf("second run: exit %d, stdout %q", code, out)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("command ran although nothing changed")
	}
}

// TestOnceMinProviders: below min_providers the file is not rendered, the
// run exits 3 naming the service and the count, and the JSON report says
// the same.
func TestOnceMinProviders(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	reg := e.registry()
	e.register(reg, "web", "web1", 8080, nil)
	e.register(reg, "web", "web2", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := e.file("web.conf", "the last good file\n", 0o644)
	cfg := e.file("svcdisco.yaml", "templates:\n  - source: "+src+"\n    destination: "+dest+
		"\n    min_providers:\n      web: 3\n", 0o644)

	out, errOut, code := e.run("render", "--once", "--config", cfg)
	reason := "service web has 2 provider(s), min_providers is 3"
	if code != 3 || out != "refused "+dest+" ("+reason+")\n" || !strings.Contains(errOut, reason) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := e.read(dest); got != "the last good file\n" {
		t.Fatalf("destination changed: %q", got)
	}
	out, _, code = e.run("render", "--once", "--config", cfg, "--report", "json")
	var rep struct {
		Templates []struct{ Destination, Status, Reason string }
		Code      int
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if code != 3 || rep.Code != 3 || len(rep.Templates) != 1 || rep.Templates[0].Status != "refused" || rep.Templates[0].Reason != reason {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
}

// TestOnceCheckCommand: a check that rejects the staged file keeps the
// destination byte-identical (and its reload command unrun); exit 5.
func TestOnceCheckCommand(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	e.register(e.registry(), "web", "bad", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := e.file("web.conf", "server good:8080\n", 0o640)
	before, _ := os.Stat(dest)
	marker := filepath.Join(e.dir, "reloaded")
	cfg := e.file("svcdisco.yaml", `templates:
  - source: `+src+`
    destination: `+dest+`
    command: touch `+marker+`
    check_command: "! grep -q bad {{.}} || { echo bad server >&2; exit 1; }"
`, 0o644)
	out, errOut, code := e.run("render", "--once", "--config", cfg)
	if code != 5 || !strings.HasPrefix(out, "refused "+dest+" (check command") || !strings.Contains(out, "bad server") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	after, _ := os.Stat(dest)
	if got := e.read(dest); got != "server good:8080\n" || !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() {
		t.Fatalf("destination touched: %q %v", got, after.Mode())
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatal("reload command ran")
	}
	if ents, _ := os.ReadDir(e.dir); len(ents) != 3 {
		t.Fatalf("staged file left behind: %v", ents)
	}
}

// TestOncePermsBackup: a rewritten file keeps its mode (or takes perms)
// and the previous contents are kept as DEST.bak.
func TestOncePermsBackup(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	e.register(e.registry(), "web", "web1", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	kept := e.file("kept.conf", "old\n", 0o600)
	set := e.file("set.conf", "old\n", 0o600)
	cfg := e.file("svcdisco.yaml", `templates:
  - {source: `+src+`, destination: `+kept+`, backup: true}
  - {source: `+src+`, destination: `+set+`, perms: 0640}
`, 0o644)
	out, errOut, code := e.run("render", "--once", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for p, want := range map[string]os.FileMode{kept: 0o600, set: 0o640, kept + ".bak": 0o600} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, info.Mode(), want, err)
		}
	}
	if e.read(kept) != "server web1:8080\n" || e.read(kept+".bak") != "old\n" {
		t.Fatalf("file %q, backup %q", e.read(kept), e.read(kept+".bak"))
	}
	if _, err := os.Stat(set + ".bak"); !os.IsNotExist(err) {
		t.Fatal("backup written without backup: true")
	}
}

// TestOnceDeadline: a registry that never answers makes the run give up at
// --timeout with exit 4, naming the services not fetched; the file stays.
func TestOnceDeadline(t *testing.T) {
	c := testzk.Start(t, 1)
	e := newEnv(t, c)
	src := e.file("t.tmpl", `{{ providers "web" }}{{ providers "db" }}`, 0o644)
	dest := e.file("out", "keep me\n", 0o644)
	c.Servers[0].Pause() // accepts connections, never answers
	defer c.Servers[0].Resume()
	out, errOut, code := e.run("render", "--once", "--timeout", "1s", "--template", src+":"+dest)
	if code != 4 || !strings.HasPrefix(out, "refused "+dest+" (") || !strings.Contains(out, "not fetched: db, web)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if e.read(dest) != "keep me\n" {
		t.Fatal("destination changed")
	}
}

// TestOnceTemplateError: the error names the template file and line; the
// destination is untouched; exit 2.
func TestOnceTemplateError(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	e.register(e.registry(), "web", "web1", 8080, nil)
	src := e.file("bad.tmpl", "line 1\n{{ range providers \"web\" }}{{ .Attributes.zone }}{{ end }}\n", 0o644)
	dest := e.file("out", "keep me\n", 0o644)
	out, errOut, code := e.run("render", "--once", "--template", src+":"+dest)
	if code != 2 || !strings.Contains(out, src+":2:") || !strings.Contains(errOut, src+":2:") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if e.read(dest) != "keep me\n" {
		t.Fatal("destination changed")
	}
	syntax := e.file("syntax.tmpl", "a\nb\n{{ if }}\n", 0o644)
	_, errOut, code = e.run("render", "--once", "--template", syntax+":"+dest)
	if code != 2 || !strings.Contains(errOut, syntax+":3:") {
		t.Fatalf("syntax error: exit %d, stderr %q", code, errOut)
	}
}

// TestOnceDryRun prints a unified diff and writes nothing.
func TestOnceDryRun(t *testing.T) {
	e := newEnv(t, testzk.Shared(t))
	e.register(e.registry(), "web", "web1", 8080, nil)
	src := e.file("web.tmpl", webTmpl, 0o644)
	dest := e.file("web.conf", "server old:80\n", 0o644)
	out, errOut, code := e.run("render", "--dry-run", "--template", src+":"+dest+":false")
	want := "--- " + dest + "\n+++ " + dest + " (rendered)\n@@ -1 +1 @@\n-server old:80\n+server web1:8080\nwould write " + dest + "\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr %s", code, out, want, errOut)
	}
	if e.read(dest) != "server old:80\n" {
		t.Fatal("dry run wrote")
	}
}
