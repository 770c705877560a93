package registry

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in     string
		scheme string
		hosts  []string
		chroot string
		err    string
	}{
		{in: "zk://127.0.0.1:2181", scheme: "zk", hosts: []string{"127.0.0.1:2181"}},
		{in: "zk://h1:2181,h2:2182/a/b", scheme: "zk", hosts: []string{"h1:2181", "h2:2182"}, chroot: "/a/b"},
		{in: "zk://h1,h2/", scheme: "zk", hosts: []string{"h1:2181", "h2:2181"}},
		{in: "ZK://[::1]:2181", scheme: "zk", hosts: []string{"[::1]:2181"}},
		{in: "exhibitor://e1,e2:8181/c?backup=h1:2181", scheme: "exhibitor", hosts: []string{"e1:8080", "e2:8181"}, chroot: "/c"},
		{in: "consul://127.0.0.1:8500", scheme: "consul", hosts: []string{"127.0.0.1:8500"}},
		{in: "consul://c1?dc=dc2", scheme: "consul", hosts: []string{"c1:8500"}},
		{in: "consul://", scheme: "consul"}, // CONSUL_HTTP_ADDR
		{in: "127.0.0.1:2181", err: "want scheme://"},
		{in: "http://h1", err: "unknown scheme"},
		{in: "zk://", err: "no hosts"},
		{in: "zk://h1:99999", err: "invalid port"},
		{in: "zk://h1,,h2", err: "empty host"},
		{in: "zk://h1/a//b", err: "empty"},
		{in: "zk://h1/a/", err: "empty"},
		{in: "consul://h1/x", err: "only supported"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseURL(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseURL(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
				}
				if !strings.Contains(err.Error(), tt.in) {
					t.Errorf("error %q does not name the URL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.in, err)
			}
			if u.Scheme != tt.scheme || !reflect.DeepEqual(u.Hosts, tt.hosts) || u.Chroot != tt.chroot {
				t.Errorf("ParseURL(%q) = %s %v %q, want %s %v %q", tt.in, u.Scheme, u.Hosts, u.Chroot, tt.scheme, tt.hosts, tt.chroot)
			}
		})
	}
	u, _ := ParseURL("exhibitor://e1/c?backup=h1:2181,h2")
	if u.Query.Get("backup") != "h1:2181,h2" {
		t.Errorf("query not parsed: %+v", u)
	}
}

// Credentials never come from a URL: every scheme refuses them with a
// usage error saying where they go, without quoting them.
func TestParseURLRefusesCredentials(t *testing.T) {
	for in, where := range map[string]string{
		"zk://bob:s3cretpw@h1/c":                  "--zk-auth-file",
		"exhibitor://bob:s3cretpw@e1/c?backup=h1": "--exhibitor-auth-file",
		"exhibitor://bob@e1/c":                    "--exhibitor-auth-file",
		"consul://bob:s3cretpw@c1":                "--consul-token-file",
		"consul://c1?token=s3cretpw&dc=dc2":       "--consul-token-file",
		"consul://c1?dc=dc2&token=s3cretpw":       "CONSUL_HTTP_TOKEN",
	} {
		_, err := ParseURL(in)
		if err == nil || !strings.Contains(err.Error(), "credentials do not go in the URL") || !strings.Contains(err.Error(), where) {
			t.Errorf("ParseURL(%q) = %v, want an error saying credentials go in %s", in, err, where)
			continue
		}
		if strings.Contains(err.Error(), "s3cretpw") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURL(%q) error quotes the secret or spans lines: %v", in, err)
		}
	}
}

func TestValidateService(t *testing.T) {
	for _, ok := range []string{"web", "a", "web-1.prod_x", strings.Repeat("a", 128)} {
		if err := ValidateService(ok); err != nil {
			t.Errorf("ValidateService(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-web", ".x", "we b", "a/b", strings.Repeat("a", 129), "wéb"} {
		if err := ValidateService(bad); err == nil {
			t.Errorf("ValidateService(%q) accepted", bad)
		}
	}
}

func TestProviderJSONRoundTrip(t *testing.T) {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	p := Provider{Service: "web", ID: "web-h-1", Host: "h", Port: 1, Weight: 1, Status: StatusUp, Timestamp: ts}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"timestamp":"2026-11-22T10:00:00.123Z"`) || !strings.Contains(string(b), `"attributes":{}`) {
		t.Errorf("unexpected JSON %s", b)
	}
	var back Provider
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Timestamp.Equal(ts.Truncate(time.Millisecond)) || back.ID != p.ID {
		t.Errorf("round trip: %+v", back)
	}
	if err := json.Unmarshal([]byte(`{"timestamp":"yesterday"}`), &back); err == nil {
		t.Error("bad timestamp accepted")
	}
}

func TestSort(t *testing.T) {
	t0 := time.Unix(100, 0)
	ps := []Provider{
		{Name: "c", Timestamp: t0.Add(time.Second)},
		{Name: "z"},
		{Name: "b", Timestamp: t0},
		{Name: "a", Timestamp: t0},
	}
	Sort(ps)
	var got []string
	for _, p := range ps {
		got = append(got, p.Name)
	}
	if want := []string{"a", "b", "c", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Sort order %v, want %v", got, want)
	}
}

func TestProviderValidate(t *testing.T) {
	good := Provider{Service: "web", Host: "h1.example.com", Port: 80}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Provider{
		{Service: "we b", Host: "h", Port: 80},
		{Service: "web", Host: "", Port: 80},
		{Service: "web", Host: "h", Port: 0},
		{Service: "web", Host: "h", Port: 70000},
		{Service: "web", Host: "h", Port: 80, Weight: -1},
		{Service: "web", Host: "h", Port: 80, Attributes: map[string]string{"a=b": "c"}},
		{Service: "web", Host: "h", Port: 80, Endpoints: map[string]Endpoint{"admin": {Host: "h"}}},
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", p)
		}
	}
}
