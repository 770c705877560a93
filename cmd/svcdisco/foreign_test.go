package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gozk "github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// foreignChild is a znode another tool (or a person) wrote under a service.
type foreignChild struct {
	name   string
	data   string
	listed string // host:port it must be listed as; "" = skipped with one warning
}

// foreignChildren are 15 children svcdisco did not write: 10 that are not
// providers by the entry rule, 5 whose names are providers whatever their
// data says.
func foreignChildren(now time.Time) []foreignChild {
	ms := func(d time.Duration) string { return fmt.Sprint(now.Add(d).UnixMilli()) }
	return []foreignChild{
		{name: "member_0000000001", data: `{"serviceEndpoint":{"host":"ss","port":1},"status":"ALIVE"}`},
		{name: "h1:80", data: `{"host":"h1","port":80}`},
		{name: "h2:80@", data: `{}`},
		{name: "h3:80@soon", data: `{}`},
		{name: "h4:0@" + ms(-time.Hour), data: `{}`},
		{name: "h5:99999@" + ms(-time.Hour), data: `{}`},
		{name: ":80@" + ms(-time.Hour), data: `{}`},
		{name: "evil host:80@" + ms(-time.Hour), data: `{}`},
		{name: "h9:80@99999999999999999", data: `{"host":"h9","port":80}`},
		{name: "h10:80@1", data: `{"host":"h10","port":80}`},
		{name: "h11:80@" + ms(-5*time.Minute), data: `{"host":"evil","port":1,"weight":3}`, listed: "h11:80"},
		{name: "h12:80@" + ms(-4*time.Minute), data: `<html>not json`, listed: "h12:80"},
		{name: "h13:80@" + ms(-3*time.Minute), data: `{"host":"h13","port":80}`, listed: "h13:80"},
		{name: "h14:80@" + ms(-2*time.Minute), data: `{"weight":0}`, listed: "h14:80"},
		{name: "h15:80@" + ms(-time.Minute), data: ``, listed: "h15:80"},
	}
}

// TestForeignChildrenReadTheSameEverywhere: with 15 foreign children beside
// one registration, services, query -o json, -o lines, the table and render
// list the same providers, the name wins over the data, a missing weight
// is 1, and every skipped child is named in one warning.
func TestForeignChildrenReadTheSameEverywhere(t *testing.T) {
	e := newEnv(t)
	start(t, e.args("register", "web", "--port", "8080", "--host", "mine")...).waitLine(t, "registered")
	conn, _, err := gozk.Connect([]string{testzk.Shared(t).Servers[0].Addr()}, 10*time.Second, gozk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	children := foreignChildren(time.Now())
	want := []string{}
	for _, c := range children {
		if _, err := conn.Create(e.root+"/services/web/"+c.name, []byte(c.data), gozk.FlagEphemeral, gozk.WorldACL(gozk.PermAll)); err != nil {
			t.Fatalf("create %q: %v", c.name, err)
		}
		if c.listed != "" {
			want = append(want, c.listed)
		}
	}
	want = append(want, "mine:8080") // registered first but the foreign ones are older

	lines := run(t, e.args("query", "web", "-o", "lines")...)
	if got := strings.Fields(lines.stdout); lines.code != 0 || !slices.Equal(got, want) {
		t.Errorf("-o lines: exit %d, %v, want %v\n%s", lines.code, got, want, lines.stderr)
	}
	js := run(t, e.args("query", "web", "-o", "json")...)
	var ps []registry.Provider
	if err := json.Unmarshal([]byte(js.stdout), &ps); err != nil || js.code != 0 {
		t.Fatalf("-o json: exit %d, %v\n%s", js.code, err, js.stdout)
	}
	var got []string
	weights := map[string]int{}
	for _, p := range ps {
		got = append(got, p.Addr())
		weights[p.Host] = p.Weight
		if p.Timestamp.IsZero() || p.ID == "" || p.Status != registry.StatusUp {
			t.Errorf("-o json: incomplete provider %+v", p)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("-o json lists %v, want %v", got, want)
	}
	if weights["h11"] != 3 || weights["h12"] != 1 || weights["h13"] != 1 || weights["h14"] != 0 || weights["h15"] != 1 {
		t.Errorf("weights %v: want the data's, else 1", weights)
	}
	table := run(t, e.args("query", "web")...)
	if rows := strings.Count(table.stdout, "\n") - 1; table.code != 0 || rows != len(want) || strings.Contains(table.stdout, "evil") {
		t.Errorf("table: %d rows, want %d\n%s", rows, len(want), table.stdout)
	}
	// render reads the same providers with the same defaults.
	dir := t.TempDir()
	src, dest := filepath.Join(dir, "web.tmpl"), filepath.Join(dir, "web.conf")
	if err := os.WriteFile(src, []byte("{{ range providers \"web\" }}{{ .Host }}:{{ .Port }} {{ .Weight }}\n{{ end }}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := run(t, e.args("render", "--once", "--template", src+":"+dest)...); res.code != 0 {
		t.Fatalf("render: exit %d\n%s", res.code, res.stderr)
	}
	var wantFile strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&wantFile, "%s %d\n", p.Addr(), p.Weight)
	}
	if got, err := os.ReadFile(dest); err != nil || string(got) != wantFile.String() {
		t.Errorf("rendered %q (%v), want %q", got, err, wantFile.String())
	}
	svcs := run(t, e.args("services", "-o", "json")...)
	if svcs.code != 0 || !strings.Contains(svcs.stdout, fmt.Sprintf(`"providers": %d`, len(want))) {
		t.Errorf("services: exit %d\n%s, want web with %d", svcs.code, svcs.stdout, len(want))
	}
	// One warning per skipped child in every listing; unreadable data
	// (h12, h15) and the name winning over data (h11) are warned about
	// only by the listings that read data.
	for _, res := range []result{lines, js, table} {
		for _, c := range children {
			n := strings.Count(res.stderr, fmt.Sprintf("%q", e.root+"/services/web/"+c.name))
			if n == 0 {
				n = strings.Count(res.stderr, e.root+"/services/web/"+c.name+" ")
			}
			if c.listed == "" && n != 1 {
				t.Errorf("child %q: %d warnings, want 1:\n%s", c.name, n, res.stderr)
			}
		}
	}
}
