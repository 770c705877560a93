package consul

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// now is the clock registrations are stamped with (tests replace it).
var now = time.Now

// MinDeregisterAfter is the shortest DeregisterCriticalServiceAfter Consul
// honours (its check_deregister_interval_min, not user-settable); the agent
// reaps every 30s on top of that.
const MinDeregisterAfter = time.Minute

type registration struct {
	r *Registry

	mu     sync.Mutex
	p      registry.Provider
	gone   bool
	stop   chan struct{} // closed to stop the heartbeat
	done   chan struct{} // closed when the heartbeat has stopped
	failed time.Time     // first failed heartbeat since the last good one
	// lostLogged is set once "presumed lost" was logged for this outage.
	lostLogged bool
	// health is the provider's own health check (RegisterWithHealth), nil
	// without one.
	health *registry.Health
}

// Register puts p in the agent's service catalog with a passing TTL check,
// then keeps the check passing every TTL/3. If the agent loses the service
// (agent restarted without its data, or the service was deregistered behind
// svcdisco's back) it is registered again with a new timestamp. If another
// registrant replaced it (same ID on the same agent), svcdisco lets go
// rather than fight over it.
func (r *Registry) Register(ctx context.Context, p registry.Provider) (registry.Registration, error) {
	reg, err := r.register(ctx, p, nil)
	if err != nil {
		return nil, err // not a typed nil
	}
	return reg, nil
}

func (r *Registry) register(ctx context.Context, p registry.Provider, h *registry.Health) (*registration, error) {
	if p.ID == "" {
		p.ID = registry.DefaultID(p.Service, p.Host, p.Port)
	}
	if p.Status == "" {
		p.Status = registry.StatusUp
	}
	if err := p.Validate(); err != nil {
		return nil, exitcode.New(exitcode.Usage, fmt.Errorf("register: %w", err))
	}
	if _, err := encode(p, r.opts.Root); err != nil { // fail before anything is written
		return nil, exitcode.New(exitcode.Usage, err)
	}
	reg := &registration{r: r, p: p, health: h, stop: make(chan struct{}), done: make(chan struct{})}
	if err := reg.write(ctx); err != nil {
		return nil, r.wrap("register "+p.Service, err)
	}
	r.mu.Lock()
	r.regs[reg] = struct{}{}
	r.mu.Unlock()
	go reg.heartbeat()
	return reg, nil
}

func (r *Registry) checkID(serviceID string) string { return "svcdisco:" + serviceID }

// write registers the provider with a fresh timestamp (and maintenance
// mode if that is its status). Callers hold reg.mu or own reg alone.
func (reg *registration) write(ctx context.Context) error {
	r := reg.r
	p := reg.p
	p.Timestamp = now().UTC().Truncate(time.Millisecond)
	svc, err := encode(p, r.opts.Root)
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	svc.Check = &api.AgentServiceCheck{
		CheckID:                        r.checkID(p.ID),
		Name:                           "svcdisco heartbeat",
		Notes:                          "kept passing by the svcdisco process holding this registration",
		TTL:                            r.opts.TTL.String(),
		Status:                         api.HealthPassing,
		DeregisterCriticalServiceAfter: max(MinDeregisterAfter, 6*r.opts.TTL).String(),
	}
	if p.Status == registry.StatusMaintenance {
		// Not passing until maintenance mode is on: never listed as up.
		svc.Check.Status = api.HealthCritical
	}
	if reg.health != nil {
		svc.Checks = api.AgentServiceChecks{reg.healthCheck()}
	}
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.client.Agent().ServiceRegisterOpts(svc, opts); err != nil {
		return err
	}
	p.Name = p.ID + "@" + r.node
	reg.p = p
	if err := reg.refreshHealth(ctx); err != nil { // the output, which a registration cannot carry
		return err
	}
	if p.Status != registry.StatusMaintenance {
		return nil
	}
	agent := r.client.Agent()
	if err := reg.setMaintenance(ctx, true); err != nil {
		// Withdraw it, so the next heartbeat registers it anew rather than
		// passing a provider whose maintenance mode is off.
		_ = agent.ServiceDeregisterOpts(p.ID, r.q(ctx))
		return err
	}
	return agent.UpdateTTLOpts(r.checkID(p.ID), "", api.HealthPassing, r.q(ctx))
}

// heartbeat keeps the TTL check passing until stop is closed.
func (reg *registration) heartbeat() {
	defer close(reg.done)
	interval := max(reg.r.opts.TTL/3, 50*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-reg.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		keep := reg.beat(ctx)
		cancel()
		if !keep {
			return
		}
	}
}

// beat passes the check once, re-registering when the agent lost the
// service. It returns false when the registration was taken over.
func (reg *registration) beat(ctx context.Context) bool {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.gone {
		return false
	}
	r := reg.r
	owner, err := reg.owner(ctx)
	switch {
	case err != nil:
		reg.beatFailed(err)
		return true
	case owner == "":
		r.log.Info("re-registering provider", "service", reg.p.Service, "id", reg.p.ID, "reason", "the agent no longer has it")
		if err := reg.write(ctx); err != nil {
			reg.beatFailed(err)
		}
		return true
	case owner != reg.p.Timestamp.Format(registry.TimeFormat):
		r.log.Warn("provider was replaced by another registration with the same ID; letting go",
			"service", reg.p.Service, "id", reg.p.ID, "their_timestamp", owner)
		return false
	}
	if err := r.client.Agent().UpdateTTLOpts(r.checkID(reg.p.ID), "", api.HealthPassing, r.q(ctx)); err != nil {
		reg.beatFailed(err)
		return true
	}
	if err := reg.refreshHealth(ctx); err != nil {
		reg.beatFailed(err)
		return true
	}
	if !reg.failed.IsZero() {
		r.log.Info("heartbeat restored", "service", reg.p.Service, "id", reg.p.ID, "after", time.Since(reg.failed).Round(time.Millisecond))
		reg.failed, reg.lostLogged = time.Time{}, false
	}
	if err := reg.adoptStatus(ctx); err != nil {
		r.log.Debug("could not read the provider's maintenance status", "service", reg.p.Service, "id", reg.p.ID, "err", err)
	}
	return true
}

// beatFailed logs a failed heartbeat; once failures last longer than the
// TTL the provider is presumed lost (Consul has marked it critical), as on
// ZooKeeper after a disconnect longer than the session timeout.
func (reg *registration) beatFailed(err error) {
	log := reg.r.log
	if reg.failed.IsZero() {
		reg.failed = time.Now()
		log.Warn("heartbeat failed", "service", reg.p.Service, "id", reg.p.ID, "err", err)
		return
	}
	if !reg.lostLogged && time.Since(reg.failed) > reg.r.opts.TTL {
		reg.lostLogged = true
		log.Warn("no heartbeat for longer than the TTL: registration presumed lost; will re-register",
			"service", reg.p.Service, "id", reg.p.ID, "ttl", reg.r.opts.TTL, "err", err)
	}
}

// owner returns the svcdisco-timestamp of the agent's service with our ID
// ("" when the agent has no such service): it tells our registration from a
// later one that replaced it.
func (reg *registration) owner(ctx context.Context) (string, error) {
	svc, _, err := reg.r.client.Agent().Service(reg.p.ID, reg.r.q(ctx))
	if statusCode(err) == 404 {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if svc.Service != reg.p.Service {
		return "other service " + svc.Service, nil
	}
	return svc.Meta[MetaTimestamp], nil
}

func (reg *registration) Provider() registry.Provider {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.p
}

// Deregister stops the heartbeat and removes the service from the agent
// now, so watchers see it vanish at once — unless another registration
// replaced it meanwhile, which is left alone.
func (reg *registration) Deregister(ctx context.Context) error {
	reg.mu.Lock()
	if reg.gone {
		reg.mu.Unlock()
		return nil
	}
	reg.gone = true
	close(reg.stop)
	reg.mu.Unlock()
	<-reg.done

	r := reg.r
	r.mu.Lock()
	delete(r.regs, reg)
	r.mu.Unlock()
	owner, err := reg.owner(ctx)
	if err == nil && owner == reg.p.Timestamp.Format(registry.TimeFormat) {
		reg.mu.Lock()
		if aerr := reg.adoptStatus(ctx); aerr != nil { // Provider() keeps the status for a re-registration
			r.log.Debug("could not read the provider's maintenance status", "service", reg.p.Service, "id", reg.p.ID, "err", aerr)
		}
		reg.mu.Unlock()
		err = r.client.Agent().ServiceDeregisterOpts(reg.p.ID, r.q(ctx))
	}
	if err != nil && statusCode(err) != 404 {
		return r.wrap("deregister "+reg.p.Service, err)
	}
	return nil
}

// SetStatus switches the provider in or out of maintenance using Consul's
// own service maintenance mode (a critical "_service_maintenance:<id>"
// check), so `consul maint` and the UI show it too. A provider in
// maintenance is not passing, so plain queries leave it out.
func (reg *registration) SetStatus(ctx context.Context, status string) error {
	if status != registry.StatusUp && status != registry.StatusMaintenance {
		return exitcode.Usagef("invalid status %q: want %s or %s", status, registry.StatusUp, registry.StatusMaintenance)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.gone {
		return fmt.Errorf("set status of %s: not registered", reg.p.ID)
	}
	if err := reg.setMaintenance(ctx, status == registry.StatusMaintenance); err != nil {
		return reg.r.wrap("set status of "+reg.p.Service, err)
	}
	reg.p.Status = status
	return nil
}

func (reg *registration) setMaintenance(ctx context.Context, on bool) error {
	agent := reg.r.client.Agent()
	if on {
		return agent.EnableServiceMaintenanceOpts(reg.p.ID, "svcdisco: provider in maintenance", reg.r.q(ctx))
	}
	return agent.DisableServiceMaintenanceOpts(reg.p.ID, reg.r.q(ctx))
}

// SetStatus puts any provider listed by Providers in or out of maintenance
// (`svcdisco maintenance`). Consul's maintenance mode belongs to the agent
// that holds the service, and an agent only changes its own services, so
// the provider must be registered with the agent svcdisco talks to (run
// `svcdisco maintenance` on the provider's node, as with `consul maint`).
// A registration held by this process follows the change.
func (r *Registry) SetStatus(ctx context.Context, p registry.Provider, status string) error {
	if err := registry.ValidateStatus(status); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	r.mu.Lock()
	var own *registration
	for reg := range r.regs {
		if reg.p.ID == p.ID {
			own = reg
		}
	}
	r.mu.Unlock()
	if own != nil {
		return own.SetStatus(ctx, status)
	}
	agent := r.client.Agent()
	if _, _, err := agent.Service(p.ID, r.q(ctx)); err != nil {
		if statusCode(err) == 404 {
			return fmt.Errorf("set status of %s: provider %s is not registered with the Consul agent at %s (run svcdisco maintenance on its node)", p.Service, p.ID, r.addr)
		}
		return r.wrap("set status of "+p.Service, err)
	}
	var err error
	if status == registry.StatusMaintenance {
		err = agent.EnableServiceMaintenanceOpts(p.ID, "svcdisco: provider in maintenance", r.q(ctx))
	} else {
		err = agent.DisableServiceMaintenanceOpts(p.ID, r.q(ctx))
		r.warnNodeMaintenance(ctx)
	}
	return r.wrap("set status of "+p.Service, err)
}
