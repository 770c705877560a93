package exhibitor

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/registry"
)

func resolver(t *testing.T, raw string, o Options) *Resolver {
	t.Helper()
	u, err := registry.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	if o.CachePath == "" {
		o.CachePath = filepath.Join(t.TempDir(), "ensemble.json")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = time.Second
	}
	r, err := New(u, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBothReplyFormsAndAccept(t *testing.T) {
	ex := testexhibitor.Start(t)
	r := resolver(t, "exhibitor://"+ex.Host(), Options{})
	for _, set := range []func(){
		func() { ex.JSON(2181, "zk2", "zk1") },
		func() { ex.Form(2181, "zk2", "zk1") },
	} {
		set()
		e, err := r.Resolve(ctx5(t))
		if err != nil || strings.Join(e.Servers, ",") != "zk1:2181,zk2:2181" || e.Source != SourceExhibitor || e.Origin != ex.Host() {
			t.Fatalf("Resolve = %+v, %v", e, err)
		}
	}
	if a := ex.LastAccept(); a != "application/json" {
		t.Errorf("Accept %q", a)
	}
}

func TestBadRepliesFallBackToCacheThenBackup(t *testing.T) {
	ex := testexhibitor.Start(t)
	raw := "exhibitor://" + ex.Host() + "/prod?backup=b2:2181,b1"
	r := resolver(t, raw, Options{})
	ex.JSON(2181, "zk1", "zk2")
	if _, err := r.Resolve(ctx5(t)); err != nil { // fills the cache
		t.Fatal(err)
	}
	bad := []func(){
		func() { ex.Reply(http.StatusOK, "text/html", "<html><body>oops</body></html>") },
		func() { ex.Reply(http.StatusOK, "application/json", `{"servers":["zk1"],"po`) },
		func() { ex.JSON(2181) },
		func() { ex.JSON(0, "zk1") },
		func() { ex.Reply(http.StatusInternalServerError, "text/html", "<h1>500</h1>") },
		func() { ex.RequireAuth("u", "p"); ex.JSON(2181, "zk9") },
	}
	for i, set := range bad {
		set()
		e, err := r.Resolve(ctx5(t))
		if err != nil || e.Source != SourceCache || strings.Join(e.Servers, ",") != "zk1:2181,zk2:2181" {
			t.Fatalf("bad reply %d: Resolve = %+v, %v; want the cached list", i, e, err)
		}
	}
	// Cache gone: the backup list, sorted.
	if err := os.Remove(r.Cache.Path); err != nil {
		t.Fatal(err)
	}
	e, err := r.Resolve(ctx5(t))
	if err != nil || e.Source != SourceBackup || strings.Join(e.Servers, ",") != "b1:2181,b2:2181" {
		t.Fatalf("Resolve = %+v, %v; want backup", e, err)
	}
}

func TestAllSourcesFailNamesEach(t *testing.T) {
	ex := testexhibitor.Start(t)
	ex.RequireAuth("u", "p")
	ex.JSON(2181, "zk1")
	r := resolver(t, "exhibitor://"+ex.Host()+",127.0.0.1:1", Options{})
	_, err := r.Resolve(ctx5(t))
	if exitcode.Of(err) != exitcode.Unreachable {
		t.Fatalf("exit %d (%v), want 4", exitcode.Of(err), err)
	}
	for _, want := range []string{ex.Host() + ": HTTP 401", "127.0.0.1:1:", "cache: ", "no cached answer yet", "backup: none given"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "localhost") {
		t.Errorf("error mentions localhost: %v", err)
	}
}

func TestBasicAuth(t *testing.T) {
	ex := testexhibitor.Start(t)
	ex.RequireAuth("ops", "s3cret")
	ex.JSON(2181, "zk1")
	file := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(file, []byte("ops:s3cret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err := registry.ParseURL("exhibitor://" + ex.Host())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(u, Options{AuthFile: file}); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("auth file mode 0644: %v, want exit 2 saying chmod 600", err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	r := resolver(t, "exhibitor://"+ex.Host(), Options{AuthFile: file})
	if e, err := r.Resolve(ctx5(t)); err != nil || e.Source != SourceExhibitor {
		t.Fatalf("--exhibitor-auth-file: %+v, %v", e, err)
	}
	t.Setenv(AuthEnv, "ops:s3cret")
	r = resolver(t, "exhibitor://"+ex.Host(), Options{})
	if e, err := r.Resolve(ctx5(t)); err != nil || e.Source != SourceExhibitor {
		t.Fatalf("%s: %+v, %v", AuthEnv, e, err)
	}
}

func TestSlowHostTimesOutAndNextAnswers(t *testing.T) {
	slow, fast := testexhibitor.Start(t), testexhibitor.Start(t)
	slow.Delay(time.Minute)
	slow.JSON(2181, "wrong")
	fast.JSON(2181, "zk1")
	r := resolver(t, "exhibitor://"+slow.Host()+","+fast.Host(), Options{RequestTimeout: 200 * time.Millisecond})
	for range 4 { // shuffled: the slow one comes first about half the time
		e, err := r.Resolve(ctx5(t))
		if err != nil || e.Origin != fast.Host() {
			t.Fatalf("Resolve = %+v, %v", e, err)
		}
	}
}

func TestHTTPSVerifiesCertificates(t *testing.T) {
	ex := testexhibitor.StartTLS(t)
	ex.JSON(2181, "zk1")
	raw := "exhibitor://" + ex.Host() + "?scheme=https"
	r := resolver(t, raw, Options{})
	if _, err := r.Resolve(ctx5(t)); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("self-signed certificate accepted without a CA file: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	der := ex.Certificate().Raw
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	r = resolver(t, raw, Options{CAFile: ca})
	if e, err := r.Resolve(ctx5(t)); err != nil || e.Source != SourceExhibitor {
		t.Fatalf("with --exhibitor-ca: %+v, %v", e, err)
	}
}

func TestProxiedPathPrefix(t *testing.T) {
	ex := testexhibitor.Start(t)
	ex.Path = "/proxy/exhibitor/v1"
	ex.JSON(2181, "zk1")
	r := resolver(t, "exhibitor://"+ex.Host(), Options{PathPrefix: "/proxy/exhibitor/v1/"})
	if e, err := r.Resolve(ctx5(t)); err != nil || e.Source != SourceExhibitor {
		t.Fatalf("%+v, %v", e, err)
	}
}

func TestCacheIsPerExhibitorAndAtomic(t *testing.T) {
	dir := t.TempDir()
	c := &Cache{Path: filepath.Join(dir, "e.json"), Exhibitor: "e1:8080"}
	if err := c.Save([]string{"zk1:2181"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Load(); err != nil || e.Servers[0] != "zk1:2181" {
		t.Fatalf("Load = %+v, %v", e, err)
	}
	other := &Cache{Path: c.Path, Exhibitor: "e9:8080"}
	if _, err := other.Load(); err == nil || !strings.Contains(err.Error(), "e9:8080") {
		t.Fatalf("cache of another Exhibitor used: %v", err)
	}
	if err := os.WriteFile(c.Path, []byte(`{"exhibitor":"e1:8080","servers":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(); err == nil {
		t.Fatal("empty cached list accepted")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestUnknownURLParameter(t *testing.T) {
	u, _ := registry.ParseURL("exhibitor://e1?bakcup=h1")
	if _, err := New(u, Options{}); exitcode.Of(err) != exitcode.Usage {
		t.Fatalf("typo accepted: %v", err)
	}
}
