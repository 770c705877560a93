package chroot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

func TestMain(m *testing.M) { testzk.Main(m) }

func run(t *testing.T, stdin string, args ...string) testcli.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return testcli.Run(ctx, stdin, args...)
}

func TestPrimeCheck(t *testing.T) {
	zkc := testzk.Shared(t)
	chroot := testzk.Root(t) + "/prod"
	reg := []string{"--registry", zkc.URL("")}

	res := run(t, "", append([]string{"chroot", "check", chroot}, reg...)...)
	if res.Code != exitcode.Unreachable || !strings.Contains(res.Error.Error(), "svcdisco chroot prime "+chroot) {
		t.Fatalf("check before prime: exit %d, %v", res.Code, res.Error)
	}
	res = run(t, "", append([]string{"chroot", "prime", chroot}, reg...)...)
	parent := strings.TrimSuffix(chroot, "/prod")
	want := "created " + parent + "\ncreated " + chroot + "\ncreated " + chroot + "/svcdisco\ncreated " + chroot + "/svcdisco/services\n"
	if res.Code != 0 || res.Out != want {
		t.Fatalf("prime: exit %d %v\n%s", res.Code, res.Error, res.Out)
	}
	// PATH defaults to the registry URL's chroot, which need not exist
	// before prime; a second prime creates nothing.
	res = run(t, "", "chroot", "prime", "--registry", zkc.URL(chroot))
	if res.Code != 0 || res.Out != "" {
		t.Fatalf("second prime: exit %d %v\n%q", res.Code, res.Error, res.Out)
	}
	if res := run(t, "", append([]string{"chroot", "check", chroot}, reg...)...); res.Code != 0 {
		t.Fatalf("check after prime: exit %d, %v", res.Code, res.Error)
	}
	// The primed chroot is usable as is.
	if res := run(t, "", "services", "--registry", zkc.URL(chroot)); res.Code != 0 {
		t.Fatalf("services in the primed chroot: %v", res.Error)
	}
	for _, bad := range [][]string{{"chroot", "prime", "relative"}, {"chroot", "prime", "/x", "--acl", "world:anyone"}, {"chroot", "prime"}} {
		if res := run(t, "", append(bad, reg...)...); res.Code != exitcode.Usage {
			t.Errorf("%v: exit %d, want 2 (%v)", bad, res.Code, res.Error)
		}
	}
}

// Export from one real ZooKeeper, import into another: a dry run changes
// nothing, the import reproduces the tree byte for byte, and a differing
// znode is a conflict until --overwrite.
func TestExportImportBetweenEnsembles(t *testing.T) {
	a, b := testzk.Start(t, 1), testzk.Start(t, 1)
	onA, onB := []string{"--registry", a.URL("")}, []string{"--registry", b.URL("")}
	if res := run(t, "", append([]string{"chroot", "prime", "/prod"}, onA...)...); res.Code != 0 {
		t.Fatal(res.Error)
	}
	reg := testcli.Start(t, "register", "web", "--port", "80", "--host", "h1", "--registry", a.URL("/prod"))
	waitLines(t, a.URL("/prod"), "h1:80\n")

	exp := run(t, "", append([]string{"chroot", "export", "/prod"}, onA...)...)
	if exp.Code != 0 || !strings.Contains(exp.Out, `"ephemerals_skipped": 1`) {
		t.Fatalf("export: exit %d %v\n%s", exp.Code, exp.Error, exp.Out)
	}
	_ = reg.Stop()

	dry := run(t, exp.Out, append([]string{"chroot", "import", "/prod", "--dry-run"}, onB...)...)
	if dry.Code != 0 || !strings.Contains(dry.Out, "would be created /prod/svcdisco/services/web") {
		t.Fatalf("dry run: exit %d %v\n%s", dry.Code, dry.Error, dry.Out)
	}
	if res := run(t, "", append([]string{"chroot", "check", "/prod"}, onB...)...); res.Code != exitcode.Unreachable {
		t.Fatalf("dry run created /prod (check exit %d)", res.Code)
	}
	imp := run(t, exp.Out, append([]string{"chroot", "import", "/prod"}, onB...)...)
	if imp.Code != 0 || !strings.Contains(imp.Out, "4 created, 0 updated, 0 unchanged, 0 conflict(s)") {
		t.Fatalf("import: exit %d %v\n%s", imp.Code, imp.Error, imp.Out)
	}
	exp2 := run(t, "", append([]string{"chroot", "export", "/prod"}, onB...)...)
	if exp2.Out != strings.Replace(exp.Out, `"ephemerals_skipped": 1`, `"ephemerals_skipped": 0`, 1) {
		t.Fatalf("B's export differs from A's:\n%s\n%s", exp.Out, exp2.Out)
	}

	changed := strings.Replace(exp.Out, `"path": "/",`+"\n      \"data\": null", `"path": "/",`+"\n      \"data\": \"eA==\"", 1)
	if changed == exp.Out {
		t.Fatalf("test fixture: could not change the root's data in\n%s", exp.Out)
	}
	res := run(t, changed, append([]string{"chroot", "import", "/prod"}, onB...)...)
	if res.Code != exitcode.Failure || !strings.Contains(res.Out, "conflict /prod: data differs") {
		t.Fatalf("conflict: exit %d %v\n%s", res.Code, res.Error, res.Out)
	}
	res = run(t, changed, append([]string{"chroot", "import", "/prod", "--overwrite", "-o", "json"}, onB...)...)
	if res.Code != 0 || !strings.Contains(res.Out, `"updated": [`+"\n    \"/prod\"") {
		t.Fatalf("overwrite: exit %d %v\n%s", res.Code, res.Error, res.Out)
	}
	if res := run(t, "not json", append([]string{"chroot", "import", "/prod"}, onB...)...); res.Code != exitcode.Usage {
		t.Fatalf("garbage on stdin: exit %d", res.Code)
	}
}

func waitLines(t *testing.T, url, want string) {
	t.Helper()
	testenv.WaitFor(t, url+" to list "+want, 10*time.Second, func() bool {
		return run(t, "", "query", "web", "-o", "lines", "--registry", url).Out == want
	})
}

// A path or dump ZooKeeper would refuse is bad input (exit 2), found
// before anything is written.
func TestImportBadInput(t *testing.T) {
	reg := []string{"--registry", testzk.Shared(t).URL("")}
	dest := testzk.Root(t) + "/imported" // if one got through, it stays out of other tests' way
	good := `{"path":"/prod","nodes":[{"path":"/","data":null,"acl":[]}]}`
	for name, tc := range map[string]struct{ stdin, path, want string }{
		"system tree":   {good, "/zookeeper/x", "/zookeeper"},
		"control char":  {good, dest + "/a\x01b", "U+0001"},
		"relative node": {`{"path":"/p","nodes":[{"path":"x","data":null,"acl":[]}]}`, dest, `"x"`},
		"no nodes":      {`{"path":"/p","nodes":[]}`, dest, "no nodes"},
		"digest":        {`{"path":"/p","nodes":[{"path":"/","data":null,"acl":[{"scheme":"digest","id":"ops:HASH=","perms":"cdrwa"}]}]}`, dest, "HASH="},
	} {
		res := run(t, tc.stdin, append([]string{"chroot", "import", tc.path}, reg...)...)
		if res.Code != exitcode.Usage || res.Error == nil || !strings.Contains(res.Error.Error(), tc.want) {
			t.Errorf("%s: exit %d (%v), want 2 naming %s", name, res.Code, res.Error, tc.want)
		}
	}
}
