package query

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

// -o json is written one provider at a time; it must be byte for byte what
// encoding/json writes for the whole array.
func TestJSONStreamMatchesEncoder(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)
	full := registry.Provider{Service: "web", ID: "web-h1-80", Host: "h1", Address: "10.0.0.5", Port: 80,
		Endpoints:  map[string]registry.Endpoint{"admin": {Host: "h1", Port: 9090}, "b": {Host: "h", Port: 1}},
		Attributes: map[string]string{"zone": "us-east-1a", "html": "<a href=\"x\">&</a>", "utf": "é\u2028\xff"},
		Weight:     3, Status: registry.StatusMaintenance, Timestamp: ts}
	for _, ps := range [][]registry.Provider{
		nil, {}, {full}, {full, {Service: "web", Host: "h2", Port: 81}, {Service: "web", Host: "::1", Port: 1, Weight: 1}},
	} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		v := ps
		if v == nil {
			v = []registry.Provider{}
		}
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := Write(&got, FormatJSON, ps, ts); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("-o json of %d providers:\n%s\nwant\n%s", len(ps), got.String(), want.String())
		}
	}
}

func TestLinesOutput(t *testing.T) {
	ps := []registry.Provider{{Host: "h1", Port: 80}, {Host: "fe80::1", Port: 443}}
	var got bytes.Buffer
	if err := Write(&got, FormatLines, ps, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if want := "h1:80\n[fe80::1]:443\n"; got.String() != want {
		t.Errorf("-o lines = %q, want %q", got.String(), want)
	}
}
