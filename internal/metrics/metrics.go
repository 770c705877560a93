// Package metrics is svcdisco's Prometheus instrumentation: what the agent,
// register and render --watch expose on --metrics-addr. The collectors are
// process-wide (one daemon per process) and cost a few atomic adds when
// nobody scrapes them; Serve publishes them.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every svcdisco collector, plus Go runtime and process
// metrics, once Serve has run (see register). It is not
// prometheus.DefaultRegisterer, so a program importing svcdisco's packages
// keeps its own default registry to itself.
var Registry = prometheus.NewRegistry()

var (
	registered = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "svcdisco_providers_registered",
		Help: "Providers this process holds registered right now, by service and state (up, maintenance).",
	}, []string{"service", "state"})
	registrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svcdisco_registrations_total",
		Help: "Registrations made (including after a check came back up), by service.",
	}, []string{"service"})
	deregistrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svcdisco_deregistrations_total",
		Help: "Deregistrations made (check down, file removed, shutdown), by service.",
	}, []string{"service"})
	reregistrations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svcdisco_reregistrations_total",
		Help: "Providers registered again on a new registry session (after an expiry), by service.",
	}, []string{"service"})
	checkResults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svcdisco_check_results_total",
		Help: "Health check probes, by service and result (pass, fail).",
	}, []string{"service", "result"})
	checkDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "svcdisco_check_duration_seconds",
		Help:    "Health check probe latency, by service.",
		Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"service"})
	sessionState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "svcdisco_session_state",
		Help: "1 for the registry session's current state (connected, disconnected, expired, presumed-lost, closed), 0 for the others. ZooKeeper (zk://, exhibitor://) only.",
	}, []string{"state"})
	sessionExpiries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "svcdisco_session_expiries_total",
		Help: "Registry sessions expired or presumed lost (every provider re-registers on a new one). ZooKeeper (zk://, exhibitor://) only.",
	})
	watchEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svcdisco_watch_events_total",
		Help: "Changes of a watched service's providers seen by render --watch, by service.",
	}, []string{"service"})
	renders = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svcdisco_renders_total",
		Help: "Template passes, by destination and status (written, unchanged, refused, would write, waiting: no data from the registry yet).",
	}, []string{"destination", "status"})
	renderFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "svcdisco_render_failures_total",
		Help: "Template passes that left the file as it was or whose command failed, by destination and reason (registry, template, min_providers, check_command, command).",
	}, []string{"destination", "reason"})
	lastRender = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "svcdisco_last_successful_render_timestamp_seconds",
		Help: "Unix time of the destination's last pass that wrote it or found it up to date.",
	}, []string{"destination"})
)

// registerOnce registers every collector when metrics are first served:
// a process that serves none (every `query`, and daemons without
// --metrics-addr) does not pay for it at start-up. The collectors count
// from the start either way; registering only publishes them.
var registerOnce sync.Once

func register() {
	registerOnce.Do(func() {
		Registry.MustRegister(
			registered, registrations, deregistrations, reregistrations,
			checkResults, checkDuration, sessionState, sessionExpiries,
			watchEvents, renders, renderFailures, lastRender,
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	})
}

// SessionStates are the values of svcdisco_session_state's state label.
var SessionStates = []string{"connected", "disconnected", "expired", "presumed-lost", "closed"}

// held is what svcdisco_providers_registered counts, by provider ID.
var held = struct {
	sync.Mutex
	m map[string][2]string // id → service, state
}{m: map[string][2]string{}}

// Registered records a registration of provider id (also a new status of
// one already registered, e.g. maintenance).
func Registered(id, service, status string) {
	held.Lock()
	defer held.Unlock()
	if old, ok := held.m[id]; ok {
		registered.WithLabelValues(old[0], old[1]).Dec()
	} else {
		registrations.WithLabelValues(service).Inc()
	}
	held.m[id] = [2]string{service, status}
	registered.WithLabelValues(service, status).Inc()
}

// Deregistered records that provider id is no longer registered.
func Deregistered(id, service string) {
	held.Lock()
	defer held.Unlock()
	deregistrations.WithLabelValues(service).Inc()
	if old, ok := held.m[id]; ok {
		registered.WithLabelValues(old[0], old[1]).Dec()
		delete(held.m, id)
	}
}

// Reregistered records a provider registered again on a new session.
func Reregistered(service string) { reregistrations.WithLabelValues(service).Inc() }

// CheckObserved records one health check probe.
func CheckObserved(service string, pass bool, took time.Duration) {
	result := "fail"
	if pass {
		result = "pass"
	}
	checkResults.WithLabelValues(service, result).Inc()
	checkDuration.WithLabelValues(service).Observe(took.Seconds())
}

// SessionChanged records the registry session's new state; expired and
// presumed-lost count as an expiry once per session lost.
func SessionChanged(state string, lost bool) {
	for _, s := range SessionStates {
		v := 0.0
		if s == state {
			v = 1
		}
		sessionState.WithLabelValues(s).Set(v)
	}
	if lost {
		sessionExpiries.Inc()
	}
}

// WatchEvent records a change of a watched service.
func WatchEvent(service string) { watchEvents.WithLabelValues(service).Inc() }

// Rendered records one template pass: status as in templates.Result, and
// reason "" when the pass succeeded.
func Rendered(destination, status, failure string, at time.Time) {
	renders.WithLabelValues(destination, status).Inc()
	if failure != "" {
		renderFailures.WithLabelValues(destination, failure).Inc()
		return
	}
	if status == "written" || status == "unchanged" {
		lastRender.WithLabelValues(destination).Set(float64(at.UnixNano()) / 1e9)
	}
}
