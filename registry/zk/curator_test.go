package zk

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/coord"
	"github.com/svcdisco/svcdisco/internal/testjava"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// curatorDriver takes an InterProcessMutex with the real Curator: args
// connect-string path wait-millis. It prints "acquired" or "timeout", then
// on "release" from stdin releases and prints "released".
const curatorDriver = `
import org.apache.curator.framework.*;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryOneTime;
import java.io.*;
import java.util.concurrent.TimeUnit;

public class CuratorLock {
    public static void main(String[] a) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(a[0], 10000, 10000, new RetryOneTime(100));
        c.start();
        InterProcessMutex m = new InterProcessMutex(c, a[1]);
        boolean ok = m.acquire(Long.parseLong(a[2]), TimeUnit.MILLISECONDS);
        System.out.println(ok ? "acquired" : "timeout");
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String l; (l = in.readLine()) != null; ) {
            if (l.equals("release") && ok) { m.release(); System.out.println("released"); System.out.flush(); }
            if (l.equals("quit")) break;
        }
        c.close();
    }
}
`

var curatorJars = []string{"curator-framework", "curator-client", "curator-recipes", "zookeeper", "zookeeper-jute",
	"guava", "slf4j-api", "slf4j-nop"}

// buildCurator compiles the driver and returns the classpath to run it.
func buildCurator(t *testing.T) string {
	t.Helper()
	return testjava.Compile(t, "CuratorLock", curatorDriver, "libcurator-recipes-java", curatorJars...)
}

type curator struct{ p *testjava.Process }

func startCurator(t *testing.T, cp, connect, path string, wait time.Duration) *curator {
	t.Helper()
	return &curator{p: testjava.Start(t, "java", "-cp", cp, "CuratorLock", connect, path, fmtMillis(wait))}
}

func fmtMillis(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func (c *curator) expect(t *testing.T, want string) {
	t.Helper()
	if l := c.p.Expect(t, want); l != want {
		t.Fatalf("Curator said %q, want %q", l, want)
	}
}

func (c *curator) send(t *testing.T, line string) { t.Helper(); c.p.Send(t, line) }

// TestCuratorInterop: svcdisco's lock and Curator's InterProcessMutex on
// the same path exclude each other, both ways round.
func TestCuratorInterop(t *testing.T) {
	zc := testzk.Shared(t)
	cp := buildCurator(t)
	r := open(t, zc.ConnString(), testzk.Root(t), 10*time.Second, nil)
	path := r.LockPath("shared")

	// Curator holds: svcdisco waits, then gets it once Curator releases.
	c := startCurator(t, cp, zc.ConnString(), path, time.Minute)
	c.expect(t, "acquired")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_, err := r.Lock(ctx, "shared")
	cancel()
	if !errors.Is(err, coord.ErrLockTimeout) {
		t.Fatalf("svcdisco Lock while Curator holds: %v, want ErrLockTimeout", err)
	}
	got := make(chan error, 1)
	var h coord.Hold
	go func() {
		var err error
		h, err = r.Lock(ctxT(t), "shared")
		got <- err
	}()
	c.send(t, "release")
	c.expect(t, "released")
	if err := <-got; err != nil {
		t.Fatalf("svcdisco Lock after Curator released: %v", err)
	}
	c.send(t, "quit")
	kids, _, err := r.Conn().Children(path)
	layout := regexp.MustCompile(`^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-[0-9]{10}$`)
	if err != nil || len(kids) != 1 || !layout.MatchString(kids[0]) {
		t.Fatalf("lock nodes %v (%v), want one in Curator's layout", kids, err)
	}

	// svcdisco holds: Curator times out, then gets it after our release.
	c2 := startCurator(t, cp, zc.ConnString(), path, 2*time.Second)
	c2.expect(t, "timeout")
	c2.send(t, "quit")
	if err := h.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	c3 := startCurator(t, cp, zc.ConnString(), path, time.Minute)
	c3.expect(t, "acquired")
	c3.send(t, "quit")
}
