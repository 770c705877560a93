package leader_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/cmd/leader"
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
		{[]string{"sched", "-o", "yaml"}, exitcode.Usage},
		{[]string{"bad/group"}, exitcode.Usage},
		{[]string{}, exitcode.Usage},
		{[]string{"sched", "--watch", "-o", "lines", "--path", "/mesos"}, 0},
	} {
		f := cmdutil.New(&cmdutil.IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
		var got *leader.Options
		cmd := leader.NewCmdLeader(f, func(_ context.Context, o *leader.Options) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if code := exitcode.Of(err); code != c.code {
			t.Errorf("%q: exit %d (%v), want %d", c.args, code, err, c.code)
		}
		if c.code == 0 && (!got.Watch || got.Output != "lines" || got.Path != "/mesos" || got.Group != "sched") {
			t.Errorf("%q: options %+v", c.args, got)
		}
	}
}

// mesosMaster is a member's data as Mesos 1.x writes it.
const mesosMaster = `{"address":{"hostname":"m1.example.com","ip":"10.0.0.1","port":5050},"hostname":"m1.example.com",` +
	`"id":"0b7c1f","ip":16777226,"pid":"master@10.0.0.1:5050","port":5050,"version":"1.11.0"}`

// TestPathPrintsWhatMesosResolvePrints reads a Mesos cluster's election
// outside --root: -o lines is the leader's ip:port, exit 3 without one,
// and --watch prints every change.
func TestPathPrintsWhatMesosResolvePrints(t *testing.T) {
	zkc := testzk.Shared(t)
	mesos := testzk.Root(t) + "-mesos"
	conn, _, err := zk.Connect(strings.Split(zkc.ConnString(), ","), 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create(mesos, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := func(extra ...string) []string {
		return append([]string{"leader", "mesos", "--path", mesos, "--registry", zkc.URL(""), "--timeout", "10s"}, extra...)
	}
	if r := testcli.Run(ctx, "", args("-o", "lines")...); r.Code != exitcode.NotEnough || r.Out != "" {
		t.Fatalf("no master: exit %d out %q err %s; want 3 and nothing", r.Code, r.Out, r.Err)
	}
	watch := testcli.Start(t, args("-o", "lines", "--watch")...)
	testenv.WaitFor(t, "the watch's first (empty) line", 20*time.Second, func() bool { return watch.Out.String() == "\n" })

	member, err := conn.Create(mesos+"/json.info_", []byte(mesosMaster), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	if r := testcli.Run(ctx, "", args("-o", "lines")...); r.Code != 0 || r.Out != "10.0.0.1:5050\n" {
		t.Fatalf("lines: exit %d out %q err %s", r.Code, r.Out, r.Err)
	}
	if r := testcli.Run(ctx, "", args()...); r.Code != 0 || !strings.HasPrefix(r.Out, "mesos: 0b7c1f at m1.example.com:5050 (token ") {
		t.Fatalf("text: exit %d out %q err %s", r.Code, r.Out, r.Err)
	}
	if r := testcli.Run(ctx, "", args("-o", "json")...); r.Code != 0 || !strings.Contains(r.Out, `"address":"10.0.0.1"`) || !strings.Contains(r.Out, `"service":"mesos"`) {
		t.Fatalf("json: exit %d out %q err %s", r.Code, r.Out, r.Err)
	}
	testenv.WaitFor(t, "the watch to print the master", 20*time.Second, func() bool {
		return watch.Out.String() == "\n10.0.0.1:5050\n"
	})
	if err := conn.Delete(member, -1); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the watch to print no master", 20*time.Second, func() bool {
		return watch.Out.String() == "\n10.0.0.1:5050\n\n"
	})
	if err := watch.Stop(); err != nil {
		t.Fatalf("leader --watch stopped with %v, want nil", err)
	}
}
