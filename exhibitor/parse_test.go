package exhibitor

import (
	"slices"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/registry"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // joined servers, "" for an error
		errHas     string
	}{
		{"json", `{"servers":["h2","h1"],"port":2181}`, "h1:2181,h2:2181", ""},
		{"json extra fields and spaces", " {\"servers\":[\" h1.example.com \"],\"port\":2182,\"x\":1}\n", "h1.example.com:2182", ""},
		{"form", "count=2&server0=h1&server1=h2&port=2181", "h1:2181,h2:2181", ""},
		{"form other order", "port=2181&server1=b&count=2&server0=a", "a:2181,b:2181", ""},
		{"duplicates", `{"servers":["h1","h1"],"port":2181}`, "h1:2181", ""},
		{"ipv6", `{"servers":["::1","10.0.0.1"],"port":2181}`, "10.0.0.1:2181,[::1]:2181", ""},
		{"empty body", "", "", "empty reply"},
		{"html error page", "<html><body>500 Internal Server Error</body></html>", "", "neither JSON nor form"},
		{"truncated json", `{"servers":["h1","h2"],"po`, "", "malformed JSON"},
		{"empty list", `{"servers":[],"port":2181}`, "", "no servers"},
		{"empty form", "count=0&port=2181", "", "no servers"},
		{"port 0", `{"servers":["h1"],"port":0}`, "", "port 0"},
		{"form port 0", "count=1&server0=h1&port=0", "", "port 0"},
		{"port too big", `{"servers":["h1"],"port":65536}`, "", "port 65536"},
		{"no port", `{"servers":["h1"]}`, "", `no "port"`},
		{"no servers key", `{"port":2181}`, "", `no "servers"`},
		{"empty name", `{"servers":[""],"port":2181}`, "", "empty server name"},
		{"name with port", `{"servers":["h1:2181"],"port":2181}`, "", "malformed server name"},
		{"name with path", `{"servers":["h1/x"],"port":2181}`, "", "malformed server name"},
		{"name with comma", `{"servers":["h1,h2"],"port":2181}`, "", "malformed server name"},
		{"missing serverN", "count=2&server0=h1&port=2181", "", "no server1"},
		{"bad count", "count=x&server0=h1&port=2181", "", "count"},
		{"null servers", `{"servers":null,"port":2181}`, "", `no "servers"`},
		{"string port", `{"servers":["h1"],"port":"2181"}`, "", "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReply([]byte(tt.body))
			if tt.want != "" {
				if err != nil || strings.Join(got, ",") != tt.want {
					t.Fatalf("ParseReply(%q) = %v, %v; want %s", tt.body, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("ParseReply(%q) = %v, %v; want error containing %q", tt.body, got, err, tt.errHas)
			}
		})
	}
}

// FuzzParseReply checks that no reply makes the parser panic and that every
// reply it accepts yields a non-empty connection string that svcdisco's own
// URL parser reads back unchanged. Run it with
//
//	go test -run '^$' -fuzz FuzzParseReply ./exhibitor/
func FuzzParseReply(f *testing.F) {
	for _, seed := range []string{
		`{"servers":["h1","h2"],"port":2181}`,
		"count=2&server0=h1&server1=h2&port=2181",
		`{"servers":[],"port":2181}`,
		`{"servers":["h1"],"port":0}`,
		`{"servers":["h1","h2"],"po`,
		"<html><body>502 Bad Gateway</body></html>",
		`{"servers":["::1","10.0.0.1"],"port":2181}`,
		"count=1&server0=%68%31&port=2181",
		"count=99999999999&port=1",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		servers, err := ParseReply(body)
		if err != nil {
			return
		}
		if len(servers) == 0 {
			t.Fatalf("accepted %q with no servers", body)
		}
		cs := registry.ConnectString(servers, "")
		back, err := registry.SplitHosts(cs, "1")
		if err != nil {
			t.Fatalf("accepted %q but its connection string %q does not parse: %v", body, cs, err)
		}
		if !slices.Equal(back, servers) {
			t.Fatalf("connection string %q reads back as %v, want %v", cs, back, servers)
		}
	})
}
