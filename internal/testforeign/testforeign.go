// Package testforeign writes registrations the way other systems write
// them, with those systems' own client code: Curator x-discovery
// ServiceInstances with the real Curator (a Java program compiled here),
// ServerSet member_ nodes and Nerve entries with kazoo, the Python client
// Twitter's and Airbnb's tooling build on. The entries live as long as the
// writer's session: until Close or the end of the test.
package testforeign

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testenv"
	"github.com/svcdisco/svcdisco/internal/testjava"
)

// curatorProgram registers ServiceInstances with Curator's
// ServiceDiscovery and its default JsonInstanceSerializer. Args:
// connect-string base-path. Each stdin line
//
//	NAME ID ADDRESS PORT|- SSLPORT|- ENABLED [k=v,k=v]
//
// registers one instance (payload: a map of the k=v pairs) and answers
// "registered ID": with Curator's default serializer, or when ENABLED is
// false with its full one (the default never writes "enabled"). EOF closes
// discovery and the session.
const curatorProgram = `
import org.apache.curator.framework.*;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.x.discovery.*;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import java.io.*;
import java.util.*;

public class CuratorDiscovery {
    public static void main(String[] a) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(a[0], 10000, 10000, new RetryOneTime(100));
        c.start();
        ServiceDiscovery<Map> d = ServiceDiscoveryBuilder.builder(Map.class).client(c).basePath(a[1])
            .serializer(new JsonInstanceSerializer<Map>(Map.class)).build();
        d.start();
        // The default serializer is Curator's compatible mode, which does
        // not write "enabled"; only the full one can say enabled=false.
        ServiceDiscovery<Map> full = ServiceDiscoveryBuilder.builder(Map.class).client(c).basePath(a[1])
            .serializer(new JsonInstanceSerializer<Map>(Map.class, false)).build();
        full.start();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String l; (l = in.readLine()) != null; ) {
            String[] f = l.split(" ");
            Map<String, String> payload = new HashMap<>();
            if (f.length > 6) for (String kv : f[6].split(",")) { String[] p = kv.split("=", 2); payload.put(p[0], p[1]); }
            ServiceInstanceBuilder<Map> b = ServiceInstance.<Map>builder().name(f[0]).id(f[1]).address(f[2]).payload(payload);
            if (!f[3].equals("-")) b.port(Integer.parseInt(f[3]));
            if (!f[4].equals("-")) b.sslPort(Integer.parseInt(f[4]));
            boolean enabled = Boolean.parseBoolean(f[5]);
            b.enabled(enabled);
            (enabled ? d : full).registerService(b.build());
            System.out.println("registered " + f[1]);
            System.out.flush();
        }
        d.close();
        full.close();
        c.close();
    }
}
`

var curatorJars = []string{"curator-x-discovery", "curator-framework", "curator-client", "zookeeper", "zookeeper-jute",
	"guava", "slf4j-api", "slf4j-nop", "jackson-core", "jackson-databind", "jackson-annotations"}

// Curator is a running Curator ServiceDiscovery.
type Curator struct{ p *testjava.Process }

// StartCurator starts Curator ServiceDiscovery on basePath.
func StartCurator(t *testing.T, connect, basePath string) *Curator {
	t.Helper()
	cp := testjava.Compile(t, "CuratorDiscovery", curatorProgram, "libcurator-discovery-java", curatorJars...)
	return &Curator{p: testjava.Start(t, "java", "-cp", cp, "CuratorDiscovery", connect, basePath)}
}

// Instance is one Curator ServiceInstance to register; Port or SSLPort 0
// leaves it unset.
type Instance struct {
	Name, ID, Address string
	Port, SSLPort     int
	Disabled          bool
	Payload           map[string]string // keys and values without spaces, = or ,
}

// Register registers in with Curator and waits until it is written.
func (c *Curator) Register(t *testing.T, in Instance) {
	t.Helper()
	port := func(n int) string {
		if n == 0 {
			return "-"
		}
		return itoa(n)
	}
	var kv []string
	for k, v := range in.Payload {
		kv = append(kv, k+"="+v)
	}
	line := strings.Join([]string{in.Name, in.ID, in.Address, port(in.Port), port(in.SSLPort), boolStr(!in.Disabled)}, " ")
	if len(kv) > 0 {
		line += " " + strings.Join(kv, ",")
	}
	c.p.Send(t, line)
	c.p.Expect(t, "registered "+in.ID)
}

// Close unregisters everything (Curator's close) and ends the session.
func (c *Curator) Close(t *testing.T) { c.p.Close(t) }

// kazooProgram creates ephemeral sequential znodes as ServerSets and Nerve
// do. Arg: connect-string. Each stdin line is a JSON object:
//
//	{"kind":"serverset","path":P,"data":D}  -> P/member_NNNNNNNNNN
//	{"kind":"nerve","path":P,"id":I,"data":D,"encode":B}
//	    -> P/I_NNNNNNNNNN, or with encode Nerve's use_path_encoding
//	       P/I_base64_<len>_<urlsafe b64 of D>_NNNNNNNNNN
//
// answered by "created <path>". EOF closes the session.
const kazooProgram = `
import base64, json, sys
from kazoo.client import KazooClient

zk = KazooClient(hosts=sys.argv[1])
zk.start(timeout=60)
for line in sys.stdin:
    req = json.loads(line)
    data = req["data"]
    if req["kind"] == "serverset":
        prefix = req["path"] + "/member_"
    else:
        prefix = req["path"] + "/" + req["id"] + "_"
        if req.get("encode"):
            prefix += "base64_%d_%s_" % (len(data), base64.urlsafe_b64encode(data.encode()).decode())
    path = zk.create(prefix, data.encode(), ephemeral=True, sequence=True, makepath=True)
    print("created " + path, flush=True)
zk.stop()
zk.close()
`

// Kazoo is a running kazoo client writing ServerSet and Nerve entries.
type Kazoo struct{ p *testjava.Process }

// python is Debian's interpreter, which has Debian's python3-kazoo.
const python = "/usr/bin/python3"

// StartKazoo starts a kazoo session on connect.
func StartKazoo(t *testing.T, connect string) *Kazoo {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import kazoo").CombinedOutput(); err != nil {
		testenv.Missing(t, "kazoo (apt-get install python3-kazoo)", &missing{string(out)})
	}
	return &Kazoo{p: testjava.Start(t, python, "-c", kazooProgram, connect)}
}

type missing struct{ out string }

func (m *missing) Error() string { return strings.TrimSpace(m.out) }

// ServerSetMember creates path/member_NNNNNNNNNN with data, as a ServerSet
// announcer does, and returns the znode's path.
func (k *Kazoo) ServerSetMember(t *testing.T, path, data string) string {
	t.Helper()
	return k.create(t, map[string]any{"kind": "serverset", "path": path, "data": data})
}

// NerveEntry creates Nerve's entry for instanceID under zkPath with data
// (encode: Nerve's use_path_encoding) and returns the znode's path.
func (k *Kazoo) NerveEntry(t *testing.T, zkPath, instanceID, data string, encode bool) string {
	t.Helper()
	return k.create(t, map[string]any{"kind": "nerve", "path": zkPath, "id": instanceID, "data": data, "encode": encode})
}

func (k *Kazoo) create(t *testing.T, req map[string]any) string {
	t.Helper()
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	k.p.Send(t, string(b))
	return strings.TrimPrefix(k.p.Expect(t, "created "), "created ")
}

// Close ends the session (its entries vanish).
func (k *Kazoo) Close(t *testing.T) { k.p.Close(t) }

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
