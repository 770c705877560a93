package query

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	f := cmdutil.New(&cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
	var got *Options
	cmd := NewCmdQuery(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	return got, err
}

func TestFlagsToOptions(t *testing.T) {
	o, err := parse(t, "web", "--since", "2026-11-22T10:00:00Z", "--within-last", "10m", "--at-least", "2",
		"--wait", "5s", "--where", "zone=a", "--where", "v!=1", "--latest", "-o", "lines")
	if err != nil {
		t.Fatal(err)
	}
	q := o.Query
	want := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if q.Service != "web" || !q.Since.Equal(want) || q.WithinLast != 10*time.Minute || q.AtLeast != 2 ||
		q.Wait != 5*time.Second || !q.Latest || o.Output != "lines" || !q.FieldsOnly {
		t.Errorf("options %+v", o)
	}
	if len(q.Where) != 2 || q.Where[0] != (query.Filter{Key: "zone", Value: "a"}) || !q.Where[1].Negate {
		t.Errorf("where %+v", q.Where)
	}
	o, err = parse(t, "web")
	if err != nil || o.Output != "table" || o.Query.FieldsOnly {
		t.Errorf("defaults: %+v %v (table output needs attributes)", o, err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bad name"}, {"web", "--since", "noon"}, {"web", "--where", "x"}, {"web", "-o", "yaml"},
		{"web", "--at-least", "-1"}, {}, {"a", "b"},
	} {
		if _, err := parse(t, args...); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
