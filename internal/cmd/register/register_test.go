package register

import (
	"bytes"
	"context"
	"testing"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	f := cmdutil.New(&cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var got *Options
	cmd := NewCmdRegister(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	return got, cmd.Execute()
}

func TestFlagsToProvider(t *testing.T) {
	o, err := parse(t, "web", "--port", "8080", "--host", "h1.example.com", "--address", "10.0.0.5", "--id", "w1",
		"--attr", "zone=a", "--endpoint", "admin=h1.example.com:9090", "--weight", "3")
	if err != nil {
		t.Fatal(err)
	}
	p := o.Provider
	if p.Service != "web" || p.Port != 8080 || p.Host != "h1.example.com" || p.Address != "10.0.0.5" || p.ID != "w1" ||
		p.Weight != 3 || p.Attributes["zone"] != "a" || p.Endpoints["admin"] != (registry.Endpoint{Host: "h1.example.com", Port: 9090}) {
		t.Errorf("provider %+v", p)
	}
	o, err = parse(t, "web", "--port", "80")
	if err != nil || o.Provider.Host == "" || o.Provider.Address == "" || o.Provider.Weight != 1 {
		t.Errorf("defaults: %+v %v", o, err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"web"}, {"web", "--port", "0"}, {"web", "--port", "x"}, {"we b", "--port", "80"},
		{"web", "--port", "80", "--attr", "noequals"}, {"web", "--port", "80", "--weight", "-1"},
	} {
		if _, err := parse(t, args...); exitcode.Of(err) == exitcode.OK {
			t.Errorf("%v accepted", args)
		}
	}
}
