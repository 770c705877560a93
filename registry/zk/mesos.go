package zk

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/svcdisco/svcdisco/internal/build"
	"github.com/svcdisco/svcdisco/registry"
)

// Mesos' group membership labels (src/zookeeper/group.cpp). A member is
// <label>_<10-digit sequence>, or a bare sequence for the oldest format.
const (
	LabelJSON   = "json.info" // MasterInfo as JSON: what Mesos writes today and what svcdisco writes
	LabelInfo   = "info"      // MasterInfo as binary protobuf (Mesos before 0.24)
	LabelBare   = ""          // the raw UPID, master@ip:port
	memberLabel = LabelJSON + "_"
)

// member is one child of an election znode that Mesos counts as a member.
type member struct {
	Name  string
	Label string
	Seq   int64
}

// parseMember splits a child name as Mesos' group cache does: the part after
// the last '_' must be a number, the rest is the label. ok is false for
// children that are not members at all (e.g. a persistent "log_replicas").
func parseMember(name string) (member, bool) {
	label, digits := "", name
	if i := strings.LastIndexByte(name, '_'); i >= 0 {
		label, digits = name[:i], name[i+1:]
	}
	if digits == "" {
		return member{}, false
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || seq < 0 {
		return member{}, false
	}
	return member{Name: name, Label: label, Seq: seq}, true
}

// members returns the children that are members, lowest sequence first.
func members(children []string) []member {
	var ms []member
	for _, c := range children {
		if m, ok := parseMember(c); ok {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Seq != ms[j].Seq {
			return ms[i].Seq < ms[j].Seq
		}
		return ms[i].Name < ms[j].Name
	})
	return ms
}

// knownLabel reports whether svcdisco can read a member with this label.
func knownLabel(label string) bool {
	return label == LabelJSON || label == LabelInfo || label == LabelBare
}

// masterInfo is Mesos' MasterInfo (include/mesos/mesos.proto) as JSON, with
// svcdisco's provider alongside. Mesos parses JSON into the protobuf by its
// own fields, so the extra "svcdisco" key is ignored there.
type masterInfo struct {
	ID       string         `json:"id"`
	IP       uint32         `json:"ip"` // IPv4 in network byte order; required by Mesos, deprecated
	Port     int            `json:"port"`
	PID      string         `json:"pid,omitempty"`
	Hostname string         `json:"hostname,omitempty"`
	Version  string         `json:"version,omitempty"`
	Address  *masterAddress `json:"address,omitempty"`
	// Svcdisco is the contender in the provider shape.
	Svcdisco *registry.Provider `json:"svcdisco,omitempty"`
}

type masterAddress struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port"`
}

// encodeMember is the data of a member znode svcdisco writes for p.
func encodeMember(p registry.Provider) ([]byte, error) {
	ip := p.Address
	if ip == "" {
		ip = p.Host
	}
	mi := masterInfo{
		ID:       p.ID,
		Port:     p.Port,
		PID:      "svcdisco@" + net.JoinHostPort(ip, strconv.Itoa(p.Port)),
		Hostname: p.Host,
		Version:  build.String(),
		Address:  &masterAddress{Hostname: p.Host, IP: p.Address, Port: p.Port},
		Svcdisco: &p,
	}
	if v4 := net.ParseIP(p.Address).To4(); v4 != nil {
		// s_addr as Mesos stores it: the address bytes read as a
		// little-endian integer on the x86 masters that wrote it.
		mi.IP = binary.LittleEndian.Uint32(v4)
	}
	return json.Marshal(mi)
}

// decodeMember turns a member's data into a provider of group. A member
// svcdisco wrote carries its provider; one Mesos wrote is mapped from
// MasterInfo: id, hostname, address.ip (else the pid's ip), port.
func decodeMember(group string, m member, data []byte) (registry.Provider, error) {
	var mi masterInfo
	switch m.Label {
	case LabelJSON:
		if err := json.Unmarshal(data, &mi); err != nil {
			return registry.Provider{}, fmt.Errorf("MasterInfo JSON: %w", err)
		}
	case LabelInfo:
		var err error
		if mi, err = decodeMasterInfoProto(data); err != nil {
			return registry.Provider{}, fmt.Errorf("MasterInfo protobuf: %w", err)
		}
	case LabelBare:
		mi.PID = strings.TrimSpace(string(data))
	default:
		return registry.Provider{}, fmt.Errorf("unknown member label %q", m.Label)
	}
	if mi.Svcdisco != nil {
		p := *mi.Svcdisco
		p.Service, p.Name = group, m.Name
		if p.Status == "" {
			p.Status = registry.StatusUp
		}
		return p, nil
	}
	return providerFromMasterInfo(group, m.Name, mi)
}

func providerFromMasterInfo(group, name string, mi masterInfo) (registry.Provider, error) {
	p := registry.Provider{Service: group, ID: mi.ID, Host: mi.Hostname, Port: mi.Port, Name: name, Status: registry.StatusUp}
	if mi.Address != nil {
		p.Address = mi.Address.IP
		if p.Host == "" {
			p.Host = mi.Address.Hostname
		}
		if mi.Address.Port != 0 {
			p.Port = mi.Address.Port
		}
	}
	if pidIP, pidPort, ok := splitPID(mi.PID); ok {
		if p.Address == "" {
			p.Address = pidIP
		}
		if p.Port == 0 {
			p.Port = pidPort
		}
	}
	if p.Address == "" && mi.IP != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], mi.IP)
		p.Address = net.IP(b[:]).String()
	}
	if p.Host == "" {
		p.Host = p.Address
	}
	if p.Host == "" || p.Port < 1 || p.Port > 65535 {
		return p, fmt.Errorf("no usable address in member data (pid %q)", mi.PID)
	}
	if p.ID == "" {
		p.ID = registry.DefaultID(group, p.Host, p.Port)
	}
	return p, nil
}

// splitPID splits a libprocess UPID, name@ip:port.
func splitPID(pid string) (string, int, bool) {
	at := strings.LastIndexByte(pid, '@')
	if at < 0 {
		return "", 0, false
	}
	host, port, err := net.SplitHostPort(pid[at+1:])
	if err != nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, false
	}
	return host, n, true
}

// ResolveAddr is what `mesos-resolve` prints for a leader: the ip:port of
// its pid (the pid minus "master@"), else address.ip:port.
func ResolveAddr(p registry.Provider) string {
	host := p.Address
	if host == "" {
		host = p.Host
	}
	return net.JoinHostPort(host, strconv.Itoa(p.Port))
}
