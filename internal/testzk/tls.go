package testzk

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles are the certificates of a TLS test server and its clients: PEM
// for Go clients, PKCS12 stores for ZooKeeper.
type TLSFiles struct {
	CA, OtherCA           string // PEM: the CA that signed everything, and an unrelated one
	ClientCert, ClientKey string // PEM, signed by CA
	ServerCert, ServerKey string // PEM, signed by CA, for 127.0.0.1 and localhost
	KeyStore, TrustStore  string // PKCS12 for the server: its key pair; CA
	Password              string
}

// GenerateTLS writes a CA, a server certificate for 127.0.0.1 and
// localhost, a client certificate, and the server's PKCS12 stores (made
// with openssl and keytool, as an operator would) under t.TempDir().
func GenerateTLS(t testing.TB) *TLSFiles {
	t.Helper()
	for _, tool := range []string{"openssl", "keytool"} {
		if _, err := exec.LookPath(tool); err != nil {
			Missing(t, fmt.Errorf("TLS stores need %s: %w", tool, err))
		}
	}
	dir := t.TempDir()
	f := &TLSFiles{Password: "changeit-test", CA: filepath.Join(dir, "ca.pem"), OtherCA: filepath.Join(dir, "other-ca.pem"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client-key.pem"),
		KeyStore: filepath.Join(dir, "server.p12"), TrustStore: filepath.Join(dir, "trust.p12")}
	ca, caKey := newCert(t, "svcdisco test CA", nil, nil, true)
	writePEM(t, f.CA, "CERTIFICATE", ca.Raw)
	other, _ := newCert(t, "unrelated CA", nil, nil, true)
	writePEM(t, f.OtherCA, "CERTIFICATE", other.Raw)
	srv, srvKey := newCert(t, "127.0.0.1", ca, caKey, false)
	cli, cliKey := newCert(t, "svcdisco client", ca, caKey, false)
	writePEM(t, f.ClientCert, "CERTIFICATE", cli.Raw)
	writeKey(t, f.ClientKey, cliKey)
	srvPEM, srvKeyPEM := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	f.ServerCert, f.ServerKey = srvPEM, srvKeyPEM
	writePEM(t, srvPEM, "CERTIFICATE", srv.Raw)
	writeKey(t, srvKeyPEM, srvKey)
	run(t, "openssl", "pkcs12", "-export", "-in", srvPEM, "-inkey", srvKeyPEM, "-certfile", f.CA,
		"-name", "server", "-out", f.KeyStore, "-passout", "pass:"+f.Password)
	run(t, "keytool", "-importcert", "-noprompt", "-storetype", "PKCS12", "-keystore", f.TrustStore,
		"-storepass", f.Password, "-alias", "ca", "-file", f.CA)
	return f
}

// StartTLS starts a standalone server that also serves TLS on
// SecurePort through Netty, requiring client certificates
// (ssl.clientAuth=need), with f's stores. Its plain port stays for the
// harness's health checks.
func StartTLS(t testing.TB, f *TLSFiles) (c *Cluster, securePort int) {
	t.Helper()
	securePort = FreePort()
	cfg := fmt.Sprintf(`secureClientPort=%d
serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
ssl.keyStore.location=%s
ssl.keyStore.password=%s
ssl.keyStore.type=PKCS12
ssl.trustStore.location=%s
ssl.trustStore.password=%s
ssl.trustStore.type=PKCS12
ssl.clientAuth=need
`, securePort, f.KeyStore, f.Password, f.TrustStore, f.Password)
	c, err := newCluster(1, false, func(s *Server) {
		s.extraCfg = cfg
		// The manifest of Debian's zookeeper.jar lacks two jars Netty's TLS needs.
		s.extraCP = ":/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar"
	})
	if err != nil {
		Missing(t, err)
	}
	t.Cleanup(c.Stop)
	return c, securePort
}

func newCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		tmpl.ExtKeyUsage, tmpl.IPAddresses, tmpl.DNSNames = nil, nil, nil
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t testing.TB, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "PRIVATE KEY", der)
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}
