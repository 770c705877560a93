package zk

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testzk"
	"github.com/svcdisco/svcdisco/registry"
)

// mesosJSON is a member's data as Mesos 1.x writes it (json.info_).
const mesosJSON = `{"address":{"hostname":"m1.example.com","ip":"10.0.0.1","port":5050},` +
	`"capabilities":[{"type":"AGENT_UPDATE"}],"hostname":"m1.example.com",` +
	`"id":"7b2d0c4e-1f3a-4d2b-9c55-0c9a3f1e2d11","ip":16777226,"pid":"master@10.0.0.1:5050",` +
	`"port":5050,"version":"1.11.0"}`

// legacyInfo is a binary MasterInfo as Mesos before 0.24 wrote it (info_):
// id, ip, port, pid, hostname.
func legacyInfo() []byte {
	var b []byte
	str := func(field int, s string) {
		b = binary.AppendUvarint(b, uint64(field<<3|2))
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(field int, v uint64) {
		b = binary.AppendUvarint(b, uint64(field<<3))
		b = binary.AppendUvarint(b, v)
	}
	str(1, "20131001-legacy")
	num(2, 150994954) // 10.0.0.9 as s_addr on x86
	num(3, 5051)
	str(4, "master@10.0.0.9:5051")
	str(5, "m0.example.com")
	return b
}

// rawConn is a plain go-zookeeper client, standing in for Mesos.
func rawConn(t *testing.T, servers string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(strings.Split(servers, ","), 4*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	testenv.WaitFor(t, "raw session", 10*time.Second, func() bool { return conn.State() == zk.StateHasSession })
	return conn
}

func joinMesos(t *testing.T, conn *zk.Conn, dir, label string, data []byte) string {
	t.Helper()
	prefix := dir + "/"
	if label != "" {
		prefix += label + "_"
	}
	p, err := conn.Create(prefix, data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatalf("create %s: %v", prefix, err)
	}
	return p
}

// TestDetectMesosLayout reads an election written in Mesos' exact format:
// the legacy binary info_, json.info_, the bare UPID, a non-member child
// and a member with a label nobody knows.
func TestDetectMesosLayout(t *testing.T) {
	zkc := testzk.Shared(t)
	root := testzk.Root(t)
	r := open(t, zkc.ConnString(), root, 4*time.Second, nil)
	mesos := rawConn(t, zkc.ConnString())
	dir := root + "/mesos"
	if err := r.ensurePath(ctxT(t), dir+"/log_replicas"); err != nil {
		t.Fatal(err)
	}
	watch, err := r.WatchLeaderAt(ctxT(t), dir, "mesos")
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string) coord.LeaderChange {
		t.Helper()
		select {
		case lc := <-watch:
			return lc
		case <-time.After(15 * time.Second):
			t.Fatalf("watch: no change for %s", what)
		}
		return coord.LeaderChange{}
	}
	if lc := next("empty"); lc.OK {
		t.Fatalf("empty election: leader %+v", lc.Leader)
	}

	legacy := joinMesos(t, mesos, dir, LabelInfo, legacyInfo())
	js := joinMesos(t, mesos, dir, LabelJSON, []byte(mesosJSON))
	bare := joinMesos(t, mesos, dir, LabelBare, []byte("master@10.0.0.3:5053"))
	joinMesos(t, mesos, dir, "unknown.label", []byte("?"))

	steps := []struct {
		name, id, host, resolve string
	}{
		{"legacy info_", "20131001-legacy", "m0.example.com", "10.0.0.9:5051"},
		{"json.info_", "7b2d0c4e-1f3a-4d2b-9c55-0c9a3f1e2d11", "m1.example.com", "10.0.0.1:5050"},
		{"bare", "mesos-10.0.0.3-5053", "10.0.0.3", "10.0.0.3:5053"},
	}
	gone := []string{legacy, js, bare}
	for i, s := range steps {
		lc := next(s.name)
		if i == 0 { // the watch may report the first joins one by one
			for lc.OK && lc.Leader.ID != s.id {
				lc = next(s.name)
			}
		}
		if !lc.OK || lc.Leader.ID != s.id || lc.Leader.Host != s.host || ResolveAddr(lc.Leader) != s.resolve {
			t.Fatalf("%s: got %+v (resolve %s), want id %s host %s resolve %s", s.name, lc.Leader, ResolveAddr(lc.Leader), s.id, s.host, s.resolve)
		}
		once, err := r.LeaderAt(ctxT(t), dir, "mesos")
		if err != nil || !once.Same(lc) {
			t.Fatalf("%s: LeaderAt = %+v, %v; watch said %+v", s.name, once, err, lc)
		}
		if lc.Leader.Service != "mesos" || lc.Token == 0 {
			t.Errorf("%s: service %q token %d", s.name, lc.Leader.Service, lc.Token)
		}
		if err := mesos.Delete(gone[i], -1); err != nil {
			t.Fatal(err)
		}
	}
	// Only the member with the unknown label is left: Mesos' masters do
	// not lead then, and neither does anyone for svcdisco, without error.
	if lc := next("unknown label"); lc.OK {
		t.Fatalf("unknown label: leader %+v, want none", lc.Leader)
	}
	if lc, err := r.LeaderAt(ctxT(t), dir, "mesos"); err != nil || lc.OK {
		t.Fatalf("unknown label: LeaderAt = %+v, %v; want no leader, no error", lc, err)
	}
}

func TestParseMember(t *testing.T) {
	for _, c := range []struct {
		name  string
		ok    bool
		label string
		seq   int64
	}{
		{"json.info_0000000012", true, LabelJSON, 12},
		{"info_0000000003", true, LabelInfo, 3},
		{"0000000007", true, LabelBare, 7},
		{"some_label_0000000001", true, "some_label", 1},
		{"log_replicas", false, "", 0},
		{"info_", false, "", 0},
		{"_c_abc-lock-0000000001", false, "", 0},
	} {
		m, ok := parseMember(c.name)
		if ok != c.ok || (ok && (m.Label != c.label || m.Seq != c.seq)) {
			t.Errorf("parseMember(%q) = %+v, %v; want label %q seq %d ok %v", c.name, m, ok, c.label, c.seq, c.ok)
		}
	}
}

// TestMemberDataIsMasterInfo checks what svcdisco writes has MasterInfo's
// fields with Mesos' types, and reads back as the same provider.
func TestMemberDataIsMasterInfo(t *testing.T) {
	p := registry.Provider{ID: "s1", Host: "h1.example.com", Address: "10.0.0.1", Port: 7000,
		Attributes: map[string]string{"zone": "a"}, Weight: 1, Status: registry.StatusUp}
	data, err := encodeMember(p)
	if err != nil {
		t.Fatal(err)
	}
	var mi struct {
		ID       string `json:"id"`
		IP       uint32 `json:"ip"`
		Port     int    `json:"port"`
		PID      string `json:"pid"`
		Hostname string `json:"hostname"`
		Address  struct {
			Hostname string `json:"hostname"`
			IP       string `json:"ip"`
			Port     int    `json:"port"`
		} `json:"address"`
	}
	if err := json.Unmarshal(data, &mi); err != nil {
		t.Fatal(err)
	}
	if mi.ID != "s1" || mi.IP != 16777226 || mi.Port != 7000 || mi.PID != "svcdisco@10.0.0.1:7000" ||
		mi.Hostname != "h1.example.com" || mi.Address.IP != "10.0.0.1" || mi.Address.Port != 7000 {
		t.Errorf("MasterInfo fields: %s", data)
	}
	got, err := decodeMember("sched", member{Name: "json.info_0000000001", Label: LabelJSON, Seq: 1}, data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Service != "sched" || got.ID != "s1" || got.Addr() != "h1.example.com:7000" || got.Attributes["zone"] != "a" {
		t.Errorf("decoded %+v", got)
	}
}
