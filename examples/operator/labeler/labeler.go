// Package labeler keeps every Node labelled with its kubelet's native-sidecar
// capability (compat.NodeLabel = native | strips | rejects), read from
// status.nodeInfo.kubeletVersion and, optionally, from the kubelet's own
// /metrics through the API server's node proxy. The label is what
// compat.ParseNode and compat.Cluster.For honour over the version, and what
// pinned injections select nodes by.
package labeler

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/sidecarkit/sidecarkit/compat"
)

// Metrics reads a kubelet's /metrics text.
type Metrics interface {
	NodeMetrics(ctx context.Context, node string) (io.ReadCloser, error)
}

// Event reasons.
const (
	ReasonLabeled            = "SidecarCapabilityLabeled"
	ReasonUnlabeled          = "SidecarCapabilityUnknown"
	ReasonMetricsUnavailable = "SidecarMetricsUnavailable"
	ReasonInconclusive       = "SidecarCapabilityInconclusive"
)

// Reconciler labels one Node per reconcile.
type Reconciler struct {
	// Client reads Nodes (the cache) and patches their labels.
	Client client.Client
	// Metrics, when set, reads each kubelet's /metrics, whose
	// SidecarContainers series overrides the version's default (the gate can
	// be turned off on 1.29–1.32 and on on 1.28). When they cannot be read
	// the reconcile fails and is retried with backoff, and the label stays as
	// it was: a proxy outage must not relabel the fleet.
	Metrics Metrics
	// Resync re-reads a node's metrics this long after a successful
	// reconcile, since a kubelet restarted with other feature gates keeps
	// its version. Zero means never. Only used with Metrics.
	Resync time.Duration
	// Recorder, when set, records an Event on the Node for every label
	// change and every problem.
	Recorder events.EventRecorder
}

// SetupWithManager registers the reconciler, watching Nodes. Updates count
// only when the kubelet version or the label changed (a node's status is
// rewritten every few minutes, which does not matter here).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("sidecar-node-labeler").
		For(&corev1.Node{}, builder.WithPredicates(Changed())).
		Complete(r)
}

// Changed is the predicate of the Node watch: creations, and updates that
// change the kubelet version or NodeLabel.
func Changed() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okO := e.ObjectOld.(*corev1.Node)
			n, okN := e.ObjectNew.(*corev1.Node)
			if !okO || !okN {
				return true
			}
			return o.Status.NodeInfo.KubeletVersion != n.Status.NodeInfo.KubeletVersion ||
				o.Labels[compat.NodeLabel] != n.Labels[compat.NodeLabel]
		},
	}
}

// Reconcile computes the node's capability and sets, changes or removes
// its label with a JSON merge patch of that one label.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var node corev1.Node
	if err := r.Client.Get(ctx, req.NamespacedName, &node); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	c, err := r.capability(ctx, &node)
	if err != nil {
		return ctrl.Result{}, err
	}
	want, known := compat.NodeLabelValue(c.Kubelet)
	have, labelled := node.Labels[compat.NodeLabel]
	if known == labelled && want == have {
		return r.done(), nil
	}
	if err := r.Client.Patch(ctx, &node, client.RawPatch(types.MergePatchType, labelPatch(want, known))); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("label node %s: %w", node.Name, err)
	}
	if known {
		r.event(&node, corev1.EventTypeNormal, ReasonLabeled, "Label", "%s=%s: %s", compat.NodeLabel, want, c.Explain())
	} else {
		r.event(&node, corev1.EventTypeNormal, ReasonUnlabeled, "Unlabel", "removed %s (was %q): capability unknown: %s", compat.NodeLabel, have, c.Explain())
	}
	log.FromContext(ctx).Info("node labelled", "label", compat.NodeLabel, "value", want, "removed", !known, "capability", c.String())
	return r.done(), nil
}

func (r *Reconciler) done() ctrl.Result {
	if r.Metrics != nil && r.Resync > 0 {
		return ctrl.Result{RequeueAfter: r.Resync}
	}
	return ctrl.Result{}
}

// capability reads the node without our own label: compat.ParseNode lets
// the label override the version, and the labeler must not read back what
// it wrote.
func (r *Reconciler) capability(ctx context.Context, node *corev1.Node) (compat.Capability, error) {
	probe := node.DeepCopy()
	delete(probe.Labels, compat.NodeLabel)
	if r.Metrics == nil {
		c, err := compat.ParseNode(probe)
		if err != nil {
			// An unparsable version: Unknown, so the label goes.
			r.event(node, corev1.EventTypeWarning, ReasonInconclusive, "Read", "%v", err)
		}
		return c, nil
	}
	text, err := r.Metrics.NodeMetrics(ctx, node.Name)
	if err != nil {
		r.event(node, corev1.EventTypeWarning, ReasonMetricsUnavailable, "Read", "kubelet /metrics: %v; label left as it is", err)
		return compat.Capability{}, fmt.Errorf("node %s: kubelet /metrics: %w", node.Name, err)
	}
	defer text.Close()
	g, err := compat.ParseFeatureMetrics(text)
	if err != nil {
		r.event(node, corev1.EventTypeWarning, ReasonMetricsUnavailable, "Read", "kubelet /metrics: %v; label left as it is", err)
		return compat.Capability{}, fmt.Errorf("node %s: kubelet /metrics: %w", node.Name, err)
	}
	c, err := compat.FromNodeMetrics(probe, g)
	if err != nil {
		// The metrics were read but do not settle it (no series where the
		// version must have one, an unparsable version): what they and
		// the version say stands, Unknown included.
		r.event(node, corev1.EventTypeWarning, ReasonInconclusive, "Read", "%v", err)
	}
	return c, nil
}

// labelPatch is the merge patch that sets the label to value, or removes it.
func labelPatch(value string, set bool) []byte {
	var v interface{} // null removes the key
	if set {
		v = value
	}
	b, _ := json.Marshal(map[string]interface{}{
		"metadata": map[string]interface{}{"labels": map[string]interface{}{compat.NodeLabel: v}},
	})
	return b
}

func (r *Reconciler) event(node *corev1.Node, typ, reason, action, note string, args ...interface{}) {
	if r.Recorder != nil {
		r.Recorder.Eventf(node, nil, typ, reason, action, note, args...)
	}
}
