package registry

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func TestCheckKey(t *testing.T) {
	ok := now.Add(-time.Hour)
	tests := []struct {
		name     string
		host     string
		port     int
		ts       time.Time
		optional bool
		err      string
	}{
		{name: "ordinary", host: "h1.example.com", port: 8080, ts: ok},
		{name: "ipv6", host: "::1", port: 1, ts: ok},
		{name: "clock skew allowed", host: "h", port: 65535, ts: now.Add(MaxClockSkew)},
		{name: "oldest allowed", host: "h", port: 80, ts: MinTimestamp},
		{name: "native consul, no timestamp", host: "h", port: 80, optional: true},
		{name: "far future", host: "h", port: 80, ts: time.UnixMilli(100000000000000000 / 1000), err: "out of range"},
		{name: "just beyond skew", host: "h", port: 80, ts: now.Add(MaxClockSkew + time.Millisecond), err: "out of range"},
		{name: "before 2000", host: "h", port: 80, ts: time.UnixMilli(1), err: "out of range"},
		{name: "missing timestamp", host: "h", port: 80, err: "out of range"},
		{name: "empty host", host: "", port: 80, ts: ok, err: "invalid host"},
		{name: "host with space", host: "evil host", port: 80, ts: ok, err: "invalid host"},
		{name: "host with newline", host: "h\nserver x", port: 80, ts: ok, err: "invalid host"},
		{name: "host too long", host: strings.Repeat("a", 254), port: 80, ts: ok, err: "invalid host"},
		{name: "port 0", host: "h", port: 0, ts: ok, err: "invalid port"},
		{name: "port too big", host: "h", port: 65536, ts: ok, err: "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKey(tt.host, tt.port, tt.ts, tt.optional, now)
			if tt.err == "" && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestDecodeDataDefaults(t *testing.T) {
	tests := []struct {
		data   string
		weight int
		status string
		err    string
	}{
		{data: `{"host":"h","port":80}`, weight: DefaultWeight, status: StatusUp},
		{data: `{}`, weight: DefaultWeight, status: StatusUp},
		{data: `{"weight":null}`, weight: DefaultWeight, status: StatusUp},
		{data: `{"weight":0}`, weight: 0, status: StatusUp},
		{data: `{"weight":7,"status":"maintenance"}`, weight: 7, status: StatusMaintenance},
		{data: `{"weight":-1}`, err: "invalid weight"},
		{data: `{"status":"down"}`, err: "invalid status"},
		{data: `{"endpoints":{"admin":{"host":"a b","port":1}}}`, err: "invalid endpoint"},
		{data: `{"port":"80"}`, err: "provider JSON"},
		{data: `<html>`, err: "provider JSON"},
	}
	for _, tt := range tests {
		p, err := DecodeData([]byte(tt.data))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.data, err, tt.err)
			}
			continue
		}
		if err != nil || p.Weight != tt.weight || p.Status != tt.status {
			t.Errorf("%s: weight %d status %q (%v), want %d %q", tt.data, p.Weight, p.Status, err, tt.weight, tt.status)
		}
	}
}

// A provider stored without weight reads as DefaultWeight in every form
// that goes through JSON (query -o json, templates, the Chef helpers).
func TestMissingWeightSurvivesJSON(t *testing.T) {
	var p Provider
	if err := json.Unmarshal([]byte(`{"service":"web","host":"h","port":80}`), &p); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(p)
	if err != nil || !strings.Contains(string(out), `"weight":1`) {
		t.Errorf("%s (%v): want weight 1", out, err)
	}
}

func TestMergeKeyWins(t *testing.T) {
	ts := now.Add(-time.Minute).Truncate(time.Millisecond)
	key := Provider{Service: "web", Host: "h12", Port: 80, Timestamp: ts, Name: "h12:80@x", Weight: 1, Status: StatusUp, FieldsOnly: true}
	data, err := DecodeData([]byte(`{"service":"other","host":"evil","port":1,"timestamp":"2030-01-01T00:00:00Z",
		"attributes":{"zone":"a"}}`))
	if err != nil {
		t.Fatal(err)
	}
	p, conflicts := Merge(key, data)
	want := Provider{Service: "web", ID: "web-h12-80", Host: "h12", Port: 80, Timestamp: ts, Name: "h12:80@x",
		Weight: 1, Status: StatusUp, Attributes: map[string]string{"zone": "a"}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("merged\n got %+v\nwant %+v", p, want)
	}
	if !reflect.DeepEqual(conflicts, []string{"host", "port", "timestamp"}) {
		t.Errorf("conflicts %v", conflicts)
	}
	agree, _ := DecodeData([]byte(`{"host":"h12","port":80,"id":"mine"}`))
	if p, conflicts := Merge(key, agree); len(conflicts) != 0 || p.ID != "mine" {
		t.Errorf("agreeing data: %+v %v", p, conflicts)
	}
}

// Sort must order exactly as a stable sort by (timestamp, name, ID) with
// missing timestamps last, whatever the input order: millisecond timestamps
// (the packed path) in even rounds, nanosecond ones (the general path) in
// odd rounds.
func TestSortMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		unit := time.Millisecond
		if round%2 == 1 {
			unit = time.Nanosecond
		}
		n := rng.IntN(300)
		ps := make([]Provider, n)
		for i := range ps {
			if rng.IntN(10) > 0 {
				ps[i].Timestamp = now.Add(time.Duration(rng.IntN(20)) * unit)
			}
			ps[i].Name = string(rune('a' + rng.IntN(5)))
			ps[i].ID = string(rune('a' + rng.IntN(3)))
			ps[i].Port = i // identifies the element, to check stability
		}
		want := slices.Clone(ps)
		sort.SliceStable(want, func(i, j int) bool {
			a, b := want[i], want[j]
			if a.Timestamp.IsZero() != b.Timestamp.IsZero() {
				return !a.Timestamp.IsZero()
			}
			if !a.Timestamp.Equal(b.Timestamp) {
				return a.Timestamp.Before(b.Timestamp)
			}
			if a.Name != b.Name {
				return a.Name < b.Name
			}
			return a.ID < b.ID
		})
		Sort(ps)
		if !reflect.DeepEqual(ps, want) {
			t.Fatalf("round %d: Sort differs from the stable reference", round)
		}
	}
}

func TestAppendAddr(t *testing.T) {
	for _, tt := range []struct {
		host string
		want string
	}{{"h1.example.com", "h1.example.com:8080"}, {"10.0.0.5", "10.0.0.5:8080"}, {"fe80::1", "[fe80::1]:8080"}} {
		p := Provider{Host: tt.host, Port: 8080}
		if got := string(p.AppendAddr([]byte("x "))); got != "x "+tt.want || p.Addr() != tt.want {
			t.Errorf("%s: %q / %q", tt.host, got, p.Addr())
		}
	}
	if got := DefaultID("web", "h", 80); got != "web-h-80" {
		t.Errorf("DefaultID = %q", got)
	}
}
