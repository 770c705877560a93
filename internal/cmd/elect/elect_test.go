package elect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/elect"
	cmdelect "github.com/svcdisco/svcdisco/internal/cmd/elect"
	"github.com/svcdisco/svcdisco/internal/cmdutil"
	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"sched", "--port", "70000"}, exitcode.Usage},
		{[]string{"bad/group"}, exitcode.Usage},
		{[]string{"sched", "--grace", "0s"}, exitcode.Usage},
		{[]string{"sched", "--attr", "novalue"}, exitcode.Usage},
		{[]string{"sched", "--"}, exitcode.Usage},
		{[]string{"sched", "--id", "s1", "--host", "h1", "--port", "7001", "--attr", "zone=a", "--", "sleep", "1"}, 0},
	} {
		f := cmdutil.New(&cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
		var got *cmdelect.Options
		cmd := cmdelect.NewCmdElect(f, func(_ context.Context, o *cmdelect.Options) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if code := exitcode.Of(err); code != c.code {
			t.Errorf("%q: exit %d (%v), want %d", c.args, code, err, c.code)
		}
		if c.code == 0 && (got.Me.ID != "s1" || got.Me.Port != 7001 || got.Me.Attributes["zone"] != "a" ||
			strings.Join(got.Command, " ") != "sleep 1") {
			t.Errorf("%q: options %+v", c.args, got)
		}
	}
}

func changes(t *testing.T, p *testcli.Proc) []elect.Change {
	t.Helper()
	var out []elect.Change
	for _, l := range strings.Split(strings.TrimSpace(p.Out.String()), "\n") {
		if l == "" {
			continue
		}
		var c elect.Change
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, c)
	}
	return out
}

// TestJSONLinesPerChange: a contender prints that it stands by, then that
// it leads; a second one leads (with a larger token) once the first stops.
func TestJSONLinesPerChange(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	args := func(id string) []string {
		return []string{"elect", "sched", "--id", id, "--host", id + ".example.com", "--port", "7001",
			"--registry", zkc.URL(""), "--root", root, "--session-timeout", "4s", "--timeout", "10s"}
	}
	first := testcli.Start(t, args("s1")...)
	testenv.WaitFor(t, "s1 to lead", 20*time.Second, func() bool { return len(changes(t, first)) == 2 })
	second := testcli.Start(t, args("s2")...)
	testenv.WaitFor(t, "s2 to stand by", 20*time.Second, func() bool { return len(changes(t, second)) == 1 })
	c1 := changes(t, first)
	if c1[0] != (elect.Change{ID: "s1"}) || !c1[1].Leader || c1[1].ID != "s1" || c1[1].Token == 0 {
		t.Fatalf("s1 printed %+v", c1)
	}
	r := testcli.Run(context.Background(), "", "leader", "sched", "-o", "lines", "--registry", zkc.URL(""), "--root", root)
	if r.Code != 0 || r.Out != "s1.example.com:7001\n" {
		t.Fatalf("leader: %d %q %s", r.Code, r.Out, r.Err)
	}
	if err := first.Stop(); err != nil {
		t.Fatalf("s1 stopped with %v", err)
	}
	// Stopping resigns (deletes its member), so s2 leads.
	testenv.WaitFor(t, "s2 to lead", 20*time.Second, func() bool { return len(changes(t, second)) == 2 })
	c2 := changes(t, second)
	if c2[0] != (elect.Change{ID: "s2"}) || !c2[1].Leader || c2[1].Token <= c1[1].Token {
		t.Fatalf("s2 printed %+v after s1's %+v", c2, c1)
	}
}

// TestCommandExitCodes: CMD exiting on its own ends the candidacy with its
// code (and resigns: nobody leads afterwards); a CMD that does not exist
// is 127.
func TestCommandExitCodes(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := []string{"--registry", zkc.URL(""), "--root", root, "--timeout", "10s"}
	r := testcli.Run(ctx, "", append(append([]string{"elect", "sched", "--port", "7001"}, reg...), "--", "sh", "-c", `test "$SVCDISCO_ELECT_GROUP" = sched && test "$SVCDISCO_ELECT_TOKEN" -gt 0 && exit 7`)...)
	if r.Code != 7 {
		t.Fatalf("CMD exiting 7: elect exited %d (%v); stderr:\n%s", r.Code, r.Error, r.Err)
	}
	if l := testcli.Run(ctx, "", append([]string{"leader", "sched"}, reg...)...); l.Code != exitcode.NotEnough {
		t.Fatalf("after CMD exited: leader exit %d %q, want 3 (resigned)", l.Code, l.Out)
	}
	r = testcli.Run(ctx, "", append(append([]string{"elect", "sched", "--port", "7001"}, reg...), "--", "/nonexistent/cmd")...)
	if r.Code != 127 {
		t.Fatalf("missing CMD: elect exited %d (%v), want 127", r.Code, r.Error)
	}
}
