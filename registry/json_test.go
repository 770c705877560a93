package registry

import (
	"encoding/json"
	"testing"
	"time"
)

// referenceJSON is how a provider was encoded before AppendJSON was written
// by hand: encoding/json over the struct, with the timestamp, nil maps and
// nil tags replaced. AppendJSON must give the same bytes.
func referenceJSON(p Provider) ([]byte, error) {
	type plain Provider
	out := struct {
		plain
		Timestamp string `json:"timestamp"`
	}{plain: plain(p)}
	if out.Endpoints == nil {
		out.Endpoints = map[string]Endpoint{}
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if !p.Timestamp.IsZero() {
		out.Timestamp = p.Timestamp.UTC().Format(TimeFormat)
	}
	return json.Marshal(out)
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 29, 9, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, p := range []Provider{
		{},
		{Service: "web", ID: "web-a-80", Host: "a.example.com", Address: "10.0.0.1", Port: 80, Weight: 1, Status: StatusUp, Timestamp: ts},
		{Service: "web", Host: "a", Port: -1, Weight: -5, Tags: []string{}, Attributes: map[string]string{}, Endpoints: map[string]Endpoint{}},
		{Service: "w<e>b&", Host: "h\"\\\n\t\b\f\r\x00\x1f\x7f", Address: "héllo \u2028\u2029 \xff\xfe",
			Endpoints:  map[string]Endpoint{"b": {Host: "x", Port: 2}, "a": {Host: "<y>", Port: 1}, "": {}},
			Attributes: map[string]string{"zone": "z1", "a&b": "c<d", "ü": "\u00e9"},
			Tags:       []string{"", "t1", "<t2>"}, Timestamp: time.Unix(0, 1)},
	} {
		want, err := referenceJSON(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.AppendJSON([]byte("prefix"))
		if err != nil || string(got) != "prefix"+string(want) {
			t.Errorf("AppendJSON:\n got %s (%v)\nwant prefix%s", got, err, want)
		}
		viaMarshal, err := json.Marshal(p)
		if err != nil || string(viaMarshal) != string(want) {
			t.Errorf("json.Marshal:\n got %s (%v)\nwant %s", viaMarshal, err, want)
		}
	}
}

// FuzzAppendJSON: for any strings and numbers in any field, the hand-written
// encoding is encoding/json's.
func FuzzAppendJSON(f *testing.F) {
	f.Add("web", "a.example.com", "10.0.0.1", "zone", "z1", "admin", "tag", 80, int64(1700000000123))
	f.Add("w<b>", "h\"\\\n", "\xff\u2028", "&", "\x00", "", "<", -1, int64(0))
	f.Fuzz(func(t *testing.T, service, host, addr, key, val, ep, tag string, port int, ms int64) {
		p := Provider{Service: service, ID: service + host, Host: host, Address: addr, Port: port, Weight: port / 3,
			Status: val, Attributes: map[string]string{key: val, val: key}, Endpoints: map[string]Endpoint{ep: {Host: host, Port: port}},
			Tags: []string{tag, key}}
		if ms != 0 {
			p.Timestamp = time.UnixMilli(ms % (1 << 40))
		}
		want, err := referenceJSON(p)
		if err != nil {
			t.Fatalf("encoding/json refused %+v: %v", p, err) // strings, ints and maps always encode
		}
		got, err := p.AppendJSON(nil)
		if err != nil || string(got) != string(want) {
			t.Fatalf("AppendJSON:\n got %q (%v)\nwant %q", got, err, want)
		}
	})
}

// BenchmarkAppendJSON: a typical provider, by hand and through reflection.
func BenchmarkAppendJSON(b *testing.B) {
	p := Provider{Service: "web", ID: "web-web-00001.us-east-1.example.com-8080", Host: "web-00001.us-east-1.example.com",
		Address: "10.0.0.5", Port: 8080, Attributes: map[string]string{"zone": "us-east-1a", "version": "1.4.2"},
		Weight: 1, Status: StatusUp, Timestamp: time.Now()}
	b.Run("by-hand", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = p.AppendJSON(buf[:0])
		}
	})
	b.Run("reflection", func(b *testing.B) {
		for b.Loop() {
			_, _ = referenceJSON(p)
		}
	})
}
