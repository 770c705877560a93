package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// secret is what every case hides somewhere; it must never be printed.
const secret = "Sup3rS3cretValue"

// TestNoSecretPrinted sweeps the error paths of registry URL parsing and of
// connecting (unreachable Consul, Exhibitor and ZooKeeper) with a secret in
// every position a URL or the environment can carry one, on several
// commands and at log level debug, and asserts the secret is on neither
// stdout nor stderr.
func TestNoSecretPrinted(t *testing.T) {
	dead := fmt.Sprintf("127.0.0.1:%d", testzk.FreePort())
	s := secret
	urls := []string{
		// Consul token: first, middle, last parameter, misspelt, escaped.
		"consul://" + dead + "?token=" + s,
		"consul://" + dead + "?dc=dc1&token=" + s + "&tls=false",
		"consul://" + dead + "?tls=false&token=" + s,
		"consul://" + dead + "?tokne=" + s,
		"consul://" + dead + "?token=" + s + "&bogus=1",
		"consul://" + dead + "?bogus=1&token=" + s,
		"consul://" + dead + "?token=" + s + "&tls=maybe",
		"consul://" + dead + "?token=" + s + "%zz",
		"consul://" + dead + "?token=%53" + s[1:],
		"consul://" + dead + ",127.0.0.2:1?token=" + s,
		"consul://" + dead + "/chroot?token=" + s,
		"consul://127.0.0.1:99999?token=" + s,
		"consul://u:" + s + "@" + dead,
		// Passwords in userinfo, on every scheme and with every URL error.
		"exhibitor://ops:" + s + "@" + dead + "/prod",
		"exhibitor://ops:" + s + "@" + dead + "/prod?backup=" + dead,
		"exhibitor://ops:" + s + "@127.0.0.1:99999/prod",
		"exhibitor://ops:" + s + "@" + dead + "/bad//chroot",
		"exhibitor://ops:S@" + s + "@" + dead + "/prod",
		"exhibitor://ops:" + s + "/x@" + dead + "/prod",
		"zk://ops:" + s + "@" + dead + "/prod",
		"zk://ops:" + s + "@" + dead + "/prod?x=1",
		"zk://" + dead + "/prod?auth=" + s,
		"zk:/ops:" + s + "@" + dead,
		"zookeeper://ops:" + s + "@" + dead,
		"etcd://ops:" + s + "@" + dead,
	}
	tmpl := filepath.Join(t.TempDir(), "t.tmpl")
	if err := os.WriteFile(tmpl, []byte(`{{ range providers "web" }}{{ .Host }}{{ end }}`), 0o644); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"render", "--once", "--report", "json", "--template", tmpl + ":" + filepath.Join(t.TempDir(), "out")},
		{"query", "web"},
		{"services"},
		{"ensemble", "-o", "json"},
		{"chroot", "check"},
		{"register", "web", "--port", "8080", "--host", "h1"},
	}
	env := []string{
		"SVCDISCO_ZK_AUTH=ops:" + s,
		"CONSUL_HTTP_TOKEN=" + s,
		"SVCDISCO_EXHIBITOR_AUTH=ops:" + s,
	}
	for _, u := range urls {
		for _, c := range commands {
			args := append([]string{"--registry", u, "--timeout", "1s", "--log-level", "debug"}, c...)
			code, out, errOut := runEnv(t, nil, args...)
			if code == 0 && !strings.Contains(u, "backup=") {
				t.Errorf("%v: exit 0, want an error", args)
			}
			assertNoSecret(t, args, out, errOut)
		}
	}
	// Secrets from the environment, against unreachable registries.
	for _, u := range []string{"consul://" + dead, "exhibitor://" + dead + "/prod", "zk://" + dead + "/prod"} {
		args := []string{"--registry", u, "--timeout", "1s", "--log-level", "debug", "query", "web"}
		_, out, errOut := runEnv(t, env, args...)
		assertNoSecret(t, args, out, errOut)
	}
	// An Exhibitor refusing the password (401), given in the URL (refused
	// before any request), the environment or --exhibitor-auth-file.
	ex := testexhibitor.Start(t)
	ex.RequireAuth("ops", "the-right-one")
	authFile := filepath.Join(t.TempDir(), "exhibitor-auth")
	if err := os.WriteFile(authFile, []byte("ops:"+s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		url   string
		env   []string
		extra []string
	}{
		{"exhibitor://ops:" + s + "@" + ex.Host() + "/prod", nil, nil},
		{"exhibitor://" + ex.Host() + "/prod", []string{"SVCDISCO_EXHIBITOR_AUTH=ops:" + s}, nil},
		{"exhibitor://" + ex.Host() + "/prod", nil, []string{"--exhibitor-auth-file", authFile}},
	} {
		for _, cmd := range [][]string{{"ensemble", "-o", "json"}, {"query", "web"}} {
			args := append([]string{"--registry", c.url, "--timeout", "2s", "--log-level", "debug",
				"--ensemble-cache", filepath.Join(t.TempDir(), "cache")}, c.extra...)
			args = append(args, cmd...)
			code, out, errOut := runEnv(t, c.env, args...)
			if code == 0 {
				t.Errorf("%v: exit 0 with a refused password", args)
			}
			assertNoSecret(t, args, out, errOut)
		}
	}
	// --help shows defaults: none may come from a secret.
	_, out, errOut := runEnv(t, env, "--registry", "consul://"+dead+"?token="+s, "query", "--help")
	assertNoSecret(t, []string{"query --help"}, out, errOut)
}

func assertNoSecret(t *testing.T, args []string, out, errOut string) {
	t.Helper()
	for _, leak := range []string{secret, secret[1:], strings.ToLower(secret)} {
		if strings.Contains(out, leak) || strings.Contains(errOut, leak) {
			t.Errorf("%q printed the secret:\nstdout: %s\nstderr: %s", args, out, errOut)
			return
		}
	}
}

// runEnv runs svcdisco with extra environment variables.
func runEnv(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(testenv.CleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatalf("svcdisco %v: %v", args, err)
	}
	return 0, out.String(), errb.String()
}
