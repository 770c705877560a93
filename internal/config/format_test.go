package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry/zk/foreign"
)

// loadReader is load for a command with the reader flags (query, render)
// when reader, else for one with a --path of its own (leader).
func loadReader(t *testing.T, reader bool, args []string, file string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddGlobalFlags(fs)
	if reader {
		fs.String("format", "svcdisco", "")
	}
	fs.String("path", "", "")
	if file != "" {
		p := filepath.Join(t.TempDir(), "svcdisco.yaml")
		if err := os.WriteFile(p, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return Load(fs)
}

func TestFormatKeys(t *testing.T) {
	cfg, err := loadReader(t, true, []string{"--path", "/flag/{service}"}, "format: curator\nformat_path: /file/{service}\n")
	if err != nil || cfg.Format != "curator" || cfg.FormatPath != "/flag/{service}" { // file, flag > file
		t.Errorf("%+v %v", cfg, err)
	}
	for _, file := range []string{"format: finagle\n", "format_path: relative\n"} {
		if _, err := loadReader(t, true, nil, file); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%q: %v, want a usage error", file, err)
		}
	}
	t.Setenv("SVCDISCO_FORMAT", "nerve")
	t.Setenv("SVCDISCO_FORMAT_PATH", "/env")
	cfg, err = loadReader(t, true, nil, "format: curator\n")
	if err != nil || cfg.Format != "nerve" || cfg.FormatPath != "/env" { // env > file
		t.Errorf("%+v %v", cfg, err)
	}
	// leader's --path is its own: not format_path.
	cfg, err = loadReader(t, false, []string{"--path", "/mesos"}, "")
	if err != nil || cfg.FormatPath != "/env" {
		t.Errorf("leader --path: %+v %v", cfg, err)
	}
}

func TestTemplateSources(t *testing.T) {
	stanza := "  - source: /t%d\n    destination: /d%d\n    sources:\n      web: {format: %s, path: '/x/{service}'}\n"
	one := "templates:\n" + fmt.Sprintf(stanza, 1, 1, "nerve")
	cfg, err := loadReader(t, true, nil, one+fmt.Sprintf(stanza, 2, 2, "nerve"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.TemplateSources()
	if err != nil || len(got) != 1 || got["web"] != (foreign.Source{Format: foreign.FormatNerve, Path: "/x/{service}"}) {
		t.Errorf("%v %v", got, err)
	}
	for _, bad := range []string{
		one + fmt.Sprintf(stanza, 2, 2, "curator"), // disagree
		"templates:\n" + fmt.Sprintf(stanza, 1, 1, "finagle"),
		"templates:\n  - source: /t\n    destination: /d\n    sources:\n      'bad name': {format: nerve}\n",
		"templates:\n  - source: /t\n    destination: /d\n    sources:\n      web: {format: nerve, typo: 1}\n",
	} {
		if _, err := loadReader(t, true, nil, bad); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%q: %v, want a usage error", bad, err)
		}
	}
}
