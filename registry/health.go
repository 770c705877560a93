package registry

import "context"

// Health states, as Consul names them.
const (
	HealthPassing  = "passing"
	HealthWarning  = "warning"
	HealthCritical = "critical"
)

// Health is a provider's health-check state as a backend with a health
// model shows it: the state and what the last probe said.
type Health struct {
	// Check names the probe (its target), for the backend's check name.
	Check string
	// Status is HealthPassing, HealthWarning or HealthCritical.
	Status string
	// Output is what the last probe said (an error, or that it passed).
	Output string
}

// HealthRegistry is a Registry whose backend has a health model of its
// own (Consul). A provider with a health check is registered there at once
// and stays registered while the check fails: the backend shows the
// check's state and output (Consul's UI, alerting and health API see a
// critical check), and listings hide providers that are not passing, as
// they hide providers that are not registered. Backends without a health
// model (ZooKeeper, etcd) do not implement it: there a failing check
// deregisters the provider.
type HealthRegistry interface {
	Registry
	// RegisterWithHealth is Register with a health check in state h.
	RegisterWithHealth(ctx context.Context, p Provider, h Health) (HealthRegistration, error)
}

// HealthRegistration is a Registration made by RegisterWithHealth.
type HealthRegistration interface {
	Registration
	// SetHealth reports the check's state. A provider that turns passing
	// again after it was not is a new period of service: it is stamped
	// with a new registration time, as a re-registration would be.
	SetHealth(ctx context.Context, h Health) error
}
