// Package answercache keeps the last known good answer of every service
// asked for, on local disk, so that a caller who allows it can still get an
// answer while the registry cannot be reached (the whole ensemble down).
//
// An answer is the UNFILTERED provider set of one service as the registry
// gave it; callers apply their own filters (--where, --latest, --at-least)
// to it exactly as to a fresh answer. Entries are written atomically
// (temporary file, rename) in a directory created 0700, each file 0600;
// an answer the registry repeats only has its file's time (which says when
// it was fetched) brought forward. Entries are keyed by registry (its redacted URL, chroot included),
// root, service and the view asked for (with or without providers in
// maintenance, with or without provider data).
//
//	c := answercache.New(dir)
//	err := c.Store(key, providers)        // after every successful answer
//	e, err := c.Load(key, maxAge)         // e.Providers, e.FetchedAt, e.Age
//
// Load never returns an entry older than maxAge: it returns an error
// matching ErrNoEntry when there is none, and a *TooOldError when the only
// one is too old.
package answercache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/svcdisco/svcdisco/internal/cachedir"
	"github.com/svcdisco/svcdisco/registry"
)

// Key names one answer.
type Key struct {
	// Registry is the registry URL with its secrets redacted
	// (registry.Redact); the chroot is part of it.
	Registry string `json:"registry"`
	Root     string `json:"root"`
	Service  string `json:"service"`
	// Source names where a foreign format's entries were read (format and
	// path, see registry/zk/foreign); "" for svcdisco's own entries.
	Source string `json:"source,omitempty"`
	// IncludeMaintenance: the answer lists providers in maintenance too.
	IncludeMaintenance bool `json:"include_maintenance,omitempty"`
	// FieldsOnly: the answer carries service, host, port and timestamp
	// only (registry.ListOptions.FieldsOnly). A full answer also serves a
	// FieldsOnly Load, never the other way round.
	FieldsOnly bool `json:"fields_only,omitempty"`
}

func (k Key) String() string {
	return fmt.Sprintf("%s root %s service %s", k.Registry, k.Root, k.Service)
}

// Entry is a cached answer.
type Entry struct {
	Key       Key
	Providers []registry.Provider
	// FetchedAt is when the registry gave the answer.
	FetchedAt time.Time
	// Age is how old the answer was when loaded.
	Age time.Duration
}

// ErrNoEntry is matched (errors.Is) when nothing usable is cached.
var ErrNoEntry = errors.New("no cached answer")

// TooOldError is returned when the cached answer is older than allowed.
type TooOldError struct {
	Key    Key
	Age    time.Duration
	MaxAge time.Duration
}

func (e *TooOldError) Error() string {
	return fmt.Sprintf("cached answer for %s is %s old, older than the %s allowed",
		e.Key.Service, e.Age.Round(time.Second), e.MaxAge)
}

// Is makes a too old entry match ErrNoEntry: there is nothing usable.
func (e *TooOldError) Is(target error) bool { return target == ErrNoEntry }

// Cache is a directory of answers.
type Cache struct {
	Dir string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New returns the cache in dir ("" is DefaultDir()).
func New(dir string) *Cache {
	if dir == "" {
		dir = DefaultDir()
	}
	return &Cache{Dir: dir}
}

// DefaultDir is where answers are kept unless --answer-cache says
// otherwise: the unit's CacheDirectory= under systemd, /var/cache/svcdisco
// for root (the boot hook and Chef run as root), else
// $XDG_CACHE_HOME/svcdisco (~/.cache/svcdisco); see internal/cachedir.
func DefaultDir() string { return cachedir.Default() }

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// record is a provider as stored: its JSON plus the backend's name, which
// orders providers registered in the same millisecond.
type record struct {
	Provider registry.Provider `json:"provider"`
	Name     string            `json:"name,omitempty"`
}

// file is an entry on disk. When the answer was fetched is the file's
// modification time: an answer the registry repeats (the common case) then
// costs a utimes, not a rewrite.
type file struct {
	// Fingerprint is the answer's fingerprint; it comes first and Complete
	// repeats it last, so Store can tell an unchanged, whole file from its
	// two ends (see holds).
	Fingerprint string   `json:"fingerprint"`
	Key         Key      `json:"key"`
	Providers   []record `json:"providers"`
	Complete    string   `json:"complete"`
}

// Path is the file holding key's answer.
func (c *Cache) Path(k Key) string {
	b, _ := json.Marshal(k)
	sum := sha256.Sum256(b)
	return filepath.Join(c.Dir, "answer-"+hex.EncodeToString(sum[:12])+".json")
}

// Store records ps as key's answer, fetched now. A changed answer is
// written atomically (a reader sees the old answer or the new one, never
// half); an unchanged one only has its time brought forward. Whether it
// changed is decided by the answer's fingerprint, which the file carries at
// its start and again at its end: reading those few bytes replaces encoding
// the whole answer, and a cut file (the end missing) is always rewritten.
func (c *Cache) Store(k Key, ps []registry.Provider) error {
	fp := fingerprint(k, ps)
	path, now := c.Path(k), c.now()
	if !holds(path, fp) {
		data, err := encode(fp, k, ps)
		if err != nil {
			return fmt.Errorf("answer cache: %w", err)
		}
		if err := writeAtomic(c.Dir, path, data); err != nil {
			return fmt.Errorf("answer cache: %w", err)
		}
	}
	if err := os.Chtimes(path, now, now); err != nil {
		return fmt.Errorf("answer cache: %w", err)
	}
	return nil
}

// encode writes the file for answer ps: what json.Marshal gives for a file
// value, built one provider at a time (registry.Provider.AppendJSON), with
// the providers sorted so the same set always gives the same bytes.
func encode(fp string, k Key, ps []registry.Provider) ([]byte, error) {
	sorted := slices.Clone(ps)
	registry.Sort(sorted) // the same set, whatever order the backend listed it in
	key, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	data := make([]byte, 0, 64+len(key)+len(ps)*320)
	data = append(data, `{"fingerprint":`...)
	data = strconv.AppendQuote(data, fp) // hex and dashes only
	data = append(data, `,"key":`...)
	data = append(data, key...)
	data = append(data, `,"providers":[`...)
	for i := range sorted {
		if i > 0 {
			data = append(data, ',')
		}
		data = append(data, `{"provider":`...)
		if data, err = sorted[i].AppendJSON(data); err != nil {
			return nil, err
		}
		if sorted[i].Name != "" {
			data = append(data, `,"name":`...)
			data = registry.AppendJSONString(data, sorted[i].Name)
		}
		data = append(data, '}')
	}
	data = append(data, `],"complete":`...)
	data = strconv.AppendQuote(data, fp)
	return append(data, "}\n"...), nil
}

// Load returns key's answer if one at most maxAge old is cached. For a
// FieldsOnly key the full answer serves too, whichever is newer.
func (c *Cache) Load(k Key, maxAge time.Duration) (*Entry, error) {
	e, err := c.load(k)
	if k.FieldsOnly {
		full := k
		full.FieldsOnly = false
		if fe, ferr := c.load(full); ferr == nil && (e == nil || fe.FetchedAt.After(e.FetchedAt)) {
			e, err = fe, nil
		}
	}
	if err != nil {
		return nil, err
	}
	e.Age = max(c.now().Sub(e.FetchedAt), 0)
	if e.Age > maxAge {
		return nil, &TooOldError{Key: k, Age: e.Age, MaxAge: maxAge}
	}
	return e, nil
}

func (c *Cache) load(k Key) (*Entry, error) {
	path := c.Path(k)
	data, mtime, err := readOwn(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w for %s in %s", ErrNoEntry, k.Service, c.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w for %s: %v", ErrNoEntry, k.Service, err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w for %s: %s unreadable: %v", ErrNoEntry, k.Service, path, err)
	}
	if f.Key != k {
		return nil, fmt.Errorf("%w for %s: %s was written for %s", ErrNoEntry, k.Service, path, f.Key)
	}
	ps := make([]registry.Provider, len(f.Providers))
	for i, r := range f.Providers {
		ps[i] = r.Provider
		ps[i].Name = r.Name
		ps[i].FieldsOnly = k.FieldsOnly
	}
	return &Entry{Key: k, Providers: ps, FetchedAt: mtime.UTC()}, nil
}
