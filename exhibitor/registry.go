package exhibitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// OpenFunc opens the backend on one ensemble (the ZooKeeper backend, with
// the chroot and root of the registry URL). To follow membership changes
// the backend must be a ServerUpdater.
type OpenFunc func(ctx context.Context, servers []string) (registry.Registry, error)

// ServerUpdater is a backend whose server list can be replaced while its
// session lives (registry/zk's Registry).
type ServerUpdater interface {
	// UpdateServers switches to servers within ctx, or returns an error
	// and stays on the current ones.
	UpdateServers(ctx context.Context, servers []string) error
}

// RegistryOptions configure OpenRegistry.
type RegistryOptions struct {
	Resolver *Resolver
	Open     OpenFunc
	// Poll is how often Exhibitor is asked again; 0 never. A changed
	// membership is handed to the backend in place.
	Poll time.Duration
	// Timeout bounds each poll, and each connection attempt when ctx has
	// no deadline.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Registry is the backend on the ensemble Exhibitor names, following the
// ensemble's membership as Exhibitor reports it.
//
// A membership change is handed to the backend's connection in place
// (ServerUpdater): the session, its registrations with their timestamps,
// and its watches carry over, so nothing is re-registered and no rendered
// file changes. Only a session the new servers reject (a different
// ensemble) is replaced; the backend then re-registers every provider on
// the new session, as after any session expiry.
//
// Only an answer from Exhibitor itself changes the servers, and only when
// at least one of them accepts a TCP connection and (if the client has to
// leave its server) the backend gets a session from them: a poll that falls
// back to the cache or the backup list is not news about the ensemble, and
// moving a running process to servers it cannot use would be an outage of
// its own.
type Registry struct {
	registry.Registry // the backend

	o      RegistryOptions
	log    *slog.Logger
	hosts  ServerUpdater   // nil when the backend cannot follow changes
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the poller has stopped

	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	ensemble *Ensemble
}

var _ registry.Registry = (*Registry)(nil)

// OpenRegistry finds the ensemble (Exhibitor → cache → backup), connects
// to it and starts polling. A source whose ensemble cannot be reached is
// passed over for the next one, and the source used is logged.
func OpenRegistry(ctx context.Context, o RegistryOptions) (*Registry, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	cur, ens, err := openChain(ctx, o)
	if err != nil {
		return nil, err
	}
	w := &Registry{Registry: cur, o: o, log: o.Logger, ensemble: ens, done: make(chan struct{})}
	w.hosts, _ = cur.(ServerUpdater)
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if o.Poll > 0 && w.hosts != nil {
		go w.pollLoop()
	} else {
		if o.Poll > 0 {
			w.log.Warn("this backend cannot follow ensemble changes; not polling Exhibitor")
		}
		close(w.done)
	}
	return w, nil
}

// Current is the backend the registry wraps. Coordination (locks,
// elections, leader detection) lives on the backend's session, so commands
// unwrap to reach it; the backend stays the same object for the life of
// the Registry (a membership change is handed to it in place, and a session
// it has to replace takes its holds with it: they are lost, never moved).
func (w *Registry) Current() registry.Registry { return w.Registry }

// openChain connects to the first ensemble of the chain that it can reach.
// Each attempt gets an equal share of the time left (o.Timeout each without
// a deadline). Only a connection failure moves on to the next source: no
// server accepting TCP connections (known at once, where the backend would
// retry until its deadline) or the backend reporting registry.ErrUnreachable.
// Any other error (a missing chroot) is returned as it is.
func openChain(ctx context.Context, o RegistryOptions) (registry.Registry, *Ensemble, error) {
	cands, err := o.Resolver.Candidates(ctx)
	if err != nil {
		return nil, nil, err
	}
	var msgs []string
	for i, ens := range cands {
		actx, cancel := attemptContext(ctx, o.Timeout, len(cands)-i)
		cur, err := openOne(actx, o.Open, ens.Servers)
		cancel()
		if err == nil {
			o.Resolver.Remember(ens)
			level := slog.LevelWarn // a fallback is news
			if ens.Source == SourceExhibitor {
				level = slog.LevelDebug
			}
			o.Logger.Log(ctx, level, "using the ZooKeeper ensemble from the "+ens.Source,
				"origin", ens.Origin, "servers", strings.Join(ens.Servers, ","))
			return cur, ens, nil
		}
		if !errors.Is(err, registry.ErrUnreachable) {
			return nil, nil, fmt.Errorf("ensemble from %s (%s): %w", ens.Source, ens.Origin, err)
		}
		msgs = append(msgs, fmt.Sprintf("%s %s (%s): %s", ens.Source, strings.Join(ens.Servers, ","), ens.Origin, err))
		if ctx.Err() != nil {
			break
		}
		if i+1 < len(cands) {
			o.Logger.Warn("cannot reach the ensemble from the "+ens.Source+"; trying the "+cands[i+1].Source,
				"servers", strings.Join(ens.Servers, ","), "reason", err.Error())
		}
	}
	return nil, nil, exitcode.New(exitcode.Unreachable, fmt.Errorf("no ZooKeeper ensemble could be reached (%w): %s",
		registry.ErrUnreachable, strings.Join(msgs, " | ")))
}

// errNoListener marks an ensemble none of whose servers accepts a TCP
// connection; it counts as unreachable.
type errNoListener struct{ err error }

func (e errNoListener) Error() string        { return "no server accepts connections: " + oneLine(e.err) }
func (e errNoListener) Is(target error) bool { return target == registry.ErrUnreachable }

// openOne opens the backend on servers unless none of them accepts a TCP
// connection.
func openOne(ctx context.Context, open OpenFunc, servers []string) (registry.Registry, error) {
	if err := anyReachable(ctx, servers); err != nil {
		return nil, errNoListener{err}
	}
	return open(ctx, servers)
}

// oneLine flattens a joined error for a one-line message.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

func attemptContext(ctx context.Context, each time.Duration, left int) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok {
		return context.WithTimeout(ctx, each)
	}
	return context.WithTimeout(ctx, time.Until(d)/time.Duration(left))
}

// Ensemble is the ensemble the registry is on now.
func (w *Registry) Ensemble() Ensemble {
	w.mu.Lock()
	defer w.mu.Unlock()
	return *w.ensemble
}

// pollLoop asks Exhibitor every Poll, give or take 10%: a fleet started
// at once (a data-center power-on) would otherwise poll in lockstep.
func (w *Registry) pollLoop() {
	defer close(w.done)
	for {
		jitter := time.Duration(rand.Int64N(int64(w.o.Poll)/5+1)) - w.o.Poll/10
		t := time.NewTimer(w.o.Poll + jitter)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(w.ctx, w.o.Timeout)
		w.poll(ctx)
		cancel()
	}
}

func (w *Registry) poll(ctx context.Context) {
	ens, err := w.o.Resolver.Fetch(ctx)
	if err != nil {
		if w.ctx.Err() == nil {
			w.log.Warn("Exhibitor poll failed; staying on the current ensemble", "reason", err.Error())
		}
		return
	}
	old := w.Ensemble()
	if slices.Equal(ens.Servers, old.Servers) {
		if old.Source != SourceExhibitor {
			w.setEnsemble(ens) // the same servers, now confirmed by Exhibitor
		}
		w.o.Resolver.Remember(ens)
		return
	}
	if err := anyReachable(ctx, ens.Servers); err != nil {
		if w.ctx.Err() == nil {
			w.log.Warn("Exhibitor names servers none of which can be reached; staying on the current ensemble",
				"servers", strings.Join(ens.Servers, ","), "reason", oneLine(err))
		}
		return
	}
	w.log.Warn("ZooKeeper ensemble membership changed; following it on the same session",
		"from", strings.Join(old.Servers, ","), "to", strings.Join(ens.Servers, ","))
	if err := w.hosts.UpdateServers(ctx, ens.Servers); err != nil {
		if w.ctx.Err() == nil {
			w.log.Warn("the new servers give no session; staying on the current ensemble, will retry at the next poll",
				"err", err)
		}
		return
	}
	w.setEnsemble(ens)
	w.o.Resolver.Remember(ens)
}

func (w *Registry) setEnsemble(ens *Ensemble) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ensemble = ens
}

// anyReachable returns nil once one of servers accepts a TCP connection.
// The servers are dialled at once, so one black-holed host does not use
// up ctx.
func anyReachable(ctx context.Context, servers []string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", s)
			if err == nil {
				c.Close()
			}
			results <- err
		}()
	}
	var errs []error
	for range servers {
		err := <-results
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close stops polling, then closes the backend (which deregisters what it
// holds). Closing again returns the first Close's result.
func (w *Registry) Close() error {
	w.closeOnce.Do(func() {
		w.cancel()
		<-w.done
		w.closeErr = w.Registry.Close()
	})
	return w.closeErr
}
