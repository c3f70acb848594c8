// Package metrics holds the operator's Prometheus counters: what the
// injector did to each workload, what the repair found and did, and how the
// in-place sidecar upgrades went. main registers them with
// controller-runtime's registry (sigs.k8s.io/controller-runtime/pkg/metrics
// Registry), so they are served on the manager's metrics endpoint next to
// controller-runtime's own.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of an injector reconcile (the outcome label of
// sidecarkit_operator_injections_total).
const (
	// Injected: a patch added or updated the sidecar.
	Injected = "injected"
	// Migrated: a hand-written legacy sidecar was moved to the native form.
	Migrated = "migrated"
	// Removed: the sidecar was removed from a workload that opted out.
	Removed = "removed"
	// Unchanged: the workload already carries the sidecar as wanted.
	Unchanged = "unchanged"
	// Skipped: the workload cannot be patched (an immutable Job template, a
	// ReplicaSet a handled Deployment owns) or Options.Decide declined.
	Skipped = "skipped"
	// Failed: the injection or the patch failed.
	Failed = "failed"
)

// Outcomes of the repair of Pods that missed injection (the outcome label
// of sidecarkit_operator_repairs_total).
const (
	// Missing: a Pod that should carry the sidecar was found without it.
	Missing = "missing"
	// Restarted: its owner was restarted (a rollout restart).
	Restarted = "restarted"
	// Blocked: a PodDisruptionBudget allowed no disruption; retried.
	Blocked = "blocked"
	// Unrepairable: no owner the operator can restart.
	Unrepairable = "unrepairable"
)

// Outcomes of an in-place sidecar upgrade of a Pod (the outcome label of
// sidecarkit_operator_inplace_upgrades_total).
const (
	// Upgraded: the new sidecar is ready, the app containers did not
	// restart.
	Upgraded = "upgraded"
	// UpgradeFailed: it was not (the rollout halts).
	UpgradeFailed = "failed"
)

// Metrics are the operator's counters. A nil *Metrics counts nothing.
type Metrics struct {
	injections *prometheus.CounterVec
	repairs    *prometheus.CounterVec
	upgrades   *prometheus.CounterVec
}

// New creates the counters and registers them with reg (controller-runtime's
// metrics.Registry in the binary, a fresh prometheus.NewRegistry in tests).
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		injections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecarkit_operator_injections_total",
			Help: "Workload reconciles of the sidecar injector, by workload kind, injection mode and outcome (injected, migrated, removed, unchanged, skipped, failed).",
		}, []string{"kind", "mode", "outcome"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecarkit_operator_repairs_total",
			Help: "Pods found without the sidecar they should carry and what was done, by owner kind and outcome (missing, restarted, blocked, unrepairable).",
		}, []string{"kind", "outcome"}),
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecarkit_operator_inplace_upgrades_total",
			Help: "In-place sidecar image upgrades of running Pods, by injection mode and outcome (upgraded, failed).",
		}, []string{"mode", "outcome"}),
	}
	for _, c := range []**prometheus.CounterVec{&m.injections, &m.repairs, &m.upgrades} {
		if err := reg.Register(*c); err != nil {
			// A second operator in one process (tests) shares the
			// first one's counters.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, err
			}
			*c = existing
		}
	}
	return m, nil
}

// Injection counts one injector reconcile.
func (m *Metrics) Injection(kind, mode, outcome string) {
	if m != nil {
		m.injections.WithLabelValues(kind, mode, outcome).Inc()
	}
}

// Repair counts one Pod of the repair.
func (m *Metrics) Repair(kind, outcome string) {
	if m != nil {
		m.repairs.WithLabelValues(kind, outcome).Inc()
	}
}

// Upgrade counts one in-place upgrade of a Pod's sidecar.
func (m *Metrics) Upgrade(mode, outcome string) {
	if m != nil {
		m.upgrades.WithLabelValues(mode, outcome).Inc()
	}
}
