package registry

import (
	"io"
	"net/url"
	"strings"
	"sync"
)

// Redacted replaces a secret wherever svcdisco would otherwise print it.
const Redacted = "xxxxx"

// publicParams are the registry URL parameters whose values are not
// secret. Every other parameter's value is redacted, so that a misspelt
// "tokne=…" is hidden as well as "token=…".
var publicParams = map[string]bool{"dc": true, "tls": true, "backup": true, "scheme": true}

// Redact hides the secrets of a registry URL so that error messages and
// logs can name it: the password of user:password@ (exhibitor://, or a
// zk:// URL given one by mistake) and the value of every query parameter
// but dc, tls, backup and scheme (consul://…?token=…). It works on malformed URLs
// too, since those are exactly the ones error messages quote.
func Redact(raw string) string {
	base, query, hasQuery := strings.Cut(raw, "?")
	base = redactUserinfo(base)
	if !hasQuery {
		return base
	}
	return base + "?" + redactQuery(query)
}

// redactUserinfo hides the password of the userinfo (see userinfo).
func redactUserinfo(s string) string {
	start, at, ok := userinfo(s)
	if !ok {
		return s
	}
	user, pass, hasPass := strings.Cut(s[start:at], ":")
	if !hasPass || isPortPath(pass) {
		return s
	}
	return s[:start] + user + ":" + Redacted + s[at:]
}

// userinfo finds the userinfo s[start:at] of a URL without its query: it
// runs from the scheme's "//" (or ":") to the LAST '@', since a password
// may hold '/' or '@'. ok is false when there is no '@'.
func userinfo(s string) (start, at int, ok bool) {
	at = strings.LastIndexByte(s, '@')
	if at < 0 {
		return 0, 0, false
	}
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		return i + 3, at, true
	}
	if i := strings.IndexByte(s, ':'); i >= 0 && i < at {
		start = i + 1
		for start < at && s[start] == '/' {
			start++
		}
	}
	return start, at, true
}

// isPortPath reports "2181/chroot…": a host's port and a path holding '@',
// not a password.
func isPortPath(s string) bool {
	port, _, ok := strings.Cut(s, "/")
	return ok && port != "" && strings.Trim(port, "0123456789") == ""
}

func redactQuery(q string) string {
	parts := strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' })
	for i, p := range parts {
		key, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if hasValue && !publicParams[strings.ToLower(name)] {
			parts[i] = key + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// secrets is every secret the process knows (URL passwords, tokens, ZooKeeper
// digest passwords): ScrubWriter hides them from anything written to it.
var secrets = struct {
	sync.RWMutex
	list []string
}{}

// minSecret is the shortest secret Scrub hides: hiding "a" would garble
// every message while protecting nothing.
const minSecret = 4

// AddSecret records a secret for Scrub and ScrubWriter to hide. Short
// strings (under 4 bytes) are ignored.
func AddSecret(s string) {
	if len(s) < minSecret {
		return
	}
	secrets.Lock()
	defer secrets.Unlock()
	for _, have := range secrets.list {
		if have == s {
			return
		}
	}
	secrets.list = append(secrets.list, s)
	// Also its escaped forms, as a URL would carry it.
	for _, e := range []string{url.QueryEscape(s), url.PathEscape(s)} {
		if e != s {
			secrets.list = append(secrets.list, e)
		}
	}
}

// AddURLSecrets records the secrets a registry URL carries (see Redact).
// It parses leniently: a URL ParseURL refuses may still hold a secret.
func AddURLSecrets(raw string) {
	base, query, _ := strings.Cut(raw, "?")
	if start, at, ok := userinfo(base); ok {
		if _, pass, ok := strings.Cut(base[start:at], ":"); ok && !isPortPath(pass) {
			addSecretParts(pass)
		}
	}
	for _, p := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		key, v, ok := strings.Cut(p, "=")
		if name, _ := url.QueryUnescape(key); !ok || publicParams[strings.ToLower(name)] {
			continue
		}
		AddSecret(v)
		if u, err := url.QueryUnescape(v); err == nil {
			AddSecret(u)
		}
	}
}

// addSecretParts records a password from a URL, and each piece of it the
// URL parser may quote alone (it splits hosts at '/' and '@').
func addSecretParts(pass string) {
	AddSecret(pass)
	if u, err := url.PathUnescape(pass); err == nil {
		AddSecret(u)
	}
	for _, piece := range strings.FieldsFunc(pass, func(r rune) bool { return r == '/' || r == '@' }) {
		AddSecret(piece)
	}
}

// Scrub replaces every recorded secret in s with Redacted.
func Scrub(s string) string {
	secrets.RLock()
	defer secrets.RUnlock()
	for _, sec := range secrets.list {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}

// ScrubWriter returns a writer that hides every recorded secret from what
// is written to w. svcdisco writes each log record and error in one Write,
// so a secret is never split across two.
func ScrubWriter(w io.Writer) io.Writer { return scrubWriter{w} }

type scrubWriter struct{ w io.Writer }

func (s scrubWriter) Write(p []byte) (int, error) {
	clean := Scrub(string(p))
	if clean == string(p) {
		return s.w.Write(p)
	}
	if _, err := io.WriteString(s.w, clean); err != nil {
		return 0, err
	}
	return len(p), nil
}
