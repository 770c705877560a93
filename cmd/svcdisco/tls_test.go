package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testconsul"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// TestZooKeeperTLS runs against Debian's ZooKeeper serving secureClientPort
// through Netty with ssl.clientAuth=need: mutual TLS works end to end; a
// wrong CA or a missing client certificate is exit 4 naming the TLS error.
func TestZooKeeperTLS(t *testing.T) {
	files := testzk.GenerateTLS(t)
	_, port := testzk.StartTLS(t, files)
	url := fmt.Sprintf("zk://127.0.0.1:%d?tls=1", port)
	root := testzk.Root(t)
	base := []string{"--registry", url, "--root", root, "--timeout", "20s"}
	good := append(base, "--zk-tls-ca", files.CA, "--zk-tls-cert", files.ClientCert, "--zk-tls-key", files.ClientKey)

	p := start(t, append(good, "register", "web", "--port", "8080", "--host", "tls1.example.com")...)
	p.waitLine(t, "registered web provider")
	res := run(t, append(good, "query", "web", "-o", "lines")...)
	if res.code != 0 || res.stdout != "tls1.example.com:8080\n" {
		t.Fatalf("query over TLS: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	// The same ensemble found through Exhibitor: exhibitor://…?tls=1.
	ex := testexhibitor.Start(t)
	ex.JSON(port, "127.0.0.1")
	exArgs := []string{"--registry", "exhibitor://" + ex.Host() + "?tls=1", "--root", root, "--timeout", "20s",
		"--ensemble-cache", filepath.Join(t.TempDir(), "cache"),
		"--zk-tls-ca", files.CA, "--zk-tls-cert", files.ClientCert, "--zk-tls-key", files.ClientKey}
	res = run(t, append(exArgs, "query", "web", "-o", "lines")...)
	if res.code != 0 || res.stdout != "tls1.example.com:8080\n" {
		t.Fatalf("query over TLS through Exhibitor: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	short := []string{"--registry", url, "--root", root, "--timeout", "3s"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong CA", []string{"--zk-tls-ca", files.OtherCA, "--zk-tls-cert", files.ClientCert, "--zk-tls-key", files.ClientKey}, "certificate signed by unknown authority"},
		{"no client certificate", []string{"--zk-tls-ca", files.CA}, "TLS handshake"},
	} {
		res := run(t, append(append(short, c.args...), "query", "web")...)
		if res.code != 4 || !strings.Contains(res.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 4 naming %q", c.name, res.code, res.stderr, c.want)
		}
	}
	res = run(t, append(short, "--zk-tls-ca", files.CA, "--zk-tls-cert", files.ClientCert, "query", "web")...)
	if res.code != 2 || !strings.Contains(res.stderr, "--zk-tls-key") {
		t.Errorf("certificate without key: exit %d, stderr %q; want exit 2", res.code, res.stderr)
	}
}

// TestConsulTLS runs against `consul agent -dev` serving HTTPS with
// verify_incoming: Consul's own variables (CONSUL_CACERT,
// CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY) and ?tls=1 give mutual TLS; a wrong
// CA is exit 4 naming the TLS error.
func TestConsulTLS(t *testing.T) {
	files := testzk.GenerateTLS(t)
	agent := testconsul.Start(t, testconsul.Options{TLS: &testconsul.TLS{CA: files.CA, Cert: files.ServerCert, Key: files.ServerKey}})
	url := fmt.Sprintf("consul://127.0.0.1:%d?tls=1", agent.HTTPSPort)
	root := testzk.Root(t)
	env := []string{"CONSUL_CACERT=" + files.CA, "CONSUL_CLIENT_CERT=" + files.ClientCert, "CONSUL_CLIENT_KEY=" + files.ClientKey}
	args := []string{"--registry", url, "--root", root, "--timeout", "20s"}

	code, out, errOut := runEnv(t, env, append(args, "services")...)
	if code != 0 {
		t.Fatalf("services over TLS: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	wrong := []string{"CONSUL_CACERT=" + files.OtherCA, "CONSUL_CLIENT_CERT=" + files.ClientCert, "CONSUL_CLIENT_KEY=" + files.ClientKey}
	code, _, errOut = runEnv(t, wrong, "--registry", url, "--root", root, "--timeout", "5s", "services")
	if code != 4 || !strings.Contains(errOut, "certificate signed by unknown authority") {
		t.Errorf("wrong CA: exit %d, stderr %q; want 4 naming the TLS error", code, errOut)
	}
	// Without a client certificate TLS 1.3 completes the handshake and the
	// agent's refusal arrives as a closed connection, which Go's HTTP/2
	// client reports only as "could not be established": exit 4 all the same.
	code, _, errOut = runEnv(t, env[:1], "--registry", url, "--root", root, "--timeout", "5s", "services")
	if code != 4 {
		t.Errorf("no client certificate: exit %d, stderr %q; want 4", code, errOut)
	}
}
