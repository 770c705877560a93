package root_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcdisco/svcdisco/internal/cmd/root"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
	"github.com/svcdisco/svcdisco/registry/dial"
)

func TestMain(m *testing.M) { testzk.Main(m) }

// complete runs `svcdisco __complete args…` (what the shell scripts run)
// and returns the candidates and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := testcli.Run(ctx, "", append([]string{"__complete"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("__complete %v: exit %d: %s", args, res.Code, res.Err)
	}
	lines := strings.Split(strings.TrimSpace(res.Out), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

// TestCompleteServiceNames: query, register and maintenance complete
// service names read from a real ZooKeeper, filtered by the prefix typed.
func TestCompleteServiceNames(t *testing.T) {
	zkc := testzk.Shared(t)
	url, rootPath := zkc.URL(""), testzk.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg, err := dial.Open(ctx, dial.Options{URL: url, Root: rootPath, SessionTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		testenv.Missing(t, "ZooKeeper", err)
	}
	defer reg.Close()
	for _, svc := range []string{"web", "worker", "db"} {
		if _, err := reg.Register(ctx, registry.Provider{Service: svc, Host: "h1", Port: 80, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	global := []string{"--registry", url, "--root", rootPath}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"query", ""}, []string{"db", "web", "worker"}},
		{[]string{"query", "w"}, []string{"web", "worker"}},
		{[]string{"maintenance", "d"}, []string{"db"}},
		{[]string{"register", "wo"}, []string{"worker"}},
		{[]string{"query", "web", ""}, nil}, // one service only
	} {
		got, directive := complete(t, append(c.args[:len(c.args)-1:len(c.args)-1], append(global, c.args[len(c.args)-1])...)...)
		if !slices.Equal(got, c.want) || directive != ":4" {
			t.Errorf("complete %v: %q %s, want %q :4", c.args, got, directive, c.want)
		}
	}
}

// TestCompleteUnreachableRegistry: nothing to offer, and no error, when
// the registry does not answer.
func TestCompleteUnreachableRegistry(t *testing.T) {
	ports, err := testenv.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	got, directive := complete(t, "query", "--registry", fmt.Sprintf("zk://127.0.0.1:%d", ports[0]), "--timeout", "300ms", "")
	if len(got) != 0 || directive != ":4" {
		t.Fatalf("got %q %s", got, directive)
	}
}

// TestCompleteFlagValues: -o on every command that has it, --report,
// --log-level and --log-format complete their values.
func TestCompleteFlagValues(t *testing.T) {
	cases := map[string][]string{
		"query -o":          {"table", "json", "lines"},
		"render --report":   {"text", "json"},
		"query --log-level": {"debug", "info", "warn", "error"},
		"--log-format":      {"text", "json"},
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.LocalNonPersistentFlags().Lookup("output") != nil {
			if _, ok := cases[cmdutil.CommandName(c)+" -o"]; !ok {
				cases[cmdutil.CommandName(c)+" -o"] = nil // must offer something
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root.NewCmdRoot(cmdutil.New(&cmdutil.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})))
	for line, want := range cases {
		got, directive := complete(t, append(strings.Fields(line), "")...)
		if directive != ":4" || len(got) == 0 || (want != nil && !slices.Equal(got, want)) {
			t.Errorf("%s: %q %s, want %q :4", line, got, directive, want)
		}
	}
}

// TestVersionFlag: --version prints what `version` prints.
func TestVersionFlag(t *testing.T) {
	ctx := context.Background()
	flag, cmd := testcli.Run(ctx, "", "--version"), testcli.Run(ctx, "", "version")
	if flag.Code != 0 || flag.Out != cmd.Out || !strings.HasPrefix(flag.Out, "svcdisco ") {
		t.Fatalf("--version %q (exit %d), version %q", flag.Out, flag.Code, cmd.Out)
	}
}
