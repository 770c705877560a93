package query

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// Output formats of query and services.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatLines = "lines"
)

// ParseFormat validates an -o value against the allowed formats.
func ParseFormat(s string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", exitcode.Usagef("invalid output format %q: want %s", s, strings.Join(allowed, ", "))
}

// NeedsOnlyFields reports whether a format prints nothing but what provider
// names carry (host, port, timestamp).
func NeedsOnlyFields(format string) bool { return format == FormatLines }

// Write prints providers in format: a table for people, a JSON array for
// programs, host:port lines for shell. JSON and lines go through one
// buffer (not one write per provider) and JSON is encoded one provider at
// a time, so 10,000 providers never sit in memory as one document.
func Write(w io.Writer, format string, ps []registry.Provider, now time.Time) error {
	switch format {
	case FormatJSON:
		return writeProviders(w, ps)
	case FormatLines:
		bw := bufio.NewWriterSize(w, 64<<10)
		var line []byte
		for i := range ps {
			line = append(ps[i].AppendAddr(line[:0]), '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
		return bw.Flush()
	default:
		t := NewTable(w)
		t.Header("HOST", "PORT", "AGE", "ATTRIBUTES")
		for _, p := range ps {
			if err := t.Append(p.Host, fmt.Sprint(p.Port), Age(now, p.Timestamp), formatAttrs(p.Attributes)); err != nil {
				return err
			}
		}
		return t.Render()
	}
}

// WriteJSON writes v as indented JSON; nil slices print as [].
func WriteJSON(w io.Writer, v any) error {
	if ps, ok := v.([]registry.Provider); ok && ps == nil {
		v = []registry.Provider{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeProviders writes what WriteJSON writes for ps (an indented array),
// byte for byte, one provider at a time.
func writeProviders(w io.Writer, ps []registry.Provider) error {
	if len(ps) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var raw []byte
	var indented bytes.Buffer
	bw.WriteString("[\n  ")
	for i := range ps {
		var err error
		if raw, err = ps[i].AppendJSON(raw[:0]); err != nil {
			return fmt.Errorf("provider %s: %w", ps[i].ID, err)
		}
		indented.Reset()
		if err := json.Indent(&indented, raw, "  ", "  "); err != nil {
			return fmt.Errorf("provider %s: %w", ps[i].ID, err)
		}
		bw.Write(indented.Bytes())
		if i < len(ps)-1 {
			bw.WriteString(",\n  ")
		}
	}
	bw.WriteString("\n]\n")
	return bw.Flush()
}

// NewTable returns the borderless table style svcdisco prints for people.
func NewTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenRows: tw.Off, BetweenColumns: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
}

func formatAttrs(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + attrs[k]
	}
	return strings.Join(parts, ",")
}

// Age renders how long ago ts was, in the two largest units: 42s, 3m12s,
// 5h3m, 2d4h. A zero ts is "-".
func Age(now, ts time.Time) string {
	if ts.IsZero() {
		return "-"
	}
	d := now.Sub(ts)
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
	}
}
