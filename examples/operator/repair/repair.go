// Package repair finds the Pods that should carry the sidecar and run
// without it, because the webhook was down (failurePolicy: Ignore) or did
// not match when they were created, reports them, and, opted in, replaces
// them through their owner: a rollout restart of the Deployment,
// StatefulSet or DaemonSet, as `kubectl rollout restart` does, checked
// against the PodDisruptionBudgets that select the Pod. A running Pod's
// containers are never edited.
package repair

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/sidecarkit/sidecarkit/examples/operator/metrics"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// RestartedAtAnnotation is the pod-template annotation `kubectl rollout
// restart` sets; a change of the template makes the owner replace its Pods
// under its own update strategy.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// Event reasons.
const (
	ReasonMissing      = "SidecarMissing"
	ReasonRestarted    = "SidecarRepairRestart"
	ReasonBlocked      = "SidecarRepairBlocked"
	ReasonUnrepairable = "SidecarRepairUnsupported"
)

// Reconciler checks one Pod at a time.
type Reconciler struct {
	// Client reads Pods, Namespaces and PodDisruptionBudgets (the
	// manager's cache) and patches owners.
	Client client.Client
	// Owners reads the owners (ReplicaSets, Deployments, StatefulSets,
	// DaemonSets); nil means Client. The binary passes the manager's API
	// reader: the cache holds only the injector's opted-in workloads, and
	// a restart must see the owner's latest restartedAt.
	Owners client.Reader
	// Sidecar is the sidecar container's name.
	Sidecar string
	// Namespaces selects, by their labels, the namespaces whose Pods must
	// carry the sidecar: the webhook's namespaceSelector. Nil selects none.
	Namespaces labels.Selector
	// Pods, when set, narrows them by the Pod's labels: the webhook's
	// objectSelector.
	Pods labels.Selector
	// Restart replaces a Pod found without the sidecar through its owner;
	// without it the Pod is only reported.
	Restart bool
	// Cooldown is the least time between two restarts of one owner, so
	// that a webhook still down (the new Pods miss the sidecar too) does
	// not restart the owner again and again. Zero means DefaultCooldown.
	Cooldown time.Duration
	// Recorder, when set, records Events on the Pods and owners.
	Recorder events.EventRecorder
	// Metrics, when set, counts what was found and done.
	Metrics *metrics.Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultCooldown is Reconciler.Cooldown's default.
const DefaultCooldown = 10 * time.Minute

// BlockedRetry is how soon a Pod whose restart a PodDisruptionBudget
// blocked is looked at again.
const BlockedRetry = time.Minute

// SetupWithManager registers the controller: Pods are checked when they
// are created (their containers cannot change after that) and when the
// cache resyncs.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("sidecar-repair").
		For(&corev1.Pod{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc:  func(event.CreateEvent) bool { return true },
			UpdateFunc:  func(event.UpdateEvent) bool { return false },
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return true },
		})).
		Complete(r)
}

// Missing reports whether a Pod lacks a verified sidecar: the injection
// record for name that sidecarkit writes, and the container it names (a
// native sidecar among the init containers, or a regular container).
func Missing(pod *corev1.Pod, name string) bool {
	rec, has, err := sidecar.ReadRecord(&pod.ObjectMeta, name)
	if err != nil || !has {
		return true
	}
	for c := range rec.InitContainers {
		if !hasContainer(pod.Spec.InitContainers, c) {
			return true
		}
	}
	for c := range rec.Containers {
		if !hasContainer(pod.Spec.Containers, c) {
			return true
		}
	}
	return len(rec.InitContainers)+len(rec.Containers) == 0
}

func hasContainer(l []corev1.Container, name string) bool {
	for i := range l {
		if l[i].Name == name {
			return true
		}
	}
	return false
}

// Reconcile checks one Pod.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pod corev1.Pod
	if err := r.Client.Get(ctx, req.NamespacedName, &pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return ctrl.Result{}, nil
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return ctrl.Result{}, nil // a static Pod: the kubelet's, never admitted
	}
	if r.Namespaces == nil || (r.Pods != nil && !r.Pods.Matches(labels.Set(pod.Labels))) {
		return ctrl.Result{}, nil
	}
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, types.NamespacedName{Name: pod.Namespace}, &ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.Namespaces.Matches(labels.Set(ns.Labels)) || !Missing(&pod, r.Sidecar) {
		return ctrl.Result{}, nil
	}
	owner, err := r.owner(ctx, &pod)
	if err != nil {
		return ctrl.Result{}, err
	}
	kind := "Pod"
	if owner != nil {
		kind = owner.GetObjectKind().GroupVersionKind().Kind
	}
	r.Metrics.Repair(kind, metrics.Missing)
	r.event(&pod, corev1.EventTypeWarning, ReasonMissing, "Check", "created without the sidecar %q (was the webhook down?)", r.Sidecar)
	log.FromContext(ctx).Info("pod without the sidecar", "owner", kind)
	if !r.Restart {
		return ctrl.Result{}, nil
	}
	if owner == nil {
		r.Metrics.Repair(kind, metrics.Unrepairable)
		r.event(&pod, corev1.EventTypeWarning, ReasonUnrepairable, "Restart", "no Deployment, StatefulSet or DaemonSet owns the Pod; delete it to have it recreated")
		return ctrl.Result{}, nil
	}
	return r.restart(ctx, &pod, owner)
}

// owner returns the Deployment (through the Pod's ReplicaSet), StatefulSet
// or DaemonSet that controls the Pod, typed with its kind set, or nil.
func (r *Reconciler) owner(ctx context.Context, pod *corev1.Pod) (client.Object, error) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return nil, nil
	}
	var rd client.Reader = r.Client
	if r.Owners != nil {
		rd = r.Owners
	}
	get := func(obj client.Object, kind, ns, name string, uid types.UID) (client.Object, error) {
		if err := rd.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		if obj.GetUID() != uid {
			return nil, nil // another object of the name since
		}
		obj.GetObjectKind().SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(kind))
		return obj, nil
	}
	if ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return nil, nil
	}
	switch ref.Kind {
	case "StatefulSet":
		return get(&appsv1.StatefulSet{}, ref.Kind, pod.Namespace, ref.Name, ref.UID)
	case "DaemonSet":
		return get(&appsv1.DaemonSet{}, ref.Kind, pod.Namespace, ref.Name, ref.UID)
	case "ReplicaSet":
		rs, err := get(&appsv1.ReplicaSet{}, ref.Kind, pod.Namespace, ref.Name, ref.UID)
		if rs == nil || err != nil {
			return nil, err
		}
		dref := metav1.GetControllerOf(rs)
		if dref == nil || dref.Kind != "Deployment" || dref.APIVersion != appsv1.SchemeGroupVersion.String() {
			return nil, nil // a bare ReplicaSet does not replace its Pods on a template change
		}
		return get(&appsv1.Deployment{}, dref.Kind, pod.Namespace, dref.Name, dref.UID)
	}
	return nil, nil
}

// restart sets the owner's RestartedAtAnnotation, unless it was set since
// the Pod was created (its replacement is on the way) or within Cooldown,
// or a PodDisruptionBudget that selects the Pod allows no disruption now.
func (r *Reconciler) restart(ctx context.Context, pod *corev1.Pod, owner client.Object) (ctrl.Result, error) {
	kind := owner.GetObjectKind().GroupVersionKind().Kind
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	cooldown := r.Cooldown
	if cooldown <= 0 {
		cooldown = DefaultCooldown
	}
	if at, ok := restartedAt(owner); ok {
		if !at.Before(pod.CreationTimestamp.Time) {
			return ctrl.Result{}, nil // restarted since the Pod was created
		}
		if wait := at.Add(cooldown).Sub(now()); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	var pdbs policyv1.PodDisruptionBudgetList
	if err := r.Client.List(ctx, &pdbs, client.InNamespace(pod.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	for i := range pdbs.Items {
		pdb := &pdbs.Items[i]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		if pdb.Status.ObservedGeneration < pdb.Generation || pdb.Status.DisruptionsAllowed < 1 {
			r.Metrics.Repair(kind, metrics.Blocked)
			r.event(pod, corev1.EventTypeWarning, ReasonBlocked, "Restart", "PodDisruptionBudget %s allows no disruption now (%d allowed): the restart of %s %s waits",
				pdb.Name, pdb.Status.DisruptionsAllowed, kind, owner.GetName())
			return ctrl.Result{RequeueAfter: BlockedRetry}, nil
		}
	}
	stamp := now().UTC().Format(time.RFC3339)
	// The owner's resourceVersion is the precondition: the owner as read
	// (its restartedAt included) is the one restarted.
	body, err := json.Marshal(map[string]interface{}{
		"metadata": map[string]string{"resourceVersion": owner.GetResourceVersion()},
		"spec": map[string]interface{}{"template": map[string]interface{}{
			"metadata": map[string]interface{}{"annotations": map[string]string{RestartedAtAnnotation: stamp}}}},
	})
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Client.Patch(ctx, owner, client.RawPatch(types.MergePatchType, body)); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil // read again
		}
		return ctrl.Result{}, fmt.Errorf("restart %s %s/%s: %w", kind, owner.GetNamespace(), owner.GetName(), err)
	}
	r.Metrics.Repair(kind, metrics.Restarted)
	r.event(owner, corev1.EventTypeNormal, ReasonRestarted, "Restart", "rollout restart: Pod %s was created without the sidecar %q", pod.Name, r.Sidecar)
	r.event(pod, corev1.EventTypeNormal, ReasonRestarted, "Restart", "%s %s restarted to replace the Pod", kind, owner.GetName())
	log.FromContext(ctx).Info("owner restarted", "kind", kind, "owner", owner.GetName())
	return ctrl.Result{}, nil
}

// restartedAt reads the owner template's RestartedAtAnnotation.
func restartedAt(owner client.Object) (time.Time, bool) {
	var tmpl *corev1.PodTemplateSpec
	switch o := owner.(type) {
	case *appsv1.Deployment:
		tmpl = &o.Spec.Template
	case *appsv1.StatefulSet:
		tmpl = &o.Spec.Template
	case *appsv1.DaemonSet:
		tmpl = &o.Spec.Template
	default:
		return time.Time{}, false
	}
	v, ok := tmpl.Annotations[RestartedAtAnnotation]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

func (r *Reconciler) event(obj client.Object, typ, reason, action, note string, args ...interface{}) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, action, note, args...)
	}
}
