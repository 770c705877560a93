package templates

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
)

// Data is what a template reads. Each lookup says whether the data has been
// fetched yet; a template that asks for data not yet fetched is not
// rendered (its missing data is fetched first), so a file is never written
// from a partial view of the registry.
type Data interface {
	// Providers returns a service's providers, oldest first, including
	// those in maintenance (the template functions decide what to show).
	Providers(service string) (ps []registry.Provider, fetched bool)
	// Services returns every service name, sorted.
	Services() (names []string, fetched bool)
	// Ensemble returns the ZooKeeper connection string.
	Ensemble() (string, error)
}

// Template is a parsed template file with its stanza.
type Template struct {
	Spec
	tmpl *template.Template

	mu sync.Mutex
	// stuck is the render-timeout error of an execution still running in
	// the background; executions fail fast with it until Apply clears it.
	stuck error
}

// Load reads and parses spec.Source. Syntax errors and unknown functions
// name the file and line.
func Load(spec Spec) (*Template, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	src, err := readSource(spec.Source, spec.maxSize())
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", spec.Source, err)
	}
	t, err := template.New(spec.Source).Option("missingkey=error").
		Funcs(funcMap(nil, spec)).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parse %w", err) // "template: FILE:LINE: ..."
	}
	return &Template{Spec: spec, tmpl: t}, nil
}

// Execution is the outcome of executing a template against Data.
type Execution struct {
	// Contents are the rendered bytes; valid only when Complete.
	Contents []byte
	// Complete is true when every lookup found fetched data.
	Complete bool
	// Services are the services the template (and its min_providers) read.
	Services []string
	// Missing are the services whose data was not yet fetched.
	Missing []string
	// Leaders are the election groups the template read with `leader`.
	Leaders []string
	// UsesCatalog is true when the template called `services`.
	UsesCatalog bool
	// MissingCatalog is true when `services` was called before the service
	// list was fetched.
	MissingCatalog bool
}

// Execute renders the template against d. An error is a template error
// (naming file and line) met while every lookup so far had its data; an
// error met while data was missing is expected (e.g. indexing an empty
// list) and only means "fetch first". Execution is bounded: past
// RenderTimeout or MaxSize it stops with an error and no contents.
func (t *Template) Execute(d Data) (*Execution, error) {
	if err := t.stuckErr(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.renderTimeout())
	defer cancel()
	rec := &recorder{ctx: ctx, data: d, used: map[string]bool{}, missing: map[string]bool{}, leaders: map[string]bool{}}
	for svc := range t.MinProviders {
		rec.need(svc)
	}
	tmpl, err := t.tmpl.Clone()
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", t.Source, err)
	}
	out := &boundedBuffer{ctx: ctx, max: t.maxSize()}
	done := make(chan error, 1)
	go func() { done <- tmpl.Funcs(funcMap(rec, t.Spec)).Execute(out, nil) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		select {
		case err = <-done: // finished just in time
		default:
			// text/template cannot be interrupted: the execution stops at
			// its next write or svcdisco function call, which now fail.
			err = ctx.Err()
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("template %s: rendering took longer than %s; stopped: %w", t.Source, t.renderTimeout(), context.DeadlineExceeded)
		t.setStuck(err)
		return nil, err
	case errors.Is(err, errTooLarge):
		return nil, exitcode.Usagef("template %s: output larger than %d bytes (max_size); stopped", t.Source, t.maxSize())
	}
	ex := &Execution{
		Services:       keys(rec.used),
		Missing:        keys(rec.missing),
		Leaders:        keys(rec.leaders),
		UsesCatalog:    rec.catalog,
		MissingCatalog: rec.missingCatalog,
	}
	ex.Complete = len(ex.Missing) == 0 && !ex.MissingCatalog
	if !ex.Complete {
		return ex, nil
	}
	if err != nil {
		return ex, fmt.Errorf("render %w", err)
	}
	ex.Contents = out.buf.Bytes()
	return ex, nil
}

func (t *Template) stuckErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stuck
}

func (t *Template) setStuck(err error) {
	t.mu.Lock()
	t.stuck = err
	t.mu.Unlock()
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// recorder answers a template's lookups from Data and remembers what was
// asked for, so the caller knows what to fetch and what to watch.
type recorder struct {
	ctx                     context.Context // the render deadline
	data                    Data
	used, missing           map[string]bool
	leaders                 map[string]bool // groups read with `leader`
	catalog, missingCatalog bool
}

func (r *recorder) need(svc string) ([]registry.Provider, bool) {
	r.used[svc] = true
	ps, ok := r.data.Providers(svc)
	if !ok {
		r.missing[svc] = true
	}
	return ps, ok
}

// providers is all_providers_for_service: oldest first, optionally filtered
// by attribute (key=value or key!=value, all must match). Providers in
// maintenance are left out, as `svcdisco query` leaves them out. A service
// without providers is an empty list (guard with min_providers).
func (r *recorder) providers(svc string, filters ...string) ([]registry.Provider, error) {
	ps, err := r.providersAll(svc, filters...)
	if err != nil {
		return nil, err
	}
	return withoutMaintenance(ps), nil
}

// providersAll is providers including the providers in maintenance (with
// .Status "maintenance"), for templates that mark them, e.g. nginx's
// `server … down;`.
func (r *recorder) providersAll(svc string, filters ...string) ([]registry.Provider, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	if err := registry.ValidateService(svc); err != nil {
		return nil, err
	}
	o := query.Options{Service: svc}
	for _, s := range filters {
		f, err := query.ParseFilter(s)
		if err != nil {
			return nil, err
		}
		o.Where = append(o.Where, f)
	}
	ps, _ := r.need(svc)
	return query.Apply(ps, o), nil
}

// provider is provider_for_service: the newest provider not in
// maintenance, or nil when there is none (`{{ with provider "api" }}`).
// While the service is not fetched yet it is an empty provider, so the
// execution goes on and records what else the template reads.
func (r *recorder) provider(svc string) (*registry.Provider, error) {
	ps, err := r.providers(svc)
	switch {
	case err != nil:
		return nil, err
	case len(ps) > 0:
		return &ps[len(ps)-1], nil
	case r.missing[svc]:
		return &registry.Provider{}, nil
	}
	return nil, nil
}

// withTag keeps the providers carrying tag: `providers "web" | withTag "v2"`.
func withTag(tag string, ps []registry.Provider) ([]registry.Provider, error) {
	if err := registry.ValidateTag(tag); err != nil {
		return nil, fmt.Errorf("withTag: %w", err)
	}
	return query.Apply(ps, query.Options{Tags: []string{tag}}), nil
}

// withoutMaintenance returns the providers not in maintenance (ps itself
// when none is).
func withoutMaintenance(ps []registry.Provider) []registry.Provider {
	for i, p := range ps {
		if p.Status != registry.StatusMaintenance {
			continue
		}
		out := append(make([]registry.Provider, 0, len(ps)-1), ps[:i]...)
		for _, q := range ps[i+1:] {
			if q.Status != registry.StatusMaintenance {
				out = append(out, q)
			}
		}
		return out
	}
	return ps
}

func (r *recorder) services() ([]string, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	r.catalog = true
	names, ok := r.data.Services()
	if !ok {
		r.missingCatalog = true
	}
	return names, nil
}

// funcMap is sprig's hermetic set (no env, no randomness, no clock — so the
// same providers always render the same bytes) plus svcdisco's functions.
// With r == nil it only declares the names, for parsing. The stanza's
// sandbox (sandbox.go) applies last.
func funcMap(r *recorder, spec Spec) template.FuncMap {
	m := template.FuncMap(sprig.HermeticTxtFuncMap())
	boundedFuncs(m, spec.maxSize())
	if r == nil {
		r = &recorder{ctx: context.Background(), data: emptyData{}, used: map[string]bool{}, missing: map[string]bool{}}
	}
	m["providers"] = r.providers
	m["providersAll"] = r.providersAll
	m["provider"] = r.provider
	m["withTag"] = withTag
	m["services"] = r.services
	m["leader"] = r.leader
	m["ensemble"] = r.data.Ensemble
	m["env"] = os.Getenv
	sandbox(m, spec)
	return m
}

type emptyData struct{}

func (emptyData) Providers(string) ([]registry.Provider, bool) { return nil, false }
func (emptyData) Services() ([]string, bool)                   { return nil, false }
func (emptyData) Ensemble() (string, error)                    { return "", nil }
