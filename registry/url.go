package registry

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultURL is the registry used when none is configured.
const DefaultURL = "zk://127.0.0.1:2181"

// defaultPorts are added to hosts given without a port.
var defaultPorts = map[string]string{
	"zk":        "2181",
	"exhibitor": "8080",
	"consul":    "8500",
	"etcd":      "2379",
}

// URL is a parsed registry URL:
//
//	zk://h1:2181,h2:2181/chroot
//	exhibitor://e1:8080,e2:8080/chroot?backup=h1:2181,h2:2181
//	consul://127.0.0.1:8500?dc=…   (consul:// alone: CONSUL_HTTP_ADDR)
//	etcd://127.0.0.1:2379
//
// Hosts are comma separated (url.Parse cannot take that form, so svcdisco
// parses it itself). Hosts without a port get the scheme's default port.
type URL struct {
	Scheme string
	User   *url.Userinfo // parsed only to be refused: credentials never come from a URL
	Hosts  []string      // host:port
	Chroot string        // "" or a ZooKeeper path like "/a/b"
	Query  url.Values
	// TLS is zk://…?tls=1: connect to the servers' secureClientPort.
	TLS bool
	// Original is the URL as given with its secrets redacted (see
	// Redact): it is what messages may name.
	Original string
}

// ParseURL parses and validates a registry URL. Errors name the URL.
func ParseURL(raw string) (*URL, error) {
	fail := func(format string, args ...any) (*URL, error) {
		return nil, fmt.Errorf("invalid registry URL %q: %s", Redact(raw), fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return fail("want scheme://hosts[/chroot], e.g. %s", DefaultURL)
	}
	scheme = strings.ToLower(scheme)
	defPort, known := defaultPorts[scheme]
	if !known {
		return fail("unknown scheme %q (want zk, exhibitor, consul or etcd)", scheme)
	}
	u := &URL{Scheme: scheme, Original: Redact(raw), Query: url.Values{}}
	if before, after, ok := strings.Cut(rest, "?"); ok {
		q, err := url.ParseQuery(after)
		if err != nil {
			return fail("query: %v", err)
		}
		u.Query, rest = q, before
	}
	hostPart, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		hostPart, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
		user, pass, hasPass := strings.Cut(hostPart[:i], ":")
		user, _ = url.PathUnescape(user)
		if hasPass {
			pass, _ = url.PathUnescape(pass)
			u.User = url.UserPassword(user, pass)
		} else {
			u.User = url.User(user)
		}
		hostPart = hostPart[i+1:]
	}
	// consul:// without a host means Consul's own default: CONSUL_HTTP_ADDR,
	// else 127.0.0.1:8500 (resolved by the backend).
	if !(scheme == "consul" && hostPart == "") {
		hosts, err := SplitHosts(hostPart, defPort)
		if err != nil {
			return fail("%v", err)
		}
		u.Hosts = hosts
	}
	chroot, err := CleanChroot(path)
	if err != nil {
		return fail("%v", err)
	}
	if chroot != "" && (scheme == "consul" || scheme == "etcd") {
		return fail("a chroot path is only supported for zk and exhibitor")
	}
	u.Chroot = chroot
	if hint, ok := credentialsHint[scheme]; ok && (u.User != nil || scheme == "consul" && u.Query.Has("token")) {
		// A password here would sit in ps, shell history and config files.
		return fail("credentials do not go in the URL: %s", hint)
	}
	if scheme == "exhibitor" && u.Query.Has("tls") {
		// exhibitor:// passes its other parameters to package exhibitor.
		if u.TLS, err = strconv.ParseBool(u.Query.Get("tls")); err != nil {
			return fail("tls=%q: want true or false (or 1, 0)", u.Query.Get("tls"))
		}
	}
	if scheme == "zk" && len(u.Query) > 0 {
		// zk:// takes only tls; a typo must not be silently ignored.
		if err := u.zkParams(); err != nil {
			return fail("%v", err)
		}
	}
	return u, nil
}

// zkParams reads the parameters a zk:// URL takes: tls only.
func (u *URL) zkParams() error {
	for key, vals := range u.Query {
		if key != "tls" {
			return fmt.Errorf("unknown parameter %q (zk:// URLs take only tls)", firstKey(withoutTLS(u.Query)))
		}
		b, err := strconv.ParseBool(vals[len(vals)-1])
		if err != nil {
			return fmt.Errorf("tls=%q: want true or false (or 1, 0)", vals[len(vals)-1])
		}
		u.TLS = b
	}
	return nil
}

func withoutTLS(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if k != "tls" {
			out[k] = v
		}
	}
	return out
}

// credentialsHint says where a scheme's credentials go instead of the URL.
// (etcd:// says so itself, naming its variables.)
var credentialsHint = map[string]string{
	"zk":        "put user:password lines in a mode-0600 file named by --zk-auth-file, or in SVCDISCO_ZK_AUTH",
	"consul":    "put the ACL token in a mode-0600 file named by --consul-token-file, or in CONSUL_HTTP_TOKEN (or CONSUL_HTTP_TOKEN_FILE)",
	"exhibitor": "put user:password in a mode-0600 file named by --exhibitor-auth-file, or in SVCDISCO_EXHIBITOR_AUTH",
}

func firstKey(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}

// SplitHosts splits "h1:2181,h2" into ["h1:2181","h2:<defPort>"].
func SplitHosts(s, defPort string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no hosts")
	}
	var hosts []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, fmt.Errorf("empty host in %q", s)
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = strings.Trim(h, "[]"), defPort
		}
		if host == "" || strings.ContainsAny(host, " /?#@") {
			return nil, fmt.Errorf("invalid host %q", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid port in %q", h)
		}
		hosts = append(hosts, net.JoinHostPort(host, port))
	}
	return hosts, nil
}

// CleanChroot validates a ZooKeeper chroot path. "" and "/" mean no chroot.
func CleanChroot(p string) (string, error) {
	if p == "" || p == "/" {
		return "", nil
	}
	if err := ValidatePath(p); err != nil {
		return "", fmt.Errorf("chroot: %w", err)
	}
	return p, nil
}

// ValidatePath checks a ZooKeeper path: absolute, no empty, "." or ".."
// components, no trailing slash.
func ValidatePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q must start with /", p)
	}
	if p == "/" {
		return nil
	}
	for _, c := range strings.Split(p[1:], "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("path %q has an empty, . or .. component", p)
		}
		if strings.ContainsRune(c, 0) {
			return fmt.Errorf("path %q contains a NUL byte", p)
		}
		if i := strings.IndexFunc(c, badPathRune); i >= 0 {
			return fmt.Errorf("path %q contains %U, which ZooKeeper refuses in paths", p, []rune(c[i:])[0])
		}
	}
	return nil
}

// badPathRune reports the characters ZooKeeper refuses in a path (its
// PathUtils.validatePath, also checked by go-zookeeper before sending):
// control characters, and two ranges of private-use and special code
// points. Checking them here makes a bad path an input error (exit 2)
// rather than a failed request.
func badPathRune(r rune) bool {
	return r <= 0x1f || (r >= 0x7f && r <= 0x9f) || (r >= 0xf000 && r <= 0xf8ff) || (r >= 0xfff0 && r < 0xffff) ||
		r == utf8.RuneError
}

// ConnectString renders hosts and chroot the way ZooKeeper clients write it:
// h1:2181,h2:2181/chroot.
func ConnectString(hosts []string, chroot string) string {
	return strings.Join(hosts, ",") + chroot
}
