package consul

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/svcdisco/svcdisco/registry"
)

// adoptStatus reads whether Consul's maintenance mode is on for the
// provider and adopts it: `svcdisco maintenance` or `consul maint` run by
// another process changes only the agent's checks, and the status must
// survive the provider's next registration (a check flap, an agent that
// lost its state). Callers hold reg.mu or own reg alone.
func (reg *registration) adoptStatus(ctx context.Context) error {
	r := reg.r
	filter := fmt.Sprintf("ServiceID == %q", reg.p.ID)
	checks, err := r.client.Agent().ChecksWithFilterOpts(filter, r.q(ctx))
	if err != nil {
		return err
	}
	status := registry.StatusUp
	if c, ok := checks[api.ServiceMaintPrefix+reg.p.ID]; ok && c.Status == api.HealthCritical {
		status = registry.StatusMaintenance
	}
	if status != reg.p.Status {
		r.log.Info("adopting status set on the agent", "service", reg.p.Service, "id", reg.p.ID, "status", status)
		reg.p.Status = status
	}
	return nil
}

// maintenanceCheck reports whether id is one of Consul's maintenance
// checks: a service's, or the node's (`consul maint` without -service),
// which takes every service of the node out of rotation.
func maintenanceCheck(id string) bool {
	return id == api.NodeMaint || strings.HasPrefix(id, api.ServiceMaintPrefix)
}

// warnNodeMaintenance warns when the agent's node is in maintenance mode:
// its providers stay out of rotation whatever their own status.
func (r *Registry) warnNodeMaintenance(ctx context.Context) {
	checks, err := r.client.Agent().ChecksWithFilterOpts(fmt.Sprintf("CheckID == %q", api.NodeMaint), r.q(ctx))
	if err == nil && len(checks) > 0 {
		r.log.Warn("the node is in maintenance mode (consul maint): its providers stay out of rotation until that is disabled", "node", r.node)
	}
}
