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

// KeepInput is what Keep holds and how.
type KeepInput struct {
	Registry registry.Registry
	Provider registry.Provider
	// Check gates the registration: the provider is registered only while
	// the check is up (after Rise passes) and deregistered when it goes
	// down (after Fall failures). Nil: registered for as long as Keep runs.
	Check *check.Config
	// Timeout bounds each registry call.
	Timeout time.Duration
	// RetryEvery, when positive, makes a failed registration a logged
	// warning retried after this long, instead of Keep's error. Daemons
	// (the agent, a wrapped command) retry; `register` alone fails fast.
	RetryEvery time.Duration
	Logger     *slog.Logger
	// OnChange is told of every registration (with the provider as
	// registered) and deregistration (registered false). Optional.
	OnChange func(registered bool, p registry.Provider)
}

// Keep registers the provider while it should be (always, or while its
// check is up) until ctx is done. On a backend with a health model
// (registry.HealthRegistry: Consul) a provider with a check is registered
// at once and its check's state is reported there instead (HealthOf); a
// failing check does not deregister it.
//
// When ctx is done Keep deregisters first and returns nil — also when the
// registry does not answer then (logged: the provider drops out when its
// session or TTL check expires), since the stop itself went as asked.
// OnChange hears of a deregistration only once it is done. Each time the
// check comes back up the provider is registered anew, with a new
// timestamp: it is a new period of service. A status set while
// registered (maintenance) is carried over to the next registration.
func Keep(ctx context.Context, in KeepInput) error {
	if in.Logger == nil {
		in.Logger = slog.Default()
	}
	if in.Timeout <= 0 {
		in.Timeout = 10 * time.Second
	}
	log := in.Logger.With("service", in.Provider.Service)
	if hr, ok := in.Registry.(registry.HealthRegistry); ok && in.Check != nil {
		return keepHealth(ctx, in, hr, log)
	}
	want := make(chan bool, 1)
	if in.Check == nil {
		want <- true
	} else {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			observe := func(pass bool, took time.Duration) { metrics.CheckObserved(in.Provider.Service, pass, took) }
			_ = check.RunObserved(cctx, *in.Check, log, observe, func(up bool) {
				select { // only the latest wish counts
				case <-want:
				default:
				}
				want <- up
			})
		}()
	}
	k := keeper{in: in, log: log, p: in.Provider}
	var retry <-chan time.Time
	up := false
	for {
		select {
		case <-ctx.Done():
			if err := k.down(); err != nil {
				// Asked to stop: the registry will drop the provider on its
				// own, so this is not a failure of the stop.
				log.Warn("stopping without deregistering: the registry did not answer; the provider drops out once its session expires or its TTL check lapses", "err", err)
			}
			return nil
		case up = <-want:
		case <-retry:
		}
		retry = nil
		if !up {
			if err := k.down(); err != nil {
				log.Warn("deregistration failed", "err", err)
			}
			continue
		}
		if err := k.up(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if in.RetryEvery <= 0 {
				return err
			}
			log.Warn("registration failed; retrying", "err", err, "retry_in", in.RetryEvery)
			retry = time.After(in.RetryEvery)
		}
	}
}

type keeper struct {
	in  KeepInput
	log *slog.Logger
	p   registry.Provider
	reg registry.Registration
}

func (k *keeper) up(ctx context.Context) error {
	if k.reg != nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, k.in.Timeout)
	defer cancel()
	reg, err := k.in.Registry.Register(rctx, k.p)
	if err != nil {
		return fmt.Errorf("register %s: %w", k.p.Service, err)
	}
	k.reg = reg
	p := reg.Provider()
	metrics.Registered(p.ID, p.Service, p.Status)
	if k.in.OnChange != nil {
		k.in.OnChange(true, p)
	}
	return nil
}

// down deregisters now (watchers see the provider vanish at once), keeping
// the status for the next registration.
func (k *keeper) down() error {
	if k.reg == nil {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.Background(), k.in.Timeout)
	defer cancel()
	err := k.reg.Deregister(dctx)
	cur := k.reg.Provider() // after Deregister: a backend may read the status one last time
	k.p.Status = cur.Status
	k.reg = nil
	metrics.Deregistered(cur.ID, cur.Service)
	if err != nil {
		return fmt.Errorf("deregister %s: %w", k.p.Service, err)
	}
	if k.in.OnChange != nil {
		k.in.OnChange(false, cur)
	}
	return nil
}
