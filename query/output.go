package query

import (
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
// programs, host:port lines for shell.
func Write(w io.Writer, format string, ps []registry.Provider, now time.Time) error {
	switch format {
	case FormatJSON:
		return WriteJSON(w, ps)
	case FormatLines:
		for _, p := range ps {
			if _, err := fmt.Fprintln(w, p.Addr()); err != nil {
				return err
			}
		}
		return nil
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
