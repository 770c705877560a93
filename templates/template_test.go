package templates

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
)

func writeTemplate(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.tmpl")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTemplateErrors: every kind of template error names the file and the
// line, and Apply leaves the destination byte-identical.
func TestTemplateErrors(t *testing.T) {
	cases := []struct {
		name, body string
		atLoad     bool
	}{
		{"syntax", "ok\n{{ range providers \"web\" }}\n", true},
		{"missing function", "ok\n\n{{ nosuchfunc }}\n", true},
		{"missing key", "a\nb\n{{ range providers \"web\" }}{{ .Attributes.nosuchkey }}{{ end }}\n", false},
		{"missing field", "a\nb\n{{ range providers \"web\" }}{{ .NoSuchField }}{{ end }}\n", false},
		{"bad filter", "a\nb\n{{ providers \"web\" \"nofilter\" }}\n", false},
		{"no provider", "a\nb\n{{ (provider \"nobody\").Host }}\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := writeTemplate(t, c.body)
			dest := filepath.Join(t.TempDir(), "out")
			if err := os.WriteFile(dest, []byte("good\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			store := fixture()
			store.SetProviders("nobody", nil)
			tm, err := Load(Spec{Source: src, Destination: dest})
			if c.atLoad {
				if err == nil || !strings.Contains(err.Error(), src+":") {
					t.Fatalf("Load: want an error naming %s:LINE, got %v", src, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res := tm.Apply(context.Background(), store, ApplyOptions{})
			want := src + ":3:"
			if res.Status != StatusRefused || res.Code != exitcode.Usage || !strings.Contains(res.Reason, want) {
				t.Fatalf("Apply: want refused, exit 2, reason naming %s; got %+v", want, res)
			}
			if b, _ := os.ReadFile(dest); string(b) != "good\n" {
				t.Fatalf("destination changed to %q", b)
			}
		})
	}
}

// TestExecuteMissing: a template reading data not yet fetched is
// incomplete, names what to fetch, and its errors are not reported (an
// empty list can fail a template that is fine once data is there).
func TestExecuteMissing(t *testing.T) {
	src := writeTemplate(t, `{{ (provider "web").Host }} {{ range services }}{{ . }}{{ range providers . }}{{ .Port }}{{ end }}{{ end }}`)
	tm, err := Load(Spec{Source: src, Destination: "x", MinProviders: map[string]int{"db": 1}})
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(nil)
	ex, err := tm.Execute(s)
	if err != nil {
		t.Fatalf("Execute with nothing fetched: %v", err)
	}
	if ex.Complete || !ex.MissingCatalog || strings.Join(ex.Missing, ",") != "db,web" {
		t.Fatalf("got %+v, want missing db,web and the catalog", ex)
	}
	s.SetServices([]string{"api"})
	ex, _ = tm.Execute(s)
	if ex.Complete || strings.Join(ex.Missing, ",") != "api,db,web" {
		t.Fatalf("second pass: got %+v, want missing api,db,web", ex)
	}
	f := fixture()
	f.SetProviders("db", nil)
	ex, err = tm.Execute(f)
	if err != nil || !ex.Complete {
		t.Fatalf("all fetched: %v %+v", err, ex)
	}
	if got, want := string(ex.Contents), "web3.example.com api90009000web808080808081"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestMinProviders: below the guard, nothing is written (exit 3) and the
// reason names the service and the count.
func TestMinProviders(t *testing.T) {
	src := writeTemplate(t, `{{ range providers "web" }}{{ .Host }}{{ end }}`)
	dest := filepath.Join(t.TempDir(), "out")
	tm, err := Load(Spec{Source: src, Destination: dest, MinProviders: map[string]int{"web": 4}})
	if err != nil {
		t.Fatal(err)
	}
	res := tm.Apply(context.Background(), fixture(), ApplyOptions{})
	if res.Status != StatusRefused || res.Code != exitcode.NotEnough || !strings.Contains(res.Reason, "service web has 3 provider(s), min_providers is 4") {
		t.Fatalf("got %+v", res)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("destination written: %v", err)
	}
}

func TestParseWait(t *testing.T) {
	cases := []struct {
		in      string
		want    Wait
		wantErr bool
	}{
		{"", Wait{}, false},
		{"0", Wait{}, false},
		{"200ms:1s", Wait{200 * time.Millisecond, time.Second}, false},
		{"2s", Wait{2 * time.Second, 8 * time.Second}, false},
		{"1s:200ms", Wait{}, true},
		{"x", Wait{}, true},
		{"-1s", Wait{}, true},
	}
	for _, c := range cases {
		got, err := ParseWait(c.in)
		if (err != nil) != c.wantErr || (!c.wantErr && got != c.want) {
			t.Errorf("ParseWait(%q) = %v, %v; want %v (error %v)", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestParseFlag(t *testing.T) {
	cases := []struct {
		in             string
		src, dest, cmd string
		wantErr        bool
	}{
		{"a.tmpl:/etc/a", "a.tmpl", "/etc/a", "", false},
		{"a.tmpl:/etc/a:systemctl reload x", "a.tmpl", "/etc/a", "systemctl reload x", false},
		{"a:b:echo a:b", "a", "b", "echo a:b", false},
		{"a.tmpl", "", "", "", true},
		{":b", "", "", "", true},
		{"a:", "", "", "", true},
	}
	for _, c := range cases {
		got, err := ParseFlag(c.in)
		if (err != nil) != c.wantErr || (!c.wantErr && (got.Source != c.src || got.Destination != c.dest || got.Command != c.cmd)) {
			t.Errorf("ParseFlag(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func TestParsePermsValue(t *testing.T) {
	cases := []struct {
		in      any
		want    os.FileMode
		wantErr bool
	}{
		{nil, 0, false},
		{"0640", 0o640, false},
		{"600", 0o600, false},
		{416, 0o640, false}, // YAML's reading of 0640
		{644, 0, true},      // a decimal 644 is no mode anyone meant
		{"0x1", 0, true},
		{"9", 0, true},
		{1.5, 0, true},
	}
	for _, c := range cases {
		got, err := ParsePermsValue(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParsePermsValue(%v) = %o, %v; want %o (error %v)", c.in, got, err, c.want, c.wantErr)
		}
	}
}
