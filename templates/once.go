package templates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/query"
	"github.com/svcdisco/svcdisco/registry"
)

// Options configure a run, once or watching.
type Options struct {
	Templates []*Template
	// Open connects to the registry. Once calls it within its deadline;
	// Watch calls it until it succeeds.
	Open func(ctx context.Context) (registry.Registry, error)
	// Ensemble answers the `ensemble` function; nil renders "".
	Ensemble func() (string, error)
	// DryRun prints diffs instead of writing (see ApplyOptions).
	DryRun bool
	// CommandOutput receives reload commands' output.
	CommandOutput io.Writer
	// CommandTimeout bounds each check and reload command (default 1m).
	CommandTimeout time.Duration
	Logger         *slog.Logger
	// CatalogInterval is how often watch mode re-reads the service list
	// for templates that call `services` (default 30s).
	CatalogInterval time.Duration
	// Settle is watch mode's settle window (see settle.go); 0: none.
	Settle time.Duration
	// OnResult, if set, is called after every pass over a template (watch
	// mode tests and benchmarks count renders with it).
	OnResult func(Result)
	// Answers, when set, keeps every service fetched in the answer cache;
	// with StaleOK, Once renders from cached answers the services it could
	// not fetch because the registry could not be reached (exit 6).
	Answers *query.Answers
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

func (o *Options) catalogInterval() time.Duration {
	if o.CatalogInterval <= 0 {
		return 30 * time.Second
	}
	return o.CatalogInterval
}

func (o *Options) apply(ctx context.Context, t *Template, d Data) Result {
	return t.Apply(ctx, d, ApplyOptions{DryRun: o.DryRun, CommandOutput: o.CommandOutput, CommandTimeout: o.CommandTimeout})
}

// maxPasses bounds dependency discovery: each pass fetches what the
// previous one found missing (a template ranging over `services` needs the
// list first, then each service).
const maxPasses = 8

// Once is the converge-time mode: connect, fetch everything the templates
// read, render, write, run commands, return one Result per template. ctx
// is the hard deadline for connecting and fetching; when it passes, the
// templates still missing data are refused (exit 4) naming the services
// not fetched, while complete ones are still written. The returned error
// is the first refusal (or failed command), carrying its exit code.
func Once(ctx context.Context, o Options) ([]Result, error) {
	store := NewStore(o.Ensemble)
	store.Answers = o.Answers
	reg, err := o.Open(ctx)
	if exitcode.Of(err) == exitcode.Usage { // a bad registry URL: no template can help
		return nil, err
	}
	var fetchErr error
	if err != nil {
		fetchErr = err
	} else {
		defer reg.Close()
		store.useDetector(reg)
		fetchErr = fetchAll(ctx, reg, store, o.Templates, o.logger())
		if fetchErr != nil {
			o.logger().Warn("fetching did not complete", "err", fetchErr)
		}
	}
	var stale map[string]string
	if fetchErr != nil {
		stale = fillStale(o, store, fetchErr)
	}
	// Writes and commands must not be cut short by the fetch deadline: a
	// complete file is better put in place than dropped.
	wctx := context.WithoutCancel(ctx)
	results := make([]Result, 0, len(o.Templates))
	for _, t := range o.Templates {
		res := o.apply(wctx, t, store)
		if res.Execution != nil && !res.Execution.Complete && fetchErr != nil {
			res = res.refuse(exitcode.Unreachable, notFetched(fetchErr, res.Execution))
		}
		results = append(results, markStale(res, stale))
	}
	return results, FirstError(results)
}

// notFetched explains a refusal for missing data after fetching failed.
func notFetched(err error, ex *Execution) error {
	what := strings.Join(strings.Fields(err.Error()), " ")
	if errors.Is(err, context.DeadlineExceeded) {
		what = "deadline passed"
	}
	return fmt.Errorf("%s; not fetched: %s", what, ex.missingList())
}

// FirstError is the first result's error, as "template SRC: reason", or nil.
// A stale answer (exit 6) is only a warning: it decides only when nothing
// else went wrong.
func FirstError(results []Result) error {
	var stale error
	for _, r := range results {
		switch {
		case r.Code == exitcode.Stale && stale == nil:
			stale = exitcode.New(r.Code, fmt.Errorf("template %s: %s", r.Source, r.Reason))
		case r.Code != exitcode.OK && r.Code != exitcode.Stale:
			return exitcode.New(r.Code, fmt.Errorf("template %s: %s", r.Source, r.Reason))
		}
	}
	return stale
}

// fetchAll executes every template against the store and fetches what is
// missing, until nothing is or ctx ends. A failed fetch is retried until
// then: a connection lost mid-fetch usually comes back (to another member
// of the ensemble) well within the deadline, and giving up at the first
// hiccup is what makes other tools leave configs stale.
func fetchAll(ctx context.Context, reg registry.Registry, store *Store, ts []*Template, log *slog.Logger) error {
	var lastErr error
	backoff := 50 * time.Millisecond
	for pass := 0; pass < maxPasses; {
		missing, catalog := map[string]bool{}, false
		for _, t := range ts {
			ex, _ := t.Execute(store)
			if ex == nil {
				continue
			}
			for _, svc := range ex.Missing {
				missing[svc] = true
			}
			catalog = catalog || ex.MissingCatalog
		}
		if len(missing) == 0 && !catalog {
			return nil
		}
		err := fetch(ctx, reg, store, keys(missing), catalog)
		switch {
		case err == nil:
			pass++
			continue
		case ctx.Err() != nil:
			if lastErr != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
			}
			return ctx.Err()
		}
		lastErr = err
		log.Debug("fetch failed; retrying until the deadline", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	return nil
}

// fetch fetches services (and the service list) concurrently: ZooKeeper
// pipelines the requests over one connection.
func fetch(ctx context.Context, reg registry.Registry, store *Store, services []string, catalog bool) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	add := func(err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for _, svc := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			add(store.FetchService(ctx, reg, svc))
		}()
	}
	if catalog {
		wg.Add(1)
		go func() {
			defer wg.Done()
			add(store.FetchServices(ctx, reg))
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}
