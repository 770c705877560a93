package answercache

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCache(t *testing.T) (*Cache, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)}
	c := New(filepath.Join(t.TempDir(), "cache"))
	c.Now = clk.now
	return c, clk
}

var key = Key{Registry: "zk://127.0.0.1:2181/prod", Root: "/svcdisco", Service: "web"}

func providers() []registry.Provider {
	ts := time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)
	return []registry.Provider{
		{Service: "web", ID: "web-a-80", Host: "a", Address: "10.0.0.1", Port: 80, Weight: 1, Status: "up",
			Attributes: map[string]string{"zone": "z1"}, Endpoints: map[string]registry.Endpoint{"admin": {Host: "a", Port: 9}},
			Timestamp: ts, Name: "a:80:1"},
		{Service: "web", ID: "web-b-80", Host: "b", Port: 80, Weight: 2, Status: "maintenance",
			Attributes: map[string]string{}, Endpoints: map[string]registry.Endpoint{}, Timestamp: ts, Name: "b:80:1"},
	}
}

func TestStoreLoadRoundTrip(t *testing.T) {
	c, clk := newCache(t)
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(90 * time.Second)
	e, err := c.Load(key, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e.Providers, providers()) {
		t.Errorf("loaded %+v\nwant %+v", e.Providers, providers())
	}
	if e.Age != 90*time.Second || !e.FetchedAt.Equal(clk.t.Add(-90*time.Second)) {
		t.Errorf("age %s fetched %s", e.Age, e.FetchedAt)
	}
	// An empty answer is an answer too ("nobody provides web").
	if err := c.Store(key, nil); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Load(key, time.Minute); err != nil || len(e.Providers) != 0 {
		t.Errorf("empty answer: %+v %v", e, err)
	}
}

func TestLoadNeverOlderThanMaxAge(t *testing.T) {
	c, clk := newCache(t)
	if _, err := c.Load(key, time.Hour); !errors.Is(err, ErrNoEntry) {
		t.Errorf("nothing stored: %v, want ErrNoEntry", err)
	}
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Minute + time.Millisecond)
	_, err := c.Load(key, time.Minute)
	var old *TooOldError
	if !errors.As(err, &old) || !errors.Is(err, ErrNoEntry) || old.MaxAge != time.Minute {
		t.Errorf("too old: %v", err)
	}
	if _, err := c.Load(key, 0); err == nil {
		t.Error("maxAge 0 loaded an entry")
	}
}

func TestKeysAreSeparate(t *testing.T) {
	c, _ := newCache(t)
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []Key{
		{Registry: "zk://127.0.0.1:2181/other", Root: key.Root, Service: "web"},
		{Registry: key.Registry, Root: "/other", Service: "web"},
		{Registry: key.Registry, Root: key.Root, Service: "api"},
		{Registry: key.Registry, Root: key.Root, Service: "web", IncludeMaintenance: true},
	} {
		if _, err := c.Load(k, time.Hour); !errors.Is(err, ErrNoEntry) {
			t.Errorf("%+v answered from %+v: %v", k, key, err)
		}
	}
}

// TestFieldsOnlyServedByFull: a full answer serves a fields-only ask (the
// newer of the two wins), never the other way round.
func TestFieldsOnlyServedByFull(t *testing.T) {
	c, clk := newCache(t)
	fk := key
	fk.FieldsOnly = true
	if err := c.Store(fk, providers()[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(key, time.Hour); !errors.Is(err, ErrNoEntry) {
		t.Errorf("a fields-only answer served a full ask: %v", err)
	}
	clk.t = clk.t.Add(time.Second)
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	e, err := c.Load(fk, time.Hour)
	if err != nil || len(e.Providers) != 2 || e.Key != key {
		t.Fatalf("newer full answer not used: %+v %v", e, err)
	}
	clk.t = clk.t.Add(time.Second)
	if err := c.Store(fk, providers()[:1]); err != nil {
		t.Fatal(err)
	}
	if e, err = c.Load(fk, time.Hour); err != nil || len(e.Providers) != 1 || !e.Providers[0].FieldsOnly {
		t.Fatalf("newer fields-only answer not used: %+v %v", e, err)
	}
}

func TestModesAndNoLeftovers(t *testing.T) {
	c, _ := newCache(t)
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(key, providers()); err != nil { // replaces
		t.Fatal(err)
	}
	di, err := os.Stat(c.Dir)
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("dir %v %v, want 0700", di.Mode(), err)
	}
	ents, err := os.ReadDir(c.Dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("dir holds %v %v, want one file", ents, err)
	}
	fi, err := os.Stat(c.Path(key))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file %v %v, want 0600", fi.Mode(), err)
	}
}

func TestUntrustedFilesRefused(t *testing.T) {
	c, _ := newCache(t)
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	path := c.Path(key)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(key, time.Hour); !errors.Is(err, ErrNoEntry) {
		t.Errorf("world-writable file believed: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "planted")
	if err := os.Rename(path, other); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(key, time.Hour); !errors.Is(err, ErrNoEntry) {
		t.Errorf("symlink followed: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(key, time.Hour); !errors.Is(err, ErrNoEntry) {
		t.Errorf("garbage believed: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	if os.Geteuid() == 0 {
		if got := DefaultDir(); got != "/var/cache/svcdisco" {
			t.Errorf("root: %s", got)
		}
		return
	}
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got := DefaultDir(); got != "/x/cache/svcdisco" {
		t.Errorf("XDG: %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := DefaultDir(); got != "/home/u/.cache/svcdisco" {
		t.Errorf("HOME: %s", got)
	}
}

// TestUnchangedAnswerOnlyTouched: the registry repeating an answer (in any
// order) brings its time forward without rewriting the file; a changed
// answer replaces it.
func TestUnchangedAnswerOnlyTouched(t *testing.T) {
	c, clk := newCache(t)
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(c.Path(key))
	if err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Hour)
	ps := providers()
	ps[0], ps[1] = ps[1], ps[0]
	if err := c.Store(key, ps); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(c.Path(key))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("an unchanged answer rewrote the file: %v", err)
	}
	clk.t = clk.t.Add(10 * time.Second)
	if e, err := c.Load(key, time.Minute); err != nil || e.Age != 10*time.Second || !reflect.DeepEqual(e.Providers, providers()) {
		t.Fatalf("after a repeated answer: %+v %v, want age 10s", e, err)
	}
	if err := c.Store(key, providers()[:1]); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Load(key, time.Minute); err != nil || len(e.Providers) != 1 || e.Age != 0 {
		t.Fatalf("changed answer: %+v %v", e, err)
	}
}

// TestCutFileRewritten: a file that lost its end (a crash after the
// rename, before the data reached the disk) is rewritten by the next Store
// of the same answer, though it starts with the right fingerprint.
func TestCutFileRewritten(t *testing.T) {
	c, _ := newCache(t)
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	path := c.Path(key)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(key, time.Minute); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("a cut file loaded: %v", err)
	}
	if err := c.Store(key, providers()); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Load(key, time.Minute); err != nil || !reflect.DeepEqual(e.Providers, providers()) {
		t.Fatalf("after storing the same answer again: %+v %v", e, err)
	}
}

// TestFingerprintCoversEveryField changes each field of a provider in turn
// (and each field of an endpoint, by reflection, so a field added to
// registry.Provider later is covered too) and wants a different
// fingerprint: an answer that differs only there must be rewritten, never
// taken for the one on disk.
func TestFingerprintCoversEveryField(t *testing.T) {
	base := providers()
	want := fingerprint(key, base)
	swapped := providers()
	swapped[0], swapped[1] = swapped[1], swapped[0]
	if got := fingerprint(key, swapped); got != want {
		t.Errorf("the order of the answer changed its fingerprint: %s, %s", got, want)
	}
	if fingerprint(key, base[:1]) == want || fingerprint(key, append(providers(), base[1])) == want {
		t.Error("one provider fewer or more kept the fingerprint")
	}
	other := key
	other.Service = "api"
	if fingerprint(other, base) == want {
		t.Error("another key kept the fingerprint")
	}
	typ := reflect.TypeFor[registry.Provider]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		ps := providers()
		v := reflect.ValueOf(&ps[0]).Elem().Field(i)
		if !mutate(t, v) {
			t.Errorf("field %s (%s): the test cannot change it; teach mutate", field.Name, field.Type)
			continue
		}
		if fingerprint(key, ps) == want {
			t.Errorf("changing %s kept the fingerprint", field.Name)
		}
	}
	ep := providers()
	ep[0].Endpoints["admin"] = registry.Endpoint{Host: "a", Port: 10}
	if fingerprint(key, ep) == want {
		t.Error("changing an endpoint's port kept the fingerprint")
	}
	ep[0].Endpoints["admin"] = registry.Endpoint{Host: "b", Port: 9}
	if fingerprint(key, ep) == want {
		t.Error("changing an endpoint's host kept the fingerprint")
	}
	// Length prefixes: moving a byte from one field to the next is a change.
	shift := providers()
	shift[0].Host, shift[0].Address = shift[0].Host+"1", shift[0].Address[1:]
	if fingerprint(key, shift) == want {
		t.Error("moving a byte between two fields kept the fingerprint")
	}
}

// mutate changes v in place; false when it does not know v's kind.
func mutate(t *testing.T, v reflect.Value) bool {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			return false
		}
		v.SetInt(v.Int() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range v.MapKeys() {
			m.SetMapIndex(k, v.MapIndex(k))
		}
		m.SetMapIndex(reflect.ValueOf("added"), reflect.New(v.Type().Elem()).Elem())
		v.Set(m)
	case reflect.Struct:
		if v.Type() != reflect.TypeFor[time.Time]() {
			return false
		}
		v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Millisecond)))
	default:
		return false
	}
	return true
}

// BenchmarkStore is the cost a query pays to keep its answer: the usual
// case, an answer the registry repeats, and a changed one, at 2 and at
// 10,000 providers (the fields-only answer of `query -o lines`).
func BenchmarkStore(b *testing.B) {
	many := make([]registry.Provider, 10000)
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range many {
		host := fmt.Sprintf("web-%05d.us-east-1.example.com", i)
		many[i] = registry.Provider{Service: "web", Host: host, Port: 8080, Status: registry.StatusUp,
			Timestamp: ts.Add(time.Duration(i) * time.Millisecond), Name: fmt.Sprintf("%s:8080:%d", host, i), FieldsOnly: true}
	}
	for _, size := range []struct {
		name string
		ps   []registry.Provider
	}{{"providers=2", providers()}, {"providers=10000", many}} {
		for _, changed := range []bool{false, true} {
			b.Run(size.name+"/"+map[bool]string{false: "unchanged", true: "changed"}[changed], func(b *testing.B) {
				c := New(filepath.Join(b.TempDir(), "cache"))
				ps := slices.Clone(size.ps)
				for i := 0; i < b.N; i++ {
					if changed {
						ps[0].Port = i
					}
					if err := c.Store(key, ps); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestEncodeIsEncodingJSON: the hand-built file is what json.Marshal gives
// for the same file value, so Load (encoding/json) reads it back exactly.
func TestEncodeIsEncodingJSON(t *testing.T) {
	ps := append(providers(), registry.Provider{Service: "web", Host: "<c>", Port: 1, Name: "c\"&\u2028", Timestamp: time.Unix(1, 0)})
	got, err := encode("v1-x", key, ps)
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(ps)
	registry.Sort(sorted)
	f := file{Fingerprint: "v1-x", Key: key, Complete: "v1-x"}
	for _, p := range sorted {
		f.Providers = append(f.Providers, record{Provider: p, Name: p.Name})
	}
	want, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want)+"\n" {
		t.Errorf("encode:\n got %s\nwant %s", got, want)
	}
}
