package lock

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func parse(args ...string) (*Options, error) {
	f := cmdutil.New(&cmdutil.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var got *Options
	cmd := NewCmdLock(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return got, err
}

func TestFlags(t *testing.T) {
	o, err := parse("db", "--require-mount", "/srv/a", "--require-mount", "/srv/b", "--grace", "2s",
		"--wait", "10s", "--check-interval", "250ms", "--", "mysqld", "--datadir", "/srv/a")
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "db" || strings.Join(o.Mounts, ",") != "/srv/a,/srv/b" || o.Grace != 2*time.Second ||
		o.Wait != 10*time.Second || o.CheckInterval != 250*time.Millisecond ||
		strings.Join(o.Command, " ") != "mysqld --datadir /srv/a" {
		t.Errorf("options %+v", o)
	}
	o, err = parse("db", "--limit", "3")
	if err != nil || o.Limit != 3 {
		t.Errorf("--limit 3: %+v, %v", o, err)
	}
	o, err = parse("db")
	if err != nil || o.Command != nil || o.Wait != 0 || o.Grace != 5*time.Second || o.Limit != 1 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}

func TestBadInput(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"a", "b"},
		{"bad/name"},
		{"db", "--grace", "0s"},
		{"db", "--check-interval", "-1s"},
		{"db", "--wait", "-1s"},
		{"db", "--require-mount", ""},
		{"db", "--"},
		{"db", "--limit", "0"},
	} {
		_, err := parse(args...)
		if exitcode.Of(err) != exitcode.Usage {
			t.Errorf("lock %q: %v (exit %d), want exit 2", args, err, exitcode.Of(err))
		}
	}
}
