package zk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

// TLSFiles name the PEM files of a TLS connection to ZooKeeper's
// secureClientPort (zk://…?tls=1).
type TLSFiles struct {
	CA   string // CA bundle the servers' certificates must chain to; "" = system CAs
	Cert string // client certificate, for ssl.clientAuth=need (mutual TLS)
	Key  string // its private key
}

// Config builds the client's tls.Config. Server certificates are always
// verified: there is no switch to turn that off.
func (f TLSFiles) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, exitcode.Usagef("--zk-tls-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, exitcode.Usagef("--zk-tls-ca %s: no PEM certificate in it", f.CA)
		}
		cfg.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, exitcode.Usagef("--zk-tls-cert and --zk-tls-key go together")
	}
	if f.Cert != "" {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, exitcode.Usagef("--zk-tls-cert/--zk-tls-key: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// dialTLS completes a TLS handshake on c within timeout, verifying the
// server's certificate against addr's host name.
func dialTLS(c net.Conn, addr string, cfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	conf := cfg.Clone()
	if conf.ServerName == "" {
		conf.ServerName = host
	}
	tc := tls.Client(c, conf)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// lastDialError is the reason the last dial failed, for the unreachable
// message (go-zookeeper itself retries silently).
func (hp *hostProvider) lastDialError() error {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return hp.dialErr
}

func (hp *hostProvider) setDialError(err error) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.dialErr = err
}
