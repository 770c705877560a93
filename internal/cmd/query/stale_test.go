package query

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/config"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

type emptyRegistry struct{ registry.Registry }

func (emptyRegistry) Providers(context.Context, string, registry.ListOptions) ([]registry.Provider, error) {
	return nil, nil
}
func (emptyRegistry) Close() error { return nil }

// TestStaleEmptyAnswer: "nobody provides api" is an answer too, and a stale
// one prints as a fresh one would ([] with -o json), with exit 6.
func TestStaleEmptyAnswer(t *testing.T) {
	cfg := config.Defaults
	cfg.AnswerCache, cfg.StaleOK = t.TempDir(), time.Hour
	run := func(open func(context.Context) (registry.Registry, error)) (string, error) {
		out := &bytes.Buffer{}
		f := cmdutil.New(&cmdutil.IOStreams{Out: out, ErrOut: &bytes.Buffer{}})
		f.Config, f.OpenRegistry = &cfg, open
		opts := &Options{F: f, Output: "json"}
		opts.Query.Service = "api"
		err := Run(context.Background(), opts)
		return out.String(), err
	}
	if out, err := run(func(context.Context) (registry.Registry, error) { return emptyRegistry{}, nil }); err != nil || out != "[]\n" {
		t.Fatalf("fresh: %q %v", out, err)
	}
	out, err := run(func(context.Context) (registry.Registry, error) { return nil, exitcode.Unreachablef("down") })
	if exitcode.Of(err) != exitcode.Stale || out != "[]\n" {
		t.Errorf("stale: %q %v (exit %d), want [] and exit 6", out, err, exitcode.Of(err))
	}
}
