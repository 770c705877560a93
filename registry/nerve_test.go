package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// nerveEntry is a Nerve registration as Synapse's ZooKeeper watcher reads
// it (host and port required; name, weight, labels optional), with the
// types Nerve writes.
type nerveEntry struct {
	Host   *string           `json:"host"`
	Port   *int              `json:"port"`
	Name   *string           `json:"name"`
	Weight *int              `json:"weight"`
	Labels map[string]string `json:"labels"`
}

func TestEncodeDataReadsAsNerve(t *testing.T) {
	p := Provider{Service: "web", ID: "web-h1-8080", Host: "h1.example.com", Address: "10.0.0.5", Port: 8080,
		Attributes: map[string]string{"zone": "a", "version": "1.4.2"}, Weight: 3, Status: StatusUp,
		Timestamp: time.UnixMilli(1795597985035).UTC()}
	data, err := EncodeData(p)
	if err != nil {
		t.Fatal(err)
	}
	var n nerveEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&n); err != nil {
		t.Fatalf("decode %s as Nerve: %v", data, err)
	}
	if n.Host == nil || *n.Host != p.Host || n.Port == nil || *n.Port != p.Port {
		t.Errorf("Nerve host/port of %s", data)
	}
	if n.Name == nil || *n.Name != p.ID || n.Weight == nil || *n.Weight != 3 {
		t.Errorf("Nerve name/weight of %s", data)
	}
	if !reflect.DeepEqual(n.Labels, p.Attributes) {
		t.Errorf("Nerve labels %v, want the attributes %v", n.Labels, p.Attributes)
	}
	// No attributes: labels is {} (Synapse iterates it), not null.
	q := p
	q.Attributes = nil
	data, err = EncodeData(q)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || string(m["labels"]) != "{}" {
		t.Errorf("labels without attributes: %s (%v)", m["labels"], err)
	}
}

// The decoder reads both what EncodeData writes and older data without
// Nerve's keys, to the same provider.
func TestDecodeDataOldAndNerveData(t *testing.T) {
	p := Provider{Service: "web", ID: "web-h1-8080", Host: "h1", Port: 8080, Weight: 1, Status: StatusUp,
		Attributes: map[string]string{"zone": "a"}, Endpoints: map[string]Endpoint{},
		Timestamp: time.UnixMilli(1795597985035).UTC()}
	old, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	current, err := EncodeData(p)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(old, current) {
		t.Fatal("EncodeData wrote no Nerve keys")
	}
	for _, data := range [][]byte{old, current} {
		got, err := DecodeData(data)
		if err != nil {
			t.Fatalf("DecodeData(%s): %v", data, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("DecodeData(%s)\n got %+v\nwant %+v", data, got, p)
		}
	}
}

// Labels repeat the attributes: a provider whose attributes fill the size
// limit is still written, without labels.
func TestEncodeDataLeavesLabelsOutOfLargeData(t *testing.T) {
	p := Provider{Service: "web", ID: "web-h-80", Host: "h", Port: 80, Attributes: map[string]string{}}
	for i := 0; i < 9; i++ {
		p.Attributes[fmt.Sprintf("a%d", i)] = strings.Repeat("x", 100*1000)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := EncodeData(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(data) > MaxProviderData || m["labels"] != nil || string(m["name"]) != `"web-h-80"` {
		t.Errorf("%d bytes, labels present %v, name %s", len(data), m["labels"] != nil, m["name"])
	}
}
