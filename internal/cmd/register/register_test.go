package register

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	f := cmdutil.New(&cmdutil.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var got *Options
	cmd := NewCmdRegister(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return got, err
}

func TestFlags(t *testing.T) {
	o, err := parse(t, "web", "--port", "8080", "--host", "h1", "--check", "tcp://127.0.0.1:8080",
		"--check-interval", "50ms", "--rise", "1", "--maintenance", "--kill-timeout", "3s", "--", "app", "--port", "8080")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Command, " ") != "app --port 8080" || o.KillTimeout != 3*time.Second {
		t.Errorf("command %q, kill timeout %v", o.Command, o.KillTimeout)
	}
	if c := o.Check; c == nil || c.Interval != 50*time.Millisecond || c.Rise != 1 || c.Fall != 3 || c.Timeout != time.Second {
		t.Errorf("check %+v", c)
	}
	if o.Provider.Status != registry.StatusMaintenance || o.Provider.Port != 8080 {
		t.Errorf("provider %+v", o.Provider)
	}
	if o, err := parse(t, "web", "--port", "80", "--host", "h1"); err != nil || o.Check != nil || o.Command != nil {
		t.Errorf("plain: %+v, %v", o, err)
	}
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"web", "--port", "80", "--check", "udp://x:1"},
		{"web", "--port", "80", "--check", "tcp://x:1", "--fall", "0"},
		{"web", "--port", "80", "--"},
		{"--port", "80", "--", "app"},
		{"web", "extra", "--port", "80"},
		{"web", "--port", "80", "--kill-timeout", "0s", "--", "app"},
		{"web", "--port", "80", "--tag", "a b"},
		{"web", "--port", "80", "--tag", "v2", "--tag", "v2"},
		{"web", "--port", "80", "--tag", ""},
	} {
		if _, err := parse(t, args...); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%q: %v (exit %d), want a usage error", args, err, exitcode.Of(err))
		}
	}
}

func TestFlagsToProvider(t *testing.T) {
	o, err := parse(t, "web", "--port", "8080", "--host", "h1.example.com", "--address", "10.0.0.5", "--id", "w1",
		"--attr", "zone=a", "--endpoint", "admin=h1.example.com:9090", "--weight", "3", "--tag", "primary", "--tag", "v2")
	if err != nil {
		t.Fatal(err)
	}
	p := o.Provider
	if strings.Join(p.Tags, ",") != "primary,v2" {
		t.Errorf("tags %q, want primary,v2", p.Tags)
	}
	if p.Service != "web" || p.Port != 8080 || p.Host != "h1.example.com" || p.Address != "10.0.0.5" || p.ID != "w1" ||
		p.Weight != 3 || p.Attributes["zone"] != "a" || p.Endpoints["admin"] != (registry.Endpoint{Host: "h1.example.com", Port: 9090}) {
		t.Errorf("provider %+v", p)
	}
	o, err = parse(t, "web", "--port", "80")
	if err != nil || o.Provider.Host == "" || o.Provider.Address == "" || o.Provider.Weight != 1 {
		t.Errorf("defaults: %+v %v", o, err)
	}
}

func TestBadProviderFlags(t *testing.T) {
	for _, args := range [][]string{
		{"web"}, {"web", "--port", "0"}, {"web", "--port", "x"}, {"we b", "--port", "80"},
		{"web", "--port", "80", "--attr", "noequals"}, {"web", "--port", "80", "--weight", "-1"},
	} {
		if _, err := parse(t, args...); exitcode.Of(err) == exitcode.OK {
			t.Errorf("%v accepted", args)
		}
	}
}
