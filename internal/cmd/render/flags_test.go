package render_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/cmd/render"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/templates"
)

func factory() *cmdutil.Factory {
	return cmdutil.New(&cmdutil.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
}

func TestFlags(t *testing.T) {
	cases := []struct {
		args     []string
		wantCode int
		check    func(*render.Options) bool
	}{
		{[]string{"--template", "a:b", "--template", "c:d:reload it"}, 0, func(o *render.Options) bool {
			return len(o.Templates) == 2 && !o.Watch && o.Report == "text" && o.CommandTimeout == time.Minute
		}},
		{[]string{"--watch", "--wait", "200ms:1s", "--template", "a:b"}, 0, func(o *render.Options) bool {
			return o.Watch && o.Wait == templates.Wait{Min: 200 * time.Millisecond, Max: time.Second}
		}},
		{[]string{"--once", "--report", "json", "--dry-run"}, 0, func(o *render.Options) bool { return o.DryRun && o.Report == "json" }},
		{[]string{"--once", "--watch"}, exitcode.Usage, nil},
		{[]string{"--wait", "1s:100ms"}, exitcode.Usage, nil},
		{[]string{"--report", "yaml"}, exitcode.Usage, nil},
		{[]string{"--watch", "--settle", "45s"}, 0, func(o *render.Options) bool { return o.Settle == 45*time.Second }},
		{[]string{"--watch", "--settle", "-1s"}, exitcode.Usage, nil},
		{[]string{"extra"}, exitcode.Usage, nil},
		{[]string{"--template", "a:b"}, 0, func(o *render.Options) bool { return o.MaxSize == 16<<20 }},
		{[]string{"--max-size", "512KiB"}, 0, func(o *render.Options) bool { return o.MaxSize == 512<<10 }},
		{[]string{"--max-size", "lots"}, exitcode.Usage, nil},
	}
	for _, c := range cases {
		var got *render.Options
		cmd := render.NewCmdRender(factory(), func(_ context.Context, o *render.Options) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if code := exitcode.Of(err); code != c.wantCode {
			t.Errorf("%v: exit %d (%v), want %d", c.args, code, err, c.wantCode)
			continue
		}
		if c.check != nil && (got == nil || !c.check(got)) {
			t.Errorf("%v: options %+v", c.args, got)
		}
	}
}

// TestBadStanzas: every invalid stanza is a usage error naming it, found
// before anything is fetched or written.
func TestBadStanzas(t *testing.T) {
	cases := []struct {
		tc   config.TemplateConfig
		want string
	}{
		{config.TemplateConfig{Source: "x"}, "source and destination are required"},
		{config.TemplateConfig{Source: "x", Destination: "y", Perms: "rw"}, `invalid perms "rw"`},
		{config.TemplateConfig{Source: "x", Destination: "y", Wait: "soon"}, `invalid wait "soon"`},
		{config.TemplateConfig{Source: "x", Destination: "y", MinProviders: map[string]int{"bad name": 1}}, "invalid service name"},
		{config.TemplateConfig{Source: "/nonexistent.tmpl", Destination: "y"}, "/nonexistent.tmpl"},
		{config.TemplateConfig{Source: "x", Destination: "y", MaxSize: "-1"}, `invalid size "-1"`},
		{config.TemplateConfig{Source: "x", Destination: "y", RenderTimeout: "5"}, `invalid render_timeout "5"`},
		{config.TemplateConfig{Source: "/dev/zero", Destination: "y"}, "/dev/zero: not a regular file"},
	}
	for _, c := range cases {
		f := factory()
		cfg := config.Defaults
		cfg.Templates = []config.TemplateConfig{c.tc}
		f.Config = &cfg
		err := render.Run(context.Background(), &render.Options{F: f, Report: "text"})
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want a usage error containing %q", c.tc, err, c.want)
		}
	}
	err := render.Run(context.Background(), &render.Options{F: factory(), Report: "text"})
	if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "no templates") {
		t.Errorf("no templates: got %v", err)
	}
}
