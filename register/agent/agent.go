package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/svcdisco/svcdisco/register"
	"github.com/svcdisco/svcdisco/registry"
)

// Agent holds the providers a directory declares, all on one registry (one
// session on ZooKeeper).
type Agent struct {
	Dir      string
	Registry registry.Registry
	Defaults Defaults
	// Timeout bounds each registry call.
	Timeout time.Duration
	// Quiet is how long Run waits after the last file event before it
	// reads the directory (DefaultQuiet when zero).
	Quiet  time.Duration
	Logger *slog.Logger
	// Reload, when set, is called on SIGHUP and once ConfigFile changes
	// (debounced like the directory), before the directory is reconciled:
	// the agent's own settings (the registry's mirror) are re-read there.
	Reload     func(ctx context.Context)
	ConfigFile string

	running map[string]*entry // by file path
}

type entry struct {
	spec        Spec
	fingerprint string
	cancel      context.CancelFunc
	done        chan struct{}
	registered  chan struct{} // closed at the first registration
}

// Result says what a reconcile did, by file path.
type Result struct {
	Added, Removed, Changed, Unchanged []string
	// Invalid files were skipped. One that was valid before keeps its
	// previous provider: a half-written file must not deregister a
	// healthy service.
	Invalid []FileError
}

// Reconcile makes the running providers match the directory: added files
// register, removed files deregister, changed files re-register, and
// untouched providers are not touched at all (no flapping of their
// znodes). A changed file's new provider is registered before the old one
// is removed (make before break), so for a moment both are listed; it
// returns once the old ones are gone.
func (a *Agent) Reconcile(ctx context.Context) (Result, error) {
	return a.reconcileUntil(ctx, ctx)
}

// reconcileUntil is Reconcile whose providers live in ctx and whose wait
// for handovers ends early when stop is done.
func (a *Agent) reconcileUntil(ctx, stop context.Context) (Result, error) {
	if a.running == nil {
		a.running = map[string]*entry{}
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	specs, problems, err := LoadDir(a.Dir, a.Defaults)
	if err != nil {
		return Result{}, err
	}
	res := Result{Invalid: problems}
	invalid := map[string]bool{}
	for _, p := range problems {
		invalid[p.File] = true
		a.Logger.Error("skipping provider file", "file", p.File, "reason", p.Err)
	}
	for path, e := range a.running {
		if _, ok := specs[path]; !ok && !invalid[path] {
			a.stop(e)
			delete(a.running, path)
			res.Removed = append(res.Removed, path)
		}
	}
	var hs []handover
	for path, spec := range specs {
		fp := fingerprint(spec)
		e, ok := a.running[path]
		switch {
		case ok && e.fingerprint == fp:
			res.Unchanged = append(res.Unchanged, path)
			continue
		case ok:
			a.warnDefaults(path, e.spec, spec)
			res.Changed = append(res.Changed, path)
		default:
			res.Added = append(res.Added, path)
		}
		a.running[path] = a.start(ctx, path, spec, fp)
		if ok {
			bound := a.handoverBound(spec)
			hs = append(hs, handover{path: path, old: e, new: a.running[path], bound: bound, deadline: time.Now().Add(bound)})
		}
	}
	a.finish(stop, hs)
	for _, l := range [][]string{res.Added, res.Removed, res.Changed, res.Unchanged} {
		sort.Strings(l)
	}
	a.Logger.Info("reconciled", "dir", a.Dir, "added", len(res.Added), "removed", len(res.Removed),
		"changed", len(res.Changed), "unchanged", len(res.Unchanged), "invalid", len(res.Invalid))
	return res, nil
}

func fingerprint(s Spec) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// start holds one provider until its entry is stopped. Registration
// failures are retried: the agent is a daemon and the registry may come
// back.
func (a *Agent) start(ctx context.Context, path string, spec Spec, fp string) *entry {
	ctx, cancel := context.WithCancel(ctx)
	e := &entry{spec: spec, fingerprint: fp, cancel: cancel, done: make(chan struct{}), registered: make(chan struct{})}
	var once sync.Once
	retry := 2 * time.Second
	if spec.Check != nil {
		retry = spec.Check.Interval
	}
	log := a.Logger.With("file", path)
	go func() {
		defer close(e.done)
		err := register.Keep(ctx, register.KeepInput{
			Registry:   a.Registry,
			Provider:   spec.Provider,
			Check:      spec.Check,
			Timeout:    a.Timeout,
			RetryEvery: retry,
			Logger:     log,
			OnChange: func(up bool, p registry.Provider) {
				if up {
					once.Do(func() { close(e.registered) })
					log.Info("registered", "service", p.Service, "id", p.ID, "addr", p.Addr(), "status", p.Status)
				} else {
					log.Info("deregistered", "service", p.Service, "id", p.ID)
				}
			},
		})
		if err != nil {
			log.Error("provider stopped", "err", err)
		}
	}()
	return e
}

func (a *Agent) stop(e *entry) {
	e.cancel()
	<-e.done
}

// StopAll deregisters every provider (SIGTERM: deregister first).
func (a *Agent) StopAll() {
	for _, e := range a.running { // all at once: deregistrations overlap
		e.cancel()
	}
	for _, e := range a.running {
		<-e.done
	}
	a.running = nil
}

// Run reconciles now, then on every signal from reload (SIGHUP) and every
// change in the directory, until ctx is done; then it deregisters
// everything. File events are debounced: the directory is read once no
// event came for Quiet (so a file being written is not read half-way,
// and bursts like Chef converging several files make one reconcile), but
// at the latest 5×Quiet after the first event, so a directory that never
// stays quiet is still read.
func (a *Agent) Run(ctx context.Context, reload <-chan os.Signal) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(a.Dir); err != nil {
		return err
	}
	if a.ConfigFile != "" {
		// Its directory, not the file: editors and config management
		// replace the file by a rename, which ends a watch on the file.
		if err := w.Add(filepath.Dir(a.ConfigFile)); err != nil {
			a.Logger.Warn("not watching the config file; SIGHUP reloads it", "file", a.ConfigFile, "err", err)
		}
	}
	configChanged := false
	// Providers outlive Run's ctx only until StopAll; their own contexts
	// are not derived from ctx so that StopAll deregisters in order.
	pctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer a.StopAll()
	if _, err := a.reconcileUntil(pctx, ctx); err != nil {
		return err
	}
	var d debounce
	defer d.stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reload:
			a.Logger.Info("SIGHUP: reloading", "dir", a.Dir)
			d.stop()
			configChanged = false
			a.reloadConfig(ctx)
			a.reconcile(pctx, ctx)
		case ev, ok := <-w.Events:
			if ok && a.isConfigFile(ev.Name) {
				configChanged = true
				d.event(a.quiet())
			} else if ok && IsProviderFile(ev.Name) && filepath.Dir(ev.Name) == filepath.Clean(a.Dir) {
				d.event(a.quiet())
			}
		case err, ok := <-w.Errors:
			if ok {
				a.Logger.Warn("watching the config dir", "dir", a.Dir, "err", err)
			}
		case <-d.quietC():
			d.stop()
			a.reloadIf(ctx, &configChanged)
			a.reconcile(pctx, ctx)
		case <-d.limitC():
			d.stop()
			a.reloadIf(ctx, &configChanged)
			a.reconcile(pctx, ctx)
		}
	}
}

func (a *Agent) quiet() time.Duration {
	if a.Quiet > 0 {
		return a.Quiet
	}
	return DefaultQuiet
}

func (a *Agent) reloadConfig(ctx context.Context) {
	if a.Reload != nil {
		a.Reload(ctx)
	}
}

// reloadIf reloads the configuration when its file changed.
func (a *Agent) reloadIf(ctx context.Context, changed *bool) {
	if *changed {
		*changed = false
		a.Logger.Info("config file changed: reloading", "file", a.ConfigFile)
		a.reloadConfig(ctx)
	}
}

func (a *Agent) isConfigFile(name string) bool {
	return a.ConfigFile != "" && filepath.Clean(name) == filepath.Clean(a.ConfigFile)
}

func (a *Agent) reconcile(ctx, stop context.Context) {
	if _, err := a.reconcileUntil(ctx, stop); err != nil {
		a.Logger.Error("reconcile failed; keeping the running providers", "err", err)
	}
}
