package zk

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/zkcall"
	"github.com/svcdisco/svcdisco/registry"
)

// AuthEnv holds ZooKeeper digest credentials, user:password, several
// separated by commas. Credentials never come from a flag value or the
// registry URL, where ps, shell history and config files would show them.
const AuthEnv = "SVCDISCO_ZK_AUTH"

// Credential is one ZooKeeper digest identity.
type Credential struct {
	User     string
	Password string
}

// ID is the credential's digest ACL id, USER:BASE64(SHA1(USER:PASSWORD)),
// as ZooKeeper's DigestAuthenticationProvider computes it.
func (c Credential) ID() string {
	sum := sha1.Sum([]byte(c.User + ":" + c.Password))
	return c.User + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// LoadAuth reads digest credentials from file (when not "") and from the
// value of AuthEnv (env). The file must not be readable or writable by
// group or others (mode 0600 or stricter) and holds one user:password per
// line; blank lines and lines starting with # are skipped. Errors name the
// file and line, never the line's content. Every password is recorded with
// registry.AddSecret so that no message can print it.
func LoadAuth(file, env string) ([]Credential, error) {
	var creds []Credential
	for i, pair := range strings.Split(env, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		c, err := parseCredential(pair)
		if err != nil {
			return nil, exitcode.Usagef("%s: entry %d: %v", AuthEnv, i+1, err)
		}
		creds = append(creds, c)
	}
	if file == "" {
		return creds, nil
	}
	fromFile, err := readAuthFile(file)
	if err != nil {
		return nil, err
	}
	return append(creds, fromFile...), nil
}

func readAuthFile(file string) ([]Credential, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, exitcode.Usagef("--zk-auth-file: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, exitcode.Usagef("--zk-auth-file: %v", err)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return nil, exitcode.Usagef("--zk-auth-file %s: mode %04o lets others read it; chmod 600 %s", file, mode, file)
	}
	var creds []Credential
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseCredential(line)
		if err != nil {
			return nil, exitcode.Usagef("--zk-auth-file %s: line %d: %v", file, n, err)
		}
		creds = append(creds, c)
	}
	if err := sc.Err(); err != nil {
		return nil, exitcode.Usagef("--zk-auth-file %s: %v", file, err)
	}
	if len(creds) == 0 {
		return nil, exitcode.Usagef("--zk-auth-file %s: no user:password line", file)
	}
	return creds, nil
}

func parseCredential(s string) (Credential, error) {
	user, pass, ok := strings.Cut(strings.TrimSpace(s), ":")
	if ok {
		registry.AddSecret(pass)
	}
	if !ok || user == "" || pass == "" {
		return Credential{}, fmt.Errorf("want user:password")
	}
	return Credential{User: user, Password: pass}, nil
}

// addAuth authenticates the session. go-zookeeper remembers what AddAuth
// was given and sends it again on every reconnect, new sessions included,
// before any queued request (its resendZkAuth runs ahead of the send
// loop), so calling it once, right after the first session and before any
// read or write, covers every session of the Registry.
func (r *Registry) addAuth(ctx context.Context) error {
	for _, c := range r.opts.Auth {
		_, err := zkcall.Do1(ctx, func() (struct{}, error) {
			return struct{}{}, r.conn.AddAuth("digest", []byte(c.User+":"+c.Password))
		})
		if err != nil {
			return r.wrap("authenticate as "+c.User, err)
		}
	}
	return nil
}

// Identities are the digest ACL ids this Registry authenticates as.
func (r *Registry) Identities() []string {
	ids := make([]string, len(r.opts.Auth))
	for i, c := range r.opts.Auth {
		ids[i] = c.ID()
	}
	return ids
}

// ensureAuth authenticates the current connection once. go-zookeeper
// re-sends a connection's credentials itself on every reconnect, new
// sessions included, but a fresh connection (after the servers refused the
// session for good, see renew) starts without any: reconcile calls this
// before it re-creates anything on it.
func (r *Registry) ensureAuth(ctx context.Context) error {
	if len(r.opts.Auth) == 0 {
		return nil
	}
	c := r.conn.get()
	if r.authed.Load() == c {
		return nil
	}
	if err := r.addAuth(ctx); err != nil {
		return err
	}
	r.authed.Store(c)
	return nil
}
