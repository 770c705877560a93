package chroot_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry/zk"
)

func authFile(t *testing.T, mode os.FileMode, lines string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "zk-auth")
	if err := os.WriteFile(p, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrimeWithACLAuthenticated is the README's ACL example end to end:
// refused up front without credentials (nothing half-primed), primed as
// the admin, checked, then used by a registrant.
func TestPrimeWithACLAuthenticated(t *testing.T) {
	zkc := testzk.Shared(t)
	chroot := testzk.Root(t) + "/prodacl"
	ops := zk.Credential{User: "ops", Password: "ops-secret"}
	web1 := zk.Credential{User: "web1", Password: "web1-secret"}
	opsFile := authFile(t, 0o600, "# admin\nops:ops-secret\n")
	web1File := authFile(t, 0o600, "web1:web1-secret\n")
	prime := []string{"chroot", "prime", chroot, "--registry", zkc.URL(""),
		"--acl", "world:anyone:r", "--acl", "digest:" + ops.ID() + ":cdrwa",
		"--service", "web", "--registrant", web1.ID()}

	res := run(t, "", prime...)
	if res.Code != exitcode.Usage || !strings.Contains(res.Error.Error(), "--zk-auth-file") {
		t.Fatalf("prime unauthenticated: exit %d, %v; want 2 naming --zk-auth-file", res.Code, res.Error)
	}
	if res := run(t, "", "chroot", "check", chroot, "--registry", zkc.URL("")); res.Code != exitcode.Unreachable {
		t.Fatalf("the refused prime left %s behind: check exit %d", chroot, res.Code)
	}
	res = run(t, "", append(prime, "--zk-auth-file", opsFile)...)
	if res.Code != 0 || !strings.Contains(res.Out, "created "+chroot+"/svcdisco/services/web\n") ||
		!strings.Contains(res.Out, "created "+chroot+"/svcdisco/maintenance/web\n") {
		t.Fatalf("prime as ops: exit %d %v\n%s", res.Code, res.Error, res.Out)
	}
	res = run(t, "", "chroot", "check", chroot, "--registry", zkc.URL(""))
	if res.Code != 0 || strings.Contains(res.Err, "world-writable") || strings.Contains(res.Err, "maintenance") {
		t.Fatalf("check: exit %d %v\n%s", res.Code, res.Error, res.Err)
	}

	reg := testcli.Start(t, "register", "web", "--port", "8080", "--host", "web1.example.com",
		"--registry", zkc.URL(chroot), "--zk-auth-file", web1File, "--zk-admin-acl", "digest:"+ops.ID()+":rw")
	q := []string{"query", "web", "-o", "lines", "--registry", zkc.URL(chroot), "--at-least", "1", "--wait", "20s"}
	if res := run(t, "", q...); res.Code != 0 || res.Out != "web1.example.com:8080\n" {
		t.Fatalf("anonymous query of web1's registration: exit %d %v %q\n%s", res.Code, res.Error, res.Out, reg.Err)
	}
	// The admin (named by web1's --zk-admin-acl) starts maintenance of
	// web1's provider; web1 itself ends it.
	maint := []string{"maintenance", "web", "on", "--host", "web1.example.com", "--registry", zkc.URL(chroot), "--zk-auth-file", opsFile}
	if res := run(t, "", maint...); res.Code != 0 {
		t.Fatalf("maintenance on as ops: exit %d %v", res.Code, res.Error)
	}
	maint[len(maint)-1] = web1File
	lines := []string{"query", "web", "-o", "lines", "--registry", zkc.URL(chroot)}
	testenv.WaitFor(t, "web1 hidden from -o lines", 20*time.Second, func() bool { return run(t, "", lines...).Out == "" })
	maint[2] = "off"
	if res := run(t, "", maint...); res.Code != 0 {
		t.Fatalf("maintenance off as web1: exit %d %v", res.Code, res.Error)
	}
	testenv.WaitFor(t, "web1 listed again", 20*time.Second, func() bool { return run(t, "", lines...).Out == "web1.example.com:8080\n" })
	// Without credentials a registrant cannot register.
	res = run(t, "", "register", "web", "--port", "8081", "--host", "x.example.com", "--registry", zkc.URL(chroot), "--timeout", "5s")
	if res.Code == 0 || !strings.Contains(res.Error.Error(), "not authenticated") {
		t.Fatalf("anonymous register: exit %d, %v", res.Code, res.Error)
	}
}

func TestCheckReportsACLProblems(t *testing.T) {
	zkc := testzk.Shared(t)
	base := testzk.Root(t)
	ops := zk.Credential{User: "ops", Password: "ops-secret"}
	opsFile := authFile(t, 0o600, "ops:ops-secret\n")
	// A service directory no registrant may create in.
	res := run(t, "", "chroot", "prime", base, "--registry", zkc.URL(""), "--zk-auth-file", opsFile,
		"--acl", "world:anyone:r", "--acl", "digest:"+ops.ID()+":cdrwa", "--service", "web")
	if res.Code != 0 {
		t.Fatalf("prime: %v", res.Error)
	}
	res = run(t, "", "chroot", "check", base, "--registry", zkc.URL(""))
	if res.Code != exitcode.Failure || !strings.Contains(res.Error.Error(), "services/web gives no registrant CREATE") {
		t.Fatalf("check of an unusable tree: exit %d, %v", res.Code, res.Error)
	}
	// A service primed before the maintenance tree existed: registrants
	// cannot write markers, which check reports.
	res = run(t, "", "chroot", "prime", base, "--registry", zkc.URL(""), "--zk-auth-file", opsFile,
		"--acl", "world:anyone:r", "--acl", "digest:"+ops.ID()+":cdrwa", "--service", "db", "--registrant", ops.ID())
	if res.Code != 0 {
		t.Fatalf("prime db: %v", res.Error)
	}
	if res := run(t, "", "chroot", "check", base, "--registry", zkc.URL("")); strings.Contains(res.Err, "maintenance/db") {
		t.Fatalf("check warns of a primed marker directory:\n%s", res.Err)
	}
	rmMarkerDir(t, zkc.ConnString(), ops, base+"/svcdisco/maintenance/db")
	res = run(t, "", "chroot", "check", base, "--registry", zkc.URL(""))
	if !strings.Contains(res.Err, base+"/svcdisco/maintenance/db does not exist") {
		t.Fatalf("check of a service without its marker directory: exit %d %v\n%s", res.Code, res.Error, res.Err)
	}
	// The default ACL is world-writable: usable, with a warning.
	open := testzk.Root(t)
	if res := run(t, "", "chroot", "prime", open, "--registry", zkc.URL("")); res.Code != 0 {
		t.Fatalf("prime: %v", res.Error)
	}
	res = run(t, "", "chroot", "check", open, "--registry", zkc.URL(""))
	if res.Code != 0 || !strings.Contains(res.Err, "world-writable") {
		t.Fatalf("check of a world-writable tree: exit %d %v\n%s", res.Code, res.Error, res.Err)
	}
}

func TestAuthInputErrors(t *testing.T) {
	zkc := testzk.Shared(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"credentials in the URL", []string{"--registry", "zk://ops:pw@" + zkc.ConnString()}, "--zk-auth-file"},
		{"auth file readable by others", []string{"--zk-auth-file", authFile(t, 0o644, "ops:pw\n")}, "chmod 600"},
		{"auth file line", []string{"--zk-auth-file", authFile(t, 0o600, "ops-without-password\n")}, "line 1"},
		{"auth file missing", []string{"--zk-auth-file", filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"registrant without service", []string{"--registrant", "web1:" + strings.Repeat("A", 27) + "="}, "--service"},
		{"bad registrant id", []string{"--service", "web", "--registrant", "web1:nothash"}, "digest hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"chroot", "prime", testzk.Root(t), "--registry", zkc.URL("")}, tt.args...)
			res := run(t, "", args...)
			if res.Code != exitcode.Usage || !strings.Contains(res.Error.Error(), tt.want) {
				t.Fatalf("exit %d, %v; want 2 naming %q", res.Code, res.Error, tt.want)
			}
			if strings.Contains(res.Error.Error(), "pw") && tt.name != "auth file missing" {
				t.Errorf("the error shows the password: %v", res.Error)
			}
		})
	}
}

// rmMarkerDir deletes dir as the admin cred.
func rmMarkerDir(t *testing.T, servers string, cred zk.Credential, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := zk.Open(ctx, zk.Options{Servers: strings.Split(servers, ","), Auth: []zk.Credential{cred}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Conn().Delete(dir, -1); err != nil {
		t.Fatalf("delete %s: %v", dir, err)
	}
}
