package config

import (
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func TestTemplateStanzas(t *testing.T) {
	cfg, err := load(t, nil, `templates:
  - source: a.tmpl
    destination: /etc/a
    command: reload a
    check_command: check {{.}}
    perms: 0640
    backup: true
    wait: 200ms:1s
    min_providers: {web: 2, db: 1}
    create_dest_dirs: true
  - {source: b.tmpl, destination: /etc/b, perms: "0600"}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Templates) != 2 {
		t.Fatalf("templates: %+v", cfg.Templates)
	}
	a := cfg.Templates[0]
	if a.Source != "a.tmpl" || a.Destination != "/etc/a" || a.Command != "reload a" || a.CheckCommand != "check {{.}}" ||
		a.Perms != 0o640 || !a.Backup || a.Wait != "200ms:1s" || a.MinProviders["web"] != 2 || a.MinProviders["db"] != 1 || !a.CreateDestDirs {
		t.Errorf("first stanza: %+v", a)
	}
	if b := cfg.Templates[1]; b.Perms != "0600" || b.Backup {
		t.Errorf("second stanza: %+v", b)
	}
}

// TestTemplateStanzaUnknownKey: a typo in a stanza is an error, not a
// silently ignored setting.
func TestTemplateStanzaUnknownKey(t *testing.T) {
	_, err := load(t, nil, "templates:\n  - {source: a, destination: b, check_cmd: x}\n")
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "check_cmd") {
		t.Fatalf("got %v", err)
	}
}
