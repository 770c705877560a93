// Package exhibitor finds the ZooKeeper ensemble through Exhibitor without
// making Exhibitor a new single point of failure: the answer comes from
// Exhibitor (GET /exhibitor/v1/cluster/list), else from the last good answer
// cached on disk, else from a backup list given in the registry URL — and
// when all three fail, the error names each one and why. It never answers
// with an empty connection string and never falls back to localhost.
//
// Registry wraps the ZooKeeper backend so that long-running commands follow
// the ensemble when Exhibitor reports a new membership.
package exhibitor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// maxServers bounds how many servers a reply may list: real ensembles have
// 3 to 7; thousands would be a broken or hostile Exhibitor.
const maxServers = 255

// ParseReply parses Exhibitor's /cluster/list reply in either of the forms
// Exhibitor sends:
//
//	{"servers":["h1","h2"],"port":2181}
//	count=2&server0=h1&server1=h2&port=2181
//
// and returns the servers as sorted, de-duplicated host:port strings. A
// reply with no servers, a port outside 1–65535 or a malformed host name is
// an error: Curator's provider turned such replies into empty connection
// strings, which is how clients ended up connecting to nothing (or to
// localhost).
func ParseReply(body []byte) ([]string, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty reply")
	}
	var hosts []string
	var port int
	var err error
	if trimmed[0] == '{' {
		hosts, port, err = parseJSON(trimmed)
	} else {
		hosts, port, err = parseForm(string(trimmed))
	}
	if err != nil {
		return nil, err
	}
	return joinServers(hosts, port)
}

func parseJSON(body []byte) ([]string, int, error) {
	var r struct {
		Servers *[]string `json:"servers"`
		Port    *int      `json:"port"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, 0, fmt.Errorf("malformed JSON reply: %v", err)
	}
	if r.Servers == nil {
		return nil, 0, errors.New(`JSON reply has no "servers"`)
	}
	if r.Port == nil {
		return nil, 0, errors.New(`JSON reply has no "port"`)
	}
	return *r.Servers, *r.Port, nil
}

func parseForm(body string) ([]string, int, error) {
	if !strings.Contains(body, "=") || strings.ContainsAny(body, "<>") {
		return nil, 0, fmt.Errorf("reply is neither JSON nor form-encoded: %q", abbreviate(body))
	}
	q, err := url.ParseQuery(body)
	if err != nil {
		return nil, 0, fmt.Errorf("malformed form-encoded reply: %v", err)
	}
	count, err := strconv.Atoi(q.Get("count"))
	if err != nil {
		return nil, 0, fmt.Errorf("form-encoded reply has no valid count: %q", abbreviate(body))
	}
	if count < 0 || count > maxServers {
		return nil, 0, fmt.Errorf("form-encoded reply has count=%d", count)
	}
	port, err := strconv.Atoi(q.Get("port"))
	if err != nil {
		return nil, 0, fmt.Errorf("form-encoded reply has no valid port: %q", abbreviate(body))
	}
	hosts := make([]string, 0, count)
	for i := range count {
		key := "server" + strconv.Itoa(i)
		if !q.Has(key) {
			return nil, 0, fmt.Errorf("form-encoded reply has count=%d but no %s", count, key)
		}
		hosts = append(hosts, q.Get(key))
	}
	return hosts, port, nil
}

// joinServers validates hosts and port and returns sorted unique host:port.
func joinServers(hosts []string, port int) ([]string, error) {
	if len(hosts) == 0 {
		return nil, errors.New("reply lists no servers")
	}
	if len(hosts) > maxServers {
		return nil, fmt.Errorf("reply lists %d servers (at most %d)", len(hosts), maxServers)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("reply has port %d", port)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if err := validHost(h); err != nil {
			return nil, err
		}
		hp := net.JoinHostPort(h, strconv.Itoa(port))
		if !seen[hp] {
			seen[hp] = true
			out = append(out, hp)
		}
	}
	sort.Strings(out)
	return out, nil
}

// validHost accepts an IP address or a DNS name (letters, digits, '-', '_'
// and dots between non-empty labels), nothing that could smuggle a port, a
// path or another host into the connection string.
func validHost(h string) error {
	if h == "" {
		return errors.New("reply lists an empty server name")
	}
	if ip := net.ParseIP(h); ip != nil {
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("reply lists a server name of %d characters", len(h))
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("reply lists a malformed server name %q", abbreviate(h))
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("reply lists a malformed server name %q", abbreviate(h))
			}
		}
	}
	return nil
}

// abbreviate keeps error messages one short line even for an HTML page.
func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
