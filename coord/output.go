package coord

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

// Output formats of `svcdisco leader`.
const (
	FormatText  = "text"
	FormatJSON  = "json"
	FormatLines = "lines"
)

// ParseFormat checks an -o value.
func ParseFormat(s string) (string, error) {
	switch s {
	case FormatText, FormatJSON, FormatLines:
		return s, nil
	}
	return "", exitcode.Usagef("invalid -o %q: want text, json or lines", s)
}

// LeaderFormat says how to print a leader.
type LeaderFormat struct {
	Format string
	Group  string
	// Addr, when set, replaces host:port in lines output (mesos-resolve
	// prints the leader's ip:port).
	Addr func(LeaderChange) string
}

// Write prints one observation: text "GROUP: ID at HOST:PORT (token N)" or
// "GROUP: no leader"; json the leader in the provider shape or null; lines
// host:port or an empty line.
func (f LeaderFormat) Write(w io.Writer, lc LeaderChange) error {
	var err error
	switch f.Format {
	case FormatJSON:
		var b []byte
		if lc.OK {
			b, err = json.Marshal(lc.Leader)
		} else {
			b = []byte("null")
		}
		if err == nil {
			_, err = fmt.Fprintf(w, "%s\n", b)
		}
	case FormatLines:
		addr := ""
		if lc.OK {
			addr = hostPort(lc)
			if f.Addr != nil {
				addr = f.Addr(lc)
			}
		}
		_, err = fmt.Fprintln(w, addr)
	default:
		if !lc.OK {
			_, err = fmt.Fprintf(w, "%s: no leader\n", f.Group)
		} else {
			_, err = fmt.Fprintf(w, "%s: %s at %s (token %d)\n", f.Group, lc.Leader.ID, hostPort(lc), lc.Token)
		}
	}
	if err != nil {
		return fmt.Errorf("write leader: %w", err)
	}
	return nil
}

// hostPort is host:port, or the host alone for a leader without a port.
func hostPort(lc LeaderChange) string {
	if lc.Leader.Port == 0 {
		return lc.Leader.Host
	}
	return lc.Leader.Addr()
}
