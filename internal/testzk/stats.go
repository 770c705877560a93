package testzk

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	zxidRe    = regexp.MustCompile(`(?m)^Zxid: 0x([0-9a-fA-F]+)`)
	watchesRe = regexp.MustCompile(`(?m)^Total watches:\s*(\d+)`)
)

// Zxid returns the server's last zxid (`srvr`). Every write the ensemble
// orders (a create, a delete, a session created or closed) increments it,
// so its growth counts writes, session churn included.
func Zxid(addr string) (int64, error) {
	out, err := FourLetter(addr, "srvr", 5*time.Second)
	if err != nil {
		return 0, err
	}
	m := zxidRe.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s: no Zxid in srvr reply %q", addr, out)
	}
	return strconv.ParseInt(m[1], 16, 64)
}

// Watches returns how many watches the server holds (`wchs`).
func Watches(addr string) (int, error) {
	out, err := FourLetter(addr, "wchs", 5*time.Second)
	if err != nil {
		return 0, err
	}
	m := watchesRe.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("%s: no total in wchs reply %q", addr, out)
	}
	return strconv.Atoi(m[1])
}

// Mntr returns the server's numeric `mntr` metrics by name
// (zk_connection_request_count: sessions established, new or resumed;
// zk_watch_count: watches held; …).
func Mntr(addr string) (map[string]int64, error) {
	out, err := FourLetter(addr, "mntr", 5*time.Second)
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, "\t")
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); ok && err == nil {
			m[k] = n
		}
	}
	return m, nil
}
