package etcd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Environment variables with the credentials of etcd's auth: a password is
// never given on the command line (where `ps` shows it).
const (
	// EnvUser holds "name:password".
	EnvUser = "SVCDISCO_ETCD_USER"
	// EnvUserFile names a file whose first line is "name:password".
	EnvUserFile = "SVCDISCO_ETCD_USER_FILE"
)

// FromURL turns an etcd:// URL into Options: its hosts, and TLS from
// ?cacert=&cert=&key= (PEM files; any of them switches to https).
// Credentials come from the environment (EnvUser, EnvUserFile, or a file
// named by ?userfile=), never from the URL itself. Anything else is a
// usage error, so a typo is not silently ignored.
func FromURL(u *registry.URL) (Options, error) {
	o := Options{Endpoints: u.Hosts}
	if u.User != nil {
		return o, exitcode.Usagef("registry %s: credentials in the URL are not accepted; use %s or %s", registry.Redact(u.Original), EnvUserFile, EnvUser)
	}
	q := map[string]string{}
	for key, vals := range u.Query {
		switch key {
		case "cacert", "cert", "key", "userfile":
			q[key] = vals[len(vals)-1]
		default:
			return o, exitcode.Usagef("registry %s: unknown parameter %q (want cacert, cert, key or userfile)", u.Original, key)
		}
	}
	var err error
	if o.TLS, err = tlsConfig(q["cacert"], q["cert"], q["key"]); err != nil {
		return o, exitcode.Usagef("registry %s: %v", u.Original, err)
	}
	if o.Username, o.Password, err = credentials(q["userfile"]); err != nil {
		return o, exitcode.Usagef("registry %s: %v", u.Original, err)
	}
	return o, nil
}

func tlsConfig(cacert, cert, key string) (*tls.Config, error) {
	if cacert == "" && cert == "" && key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, fmt.Errorf("cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cacert %s: no PEM certificate", cacert)
		}
		cfg.RootCAs = pool
	}
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("cert and key go together")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("cert/key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// credentials reads "name:password" from file (else EnvUserFile's file),
// else from EnvUser; none at all means no auth.
func credentials(file string) (user, pass string, err error) {
	if file == "" {
		file = os.Getenv(EnvUserFile)
	}
	raw, from := os.Getenv(EnvUser), EnvUser
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", fmt.Errorf("credentials: %w", err)
		}
		raw, _, _ = strings.Cut(string(b), "\n")
		raw, from = strings.TrimRight(raw, "\r"), file
	}
	if raw == "" {
		return "", "", nil
	}
	user, pass, ok := strings.Cut(raw, ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("credentials in %s: want name:password", from)
	}
	return user, pass, nil
}
