package zk

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// synapseRead reads a service directory with kazoo as Synapse's ZooKeeper
// watcher does: every child is an entry whose data must be JSON with host
// and port (else the entry is invalid), name, weight and labels optional.
// It prints one JSON object per child, or fails on an invalid one.
const synapseRead = `
import json, sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=10)
out = []
for child in sorted(zk.get_children(sys.argv[2])):
    data, _ = zk.get(sys.argv[2] + "/" + child)
    if data is None:
        sys.exit("entry %s has no data" % child)
    entry = json.loads(data.decode())
    if not isinstance(entry.get("host"), str) or not isinstance(entry.get("port"), int):
        sys.exit("entry %s lacks host/port: %r" % (child, entry))
    out.append({"name": entry.get("name"), "host": entry["host"], "port": entry["port"],
                "weight": entry.get("weight"), "labels": entry.get("labels")})
zk.stop()
print(json.dumps(out))
`

// TestSynapseReadsServiceDirectory: with one provider in maintenance, a
// kazoo client iterating the service directory as Synapse does finds
// provider entries only, each with Nerve's keys (name, weight, labels).
// Before the maintenance markers moved out, the marker sibling (no data)
// made it fail.
func TestSynapseReadsServiceDirectory(t *testing.T) {
	if _, err := exec.Command("/usr/bin/python3", "-c", "import kazoo").CombinedOutput(); err != nil {
		testenv.Missing(t, "python3-kazoo", err)
	}
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 5*time.Second, nil)
	p := web("h1", 80)
	p.Attributes, p.Weight = map[string]string{"zone": "a"}, 2
	if _, err := r.Register(ctxT(t), p); err != nil {
		t.Fatal(err)
	}
	reg, err := r.Register(ctxT(t), web("h2", 81))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.SetStatus(ctxT(t), registry.StatusMaintenance); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctxT(t), "/usr/bin/python3", "-c", synapseRead, zkc.ConnString(), root+"/services/web").CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo reader: %v\n%s", err, out)
	}
	var entries []struct {
		Name   string            `json:"name"`
		Host   string            `json:"host"`
		Port   int               `json:"port"`
		Weight int               `json:"weight"`
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(entries) != 2 {
		t.Fatalf("kazoo read %d entries, want 2: %s", len(entries), out)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Host + ":" + strconv.Itoa(e.Port)
		if e.Name == "web-h1-80" && (e.Weight != 2 || e.Labels["zone"] != "a") {
			t.Errorf("h1 as Synapse reads it: %+v", e)
		}
		if e.Name == "web-h2-81" && (e.Weight != 1 || e.Labels == nil) {
			t.Errorf("h2 as Synapse reads it: %+v", e)
		}
	}
	if got["web-h1-80"] != "h1:80" || got["web-h2-81"] != "h2:81" {
		t.Errorf("entries by name: %v", got)
	}
}
