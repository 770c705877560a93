package etcd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testetcd"
	"github.com/svcdisco/svcdisco/registry"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir and returns their file names.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	client                                           *tls.Config
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svcdisco test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		cert, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		writePEM(t, cert, "CERTIFICATE", der)
		writePEM(t, keyFile, "EC PRIVATE KEY", kb)
		return cert, keyFile
	}
	p := pki{ca: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.ca, "CERTIFICATE", caDER)
	p.serverCert, p.serverKey = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = issue("client", 3, x509.ExtKeyUsageClientAuth)
	pair, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	p.client = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ?cacert=&cert=&key= reach an etcd that serves TLS only and requires
// client certificates; without the client certificate it refuses.
func TestTLS(t *testing.T) {
	p := newPKI(t)
	c := testetcd.StartTLS(t, &testetcd.TLS{CertFile: p.serverCert, KeyFile: p.serverKey, CAFile: p.ca, Client: p.client})
	openURL := func(raw string) (*Registry, error) {
		u, err := registry.ParseURL(raw)
		if err != nil {
			t.Fatal(err)
		}
		o, err := FromURL(u)
		if err != nil {
			t.Fatalf("FromURL(%s): %v", raw, err)
		}
		o.Logger = slog.New(slog.DiscardHandler)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return Open(ctx, o)
	}
	base := "etcd://" + c.Endpoints()[0] + "?cacert=" + p.ca
	if r, err := openURL(base); err == nil {
		r.Close()
		t.Fatal("Open without a client certificate succeeded")
	}
	r, err := openURL(base + "&cert=" + p.clientCert + "&key=" + p.clientKey)
	if err != nil {
		t.Fatalf("Open over TLS: %v", err)
	}
	defer r.Close()
	if _, err := r.Register(ctxT(t), provider("h1", 80)); err != nil {
		t.Fatal(err)
	}
	ps, err := r.Providers(ctxT(t), "web", registry.ListOptions{})
	if err != nil || len(ps) != 1 {
		t.Fatalf("Providers over TLS: %+v, %v", ps, err)
	}
}
