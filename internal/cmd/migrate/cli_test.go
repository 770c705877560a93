package migrate_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

var clusterB *testzk.Cluster

func TestMain(m *testing.M) {
	testzk.Main(m)
	if clusterB != nil {
		clusterB.Stop()
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestMirrorAndMigrateBadInput: every misuse is exit 2 naming the input.
func TestMirrorAndMigrateBadInput(t *testing.T) {
	zkA, zkB := "zk://127.0.0.1:1", "zk://127.0.0.1:2"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--registry", zkA, "--mirror", "consul://127.0.0.1:8500", "register", "web", "--port", "80"}, "consul://127.0.0.1:8500"},
		{[]string{"--registry", zkA, "--mirror", zkA, "register", "web", "--port", "80"}, "the registry itself"},
		{[]string{"--registry", "zk://127.0.0.1:1,127.0.0.1:2/c", "--mirror", "zk://127.0.0.1:2,127.0.0.1:1/c", "agent"}, "the registry itself"},
		{[]string{"--registry", "consul://127.0.0.1:8500", "--mirror", zkB, "register", "web", "--port", "80"}, "consul://"},
		{[]string{"--registry", zkA, "--mirror", "zk:/bad", "query", "web"}, "zk:/bad"},
		{[]string{"--registry", zkA, "--mirror", zkB, "lock", "l", "--", "true"}, "a lock has one home"},
		{[]string{"migrate", "copy", "--from", zkA}, "--from and --to"},
		{[]string{"migrate", "verify", "--from", "etcd://127.0.0.1:2379", "--to", zkB}, "etcd://127.0.0.1:2379"},
		{[]string{"migrate", "verify", "--from", zkA, "--to", zkA}, "the same registry"},
		{[]string{"migrate", "verify", "--from", zkA, "--to", zkB, "--wait", "-1s"}, "--wait -1s"},
		{[]string{"migrate", "copy", "--from", zkA, "--to", zkB, "--path", "rel"}, "rel"},
		{[]string{"migrate", "verify", "--from", zkA, "--to", zkB, "-o", "yaml"}, "yaml"},
	}
	for _, tc := range tests {
		res := testcli.Run(ctxT(t), "", tc.args...)
		if res.Code != 2 || !strings.Contains(res.Error.Error(), tc.want) {
			t.Errorf("%v: exit %d, %v; want 2 naming %q", tc.args, res.Code, res.Error, tc.want)
		}
	}
}

// TestMigrateThroughTheCLI drives register --mirror, maintenance --mirror,
// migrate verify and migrate copy on two standalone servers (A shared, B
// started here; standalone stands in for ensembles on this small machine).
func TestMigrateThroughTheCLI(t *testing.T) {
	a := testzk.Shared(t)
	if clusterB == nil {
		c, err := testzk.New(1)
		if err != nil {
			testzk.Missing(t, err)
		}
		clusterB = c
	}
	root := testzk.Root(t)
	urlA, urlB := a.URL(""), clusterB.URL("")
	both := []string{"--root", root, "migrate", "verify", "--from", urlA, "--to", urlB}
	reg := testcli.Start(t, "--registry", urlA, "--mirror", urlB, "--root", root, "register", "web", "--port", "80", "--host", "h1")
	testenv.WaitFor(t, "register to report", 30*time.Second, func() bool { return strings.Contains(reg.Out.String(), "registered") })
	res := testcli.Run(ctxT(t), "", append(both, "--wait", "30s")...)
	if res.Code != 0 || !strings.Contains(res.Out, "agree: 1 services, 1 providers") {
		t.Fatalf("verify after register --mirror: exit %d\n%s%s", res.Code, res.Out, res.Err)
	}

	res = testcli.Run(ctxT(t), "", "--registry", urlA, "--mirror", urlB, "--root", root, "maintenance", "web", "on", "--host", "h1")
	if res.Code != 0 {
		t.Fatalf("maintenance --mirror: exit %d: %v %s", res.Code, res.Error, res.Err)
	}
	for _, u := range []string{urlA, urlB} { // hidden on both sides: in maintenance
		q := testcli.Run(ctxT(t), "", "--registry", u, "--root", root, "query", "web", "-o", "json")
		if q.Code != 0 || strings.TrimSpace(q.Out) != "[]" {
			t.Fatalf("query %s after maintenance --mirror: exit %d, %s", u, q.Code, q.Out)
		}
	}
	res = testcli.Run(ctxT(t), "", append(both, "-o", "json")...)
	var v struct {
		Agree     bool `json:"agree"`
		Providers int  `json:"providers"`
	}
	if err := json.Unmarshal([]byte(res.Out), &v); err != nil || res.Code != 0 || !v.Agree || v.Providers != 1 {
		t.Fatalf("verify after maintenance --mirror: exit %d, %+v, %v\n%s", res.Code, v, err, res.Out)
	}

	alone := testcli.Start(t, "--registry", urlA, "--root", root, "register", "web", "--port", "81", "--host", "h2")
	testenv.WaitFor(t, "the unmirrored register", 30*time.Second, func() bool { return strings.Contains(alone.Out.String(), "registered") })
	res = testcli.Run(ctxT(t), "", both...)
	if res.Code != 1 || !strings.Contains(res.Out, "missing on --to") || !strings.Contains(res.Out, "DIFFER (1 differences)") {
		t.Fatalf("verify with a provider on A alone: exit %d\n%s%s", res.Code, res.Out, res.Err)
	}

	res = testcli.Run(ctxT(t), "", "--root", root, "migrate", "copy", "--from", urlA, "--to", clusterB.URL("/copy"), "--dry-run")
	// Two providers and h1's maintenance marker are ephemeral.
	if res.Code != 0 || !strings.Contains(res.Out, "would copy") || !strings.Contains(res.Out, "skipped 3 ephemeral znodes") {
		t.Fatalf("copy --dry-run: exit %d\n%s%s", res.Code, res.Out, res.Err)
	}
	if err := reg.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := alone.Stop(); err != nil {
		t.Fatal(err)
	}
	res = testcli.Run(ctxT(t), "", both...)
	if res.Code != 0 || !strings.Contains(res.Out, "agree: 1 services, 0 providers") {
		t.Fatalf("verify once both stopped: exit %d\n%s%s", res.Code, res.Out, res.Err)
	}
}
