package register

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/svcdisco/svcdisco/internal/metrics"
	"github.com/svcdisco/svcdisco/register/check"
	"github.com/svcdisco/svcdisco/registry"
)

// HealthOf maps a probe's result onto a backend's health states:
//
//	up, probe passed                passing
//	up, probe failed (< fall)       passing, the output counting the failures
//	down, probe passed (< rise)     warning: recovering, still out of rotation
//	down, probe failed              critical
//
// Listings keep passing providers only (as consul-template's `service`
// does by default), so a warning provider gets no traffic until rise is
// met, exactly when a backend without a health model would register it.
func HealthOf(r check.Result) registry.Health {
	h := registry.Health{Check: r.Check}
	switch {
	case r.Up && r.Pass:
		h.Status, h.Output = registry.HealthPassing, r.Check+": passing"
	case r.Up:
		h.Status = registry.HealthPassing
		h.Output = fmt.Sprintf("%s: failed %d of %d times before critical: %v", r.Check, r.Streak, r.Need, r.Err)
	case r.Pass:
		h.Status = registry.HealthWarning
		h.Output = fmt.Sprintf("%s: passed %d of %d times before passing", r.Check, r.Streak, r.Need)
	default:
		h.Status, h.Output = registry.HealthCritical, fmt.Sprintf("%s: %v", r.Check, r.Err)
	}
	return h
}

// keepHealth is Keep on a backend with a health model: the provider is
// registered at once, with its check not passing until the first probes pass,
// and each probe's state and output are reported to the backend instead of
// deregistering on failure. OnChange hears of the registration when the
// check is first reported passing (when listings start to list it), and of
// the deregistration when Keep stops.
func keepHealth(ctx context.Context, in KeepInput, hr registry.HealthRegistry, log *slog.Logger) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan check.Result, 1)
	go func() {
		_ = check.Probe(cctx, *in.Check, log, func(r check.Result) {
			metrics.CheckObserved(in.Provider.Service, r.Pass, r.Took)
			select { // only the latest result counts
			case <-results:
			default:
			}
			results <- r
		})
	}()
	target := in.Check.Target
	// Starting is "warning" (not passing, so not listed), as rising is:
	// the first probe's failure is then a change of state, which Consul
	// sends to its servers at once with the output, where an output change
	// alone waits for the agent's check_update_interval (minutes).
	want := registry.Health{Check: target, Status: registry.HealthWarning, Output: target + ": waiting for the first probes"}
	k := healthKeeper{in: in, hr: hr, log: log}
	var retry <-chan time.Time
	for {
		if err := k.sync(ctx, want); err != nil {
			if ctx.Err() != nil {
				break
			}
			if in.RetryEvery <= 0 {
				return err
			}
			log.Warn("registration failed; retrying", "err", err, "retry_in", in.RetryEvery)
			retry = time.After(in.RetryEvery)
		}
		select {
		case <-ctx.Done():
		case r := <-results:
			want = HealthOf(r)
			continue
		case <-retry:
			continue
		}
		break
	}
	if err := k.down(); err != nil {
		log.Warn("stopping without deregistering: the registry did not answer; the provider drops out once its TTL check lapses", "err", err)
	}
	return nil
}

type healthKeeper struct {
	in   KeepInput
	hr   registry.HealthRegistry
	log  *slog.Logger
	reg  registry.HealthRegistration
	sent registry.Health // the health last reported
	// listed is set once the provider was first reported passing: OnChange
	// hears of the registration then, when queries list it (the agent's
	// make-before-break waits for that, not for a critical instance).
	listed bool
}

// sync registers the provider if it is not yet, and reports want when it
// differs from what was reported last.
func (k *healthKeeper) sync(ctx context.Context, want registry.Health) error {
	rctx, cancel := context.WithTimeout(ctx, k.in.Timeout)
	defer cancel()
	if k.reg == nil {
		reg, err := k.hr.RegisterWithHealth(rctx, k.in.Provider, want)
		if err != nil {
			return fmt.Errorf("register %s: %w", k.in.Provider.Service, err)
		}
		k.reg, k.sent = reg, want
		k.log.Info("registered; its check is reported to the registry", "check", want.Check, "state", want.Status)
		k.listedOnce()
		return nil
	}
	if want == k.sent {
		return nil
	}
	if want.Status != k.sent.Status {
		k.log.Info("health check state reported", "check", want.Check, "state", want.Status, "output", want.Output)
	}
	if err := k.reg.SetHealth(rctx, want); err != nil {
		return fmt.Errorf("report health of %s: %w", k.in.Provider.Service, err)
	}
	k.sent = want
	k.listedOnce()
	return nil
}

// listedOnce tells OnChange of the registration the first time it is
// reported passing.
func (k *healthKeeper) listedOnce() {
	if k.listed || k.sent.Status != registry.HealthPassing {
		return
	}
	k.listed = true
	if k.in.OnChange != nil {
		k.in.OnChange(true, k.reg.Provider())
	}
}

func (k *healthKeeper) down() error {
	if k.reg == nil {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.Background(), k.in.Timeout)
	defer cancel()
	err := k.reg.Deregister(dctx)
	cur := k.reg.Provider()
	k.reg = nil
	if err != nil {
		return fmt.Errorf("deregister %s: %w", k.in.Provider.Service, err)
	}
	if k.in.OnChange != nil && k.listed {
		k.in.OnChange(false, cur)
	}
	return nil
}
