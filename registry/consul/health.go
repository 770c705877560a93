package consul

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

// maxCheckOutput bounds the output sent with a check update (Consul's
// default check_output_max_size is 4 KiB).
const maxCheckOutput = 4096

var _ registry.HealthRegistry = (*Registry)(nil)

// healthCheckID is the ID of a provider's own health check, beside the
// heartbeat check "svcdisco:<id>".
func (r *Registry) healthCheckID(serviceID string) string { return "svcdisco-check:" + serviceID }

// RegisterWithHealth registers p with two TTL checks: the heartbeat (which
// stands for the registrant being alive and, when it lapses, lets Consul
// reap the instance) and the provider's health check, whose state and
// output svcdisco reports (SetHealth) and refreshes on every heartbeat. A
// failing health check makes the instance critical in Consul — shown in
// its UI and health API, hidden from passing-only queries such as
// consul-template's `service` and svcdisco's own listings — without
// deregistering it. Only the heartbeat check carries
// DeregisterCriticalServiceAfter, so an instance whose check fails for
// hours stays in the catalog.
func (r *Registry) RegisterWithHealth(ctx context.Context, p registry.Provider, h registry.Health) (registry.HealthRegistration, error) {
	if err := validateHealth(h); err != nil {
		return nil, exitcode.New(exitcode.Usage, err)
	}
	reg, err := r.register(ctx, p, &h)
	if err != nil {
		return nil, err // not a typed nil
	}
	return reg, nil
}

func validateHealth(h registry.Health) error {
	switch h.Status {
	case registry.HealthPassing, registry.HealthWarning, registry.HealthCritical:
		return nil
	}
	return fmt.Errorf("invalid health %q: want %s, %s or %s", h.Status, registry.HealthPassing, registry.HealthWarning, registry.HealthCritical)
}

// healthCheck is the registration of the provider's health check in its
// current state. Callers hold reg.mu or own reg alone.
func (reg *registration) healthCheck() *api.AgentServiceCheck {
	h := reg.health
	return &api.AgentServiceCheck{
		CheckID: reg.r.healthCheckID(reg.p.ID),
		Name:    "svcdisco check " + h.Check,
		Notes:   "the provider's health check, probed by the svcdisco process holding this registration",
		TTL:     reg.r.opts.TTL.String(),
		Status:  h.Status,
	}
}

// refreshHealth sends the health check's state again, so its TTL does not
// lapse while the registrant lives. Callers hold reg.mu.
func (reg *registration) refreshHealth(ctx context.Context) error {
	if reg.health == nil {
		return nil
	}
	r := reg.r
	return r.client.Agent().UpdateTTLOpts(r.healthCheckID(reg.p.ID), truncate(reg.health.Output), reg.health.Status, r.q(ctx))
}

// SetHealth reports the health check's state and output. A provider that
// turns passing after it was not is registered anew with a new timestamp
// (a new period of service, as a re-registration after a failed check is
// on ZooKeeper).
func (reg *registration) SetHealth(ctx context.Context, h registry.Health) error {
	if err := validateHealth(h); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.gone {
		return fmt.Errorf("set health of %s: not registered", reg.p.ID)
	}
	if reg.health == nil {
		return fmt.Errorf("set health of %s: registered without a health check", reg.p.ID)
	}
	back := h.Status == registry.HealthPassing && reg.health.Status != registry.HealthPassing
	*reg.health = h
	var err error
	if back {
		if aerr := reg.adoptStatus(ctx); aerr != nil { // keep a maintenance set by others
			reg.r.log.Debug("could not read the provider's maintenance status", "service", reg.p.Service, "id", reg.p.ID, "err", aerr)
		}
		err = reg.write(ctx)
	} else {
		err = reg.refreshHealth(ctx)
	}
	return reg.r.wrap("set health of "+reg.p.Service, err)
}

func truncate(s string) string {
	if len(s) > maxCheckOutput {
		return s[:maxCheckOutput]
	}
	return s
}
