package ensemble

import (
	"context"
	"io"
	"testing"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	var got *Options
	f := cmdutil.New(&cmdutil.IOStreams{Out: io.Discard, ErrOut: io.Discard})
	cmd := NewCmdEnsemble(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	return got, err
}

func TestFlags(t *testing.T) {
	tests := []struct {
		args        []string
		chroot, out string
	}{
		{nil, "", "text"},
		{[]string{"--chroot"}, fromURL, "text"},
		{[]string{"--chroot=/kafka", "-o", "json"}, "/kafka", "json"},
	}
	for _, tt := range tests {
		o, err := parse(t, tt.args...)
		if err != nil || o.Chroot != tt.chroot || o.Output != tt.out {
			t.Errorf("%v: %+v, %v", tt.args, o, err)
		}
	}
	for _, bad := range [][]string{{"-o", "yaml"}, {"--chroot=kafka"}, {"extra"}} {
		if _, err := parse(t, bad...); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}
