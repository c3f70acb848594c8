// Package injector patches the pod templates of opted-in workloads
// (Deployments, StatefulSets, DaemonSets, CronJobs) with a sidecar, using
// the library's strategic merge patch or RFC 6902 JSON patch, idempotently,
// and moves sidecars from the legacy to the native form when the nodes
// allow.
//
// Workloads are read as unstructured objects and handed to patch.Decode as
// raw JSON, so fields the compiled API types do not know are never part of
// a typed round trip; the patches name only what changes.
package injector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/examples/operator/facts"
	"github.com/sidecarkit/sidecarkit/examples/operator/metrics"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// MigrateAnnotation, on a workload, lists (comma-separated) hand-written
// legacy sidecars: regular containers of its pod template that the injector
// moves to the native form (first among the init containers, restartPolicy
// Always) once every node the template may land on runs native sidecars.
// The move is an RFC 6902 "move", so every field of the container survives.
const MigrateAnnotation = "sidecarkit.io/migrate-to-native"

// PatchType is how the injector patches a workload.
type PatchType string

// The patch types.
const (
	// StrategicMerge sends Mutation.StrategicMerge, with the workload's
	// resourceVersion as a precondition. A mutation that moves a container
	// between lists (a migration) is sent as a JSON patch instead: a
	// strategic merge patch cannot move, and would rebuild the container
	// from its typed form, losing the fields the compiled types do not know.
	StrategicMerge PatchType = "strategic"
	// JSONPatch sends Mutation.MarshalJSONPatch with patch.Guarded (every
	// op that addresses a container by index is guarded by a "test" of its
	// name) and patch.ResourceVersion (a "test" of the workload's
	// resourceVersion first).
	JSONPatch PatchType = "json"
)

// kinds are the workload kinds the injector handles.
var kinds = []schema.GroupVersionKind{
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "ReplicaSet"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "batch", Version: "v1", Kind: "Job"},
}

// Kind returns the group, version and kind of a workload kind the injector
// handles, by name ("Deployment"), and whether it handles it.
func Kind(name string) (schema.GroupVersionKind, bool) {
	for _, k := range kinds {
		if k.Kind == name {
			return k, true
		}
	}
	return schema.GroupVersionKind{}, false
}

// KindNames lists the workload kinds the injector handles, sorted.
func KindNames() []string {
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k.Kind)
	}
	sort.Strings(out)
	return out
}

// Event reasons.
const (
	ReasonInjected     = "SidecarInjected"
	ReasonMigrated     = "SidecarMigrated"
	ReasonUninjected   = "SidecarRemoved"
	ReasonFailed       = "SidecarInjectionFailed"
	ReasonWarning      = "SidecarWarning"
	ReasonFactsPartial = "SidecarCapabilityPartial"
	ReasonSkipped      = "SidecarSkipped"
)

// Reconciler injects the sidecar into the workloads of one kind.
type Reconciler struct {
	// Client reads the workloads (as unstructured objects) and patches them.
	Client client.Client
	// Reader, when set, reads a workload that Client does not find: a
	// cache restricted to the opted-in workloads drops one that opts out
	// (its informer sees a deletion), and the uninjection must read it from
	// the API server (the manager's APIReader).
	Reader client.Reader
	// Kind is the workload kind, one of KindNames (see Kind).
	Kind schema.GroupVersionKind
	// Selector selects the opted-in workloads by their own labels, for
	// example sidecarkit.io/inject=true. Nil selects none.
	Selector labels.Selector
	// Spec is the sidecar.
	Spec sidecar.Spec
	// Options tune sidecar.Inject (mode, pinning, fallback, universal pair).
	// With Mode Auto, a workload already injected keeps its mode while the
	// capability is unknown: an empty node list or an unreachable API server
	// must not flip every workload to the fallback.
	Options sidecar.Options
	// Facts says what the cluster can do for each pod template.
	Facts facts.Source
	// PatchType is StrategicMerge (the zero value means it) or JSONPatch.
	PatchType PatchType
	// Recorder, when set, records Events on the workloads.
	Recorder events.EventRecorder
	// Resync, when positive (and Reader is set), runs Scan when the
	// manager starts and every Resync after.
	Resync time.Duration
	// KeepOnOptOut leaves the sidecar in a workload that no longer matches
	// Selector. By default the injector removes what it injected
	// (sidecar.Uninject: the containers, volumes, mounts, env, node
	// requirement and record it added, nothing else) once a workload opts
	// out, so that removing the label undoes the injection.
	KeepOnOptOut bool
	// Metrics, when set, counts each reconcile's outcome by kind and mode.
	Metrics *metrics.Metrics

	prepare  sync.Once
	injector *sidecar.Injector // Spec, prepared once
	prepErr  error
}

func (r *Reconciler) newObject() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.Kind)
	return u
}

// SetupWithManager registers a controller for r.Kind that watches the
// opted-in workloads (changes of their spec, labels or annotations) and
// every Node (a change of a node's capability or pool re-evaluates the
// opted-in workloads that may land on it, see Affected), and, with Resync,
// a periodic full scan (see Scan).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Selector == nil {
		return fmt.Errorf("injector: %s: no opt-in selector", r.Kind.Kind)
	}
	// Opted-in workloads, and those that still carry the sidecar (opted
	// out since, or while the operator was down). A ReplicaSet or Job that
	// a controller owns is its owner's.
	relevant := predicate.NewPredicateFuncs(func(o client.Object) bool {
		if metav1.GetControllerOf(o) != nil {
			return false
		}
		return r.Selector.Matches(labels.Set(o.GetLabels())) || (!r.KeepOnOptOut && r.carriesRecord(o))
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("sidecar-injector-"+strings.ToLower(r.Kind.Kind)).
		For(r.newObject(), builder.WithPredicates(relevant, predicate.Or[client.Object](
			predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.Affected), builder.WithPredicates(NodeChanged()))
	if r.Resync > 0 && r.Reader != nil {
		scanned := make(chan event.GenericEvent)
		b = b.WatchesRawSource(source.Channel(scanned, &handler.EnqueueRequestForObject{}))
		// A plain Runnable runs on the leader only.
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			return r.scanEvery(ctx, scanned)
		})); err != nil {
			return err
		}
	}
	return b.Complete(r)
}

// scanEvery runs Scan at once and every Resync until ctx ends, sending
// what it finds to out.
func (r *Reconciler) scanEvery(ctx context.Context, out chan<- event.GenericEvent) error {
	t := time.NewTicker(r.Resync)
	defer t.Stop()
	for {
		n, err := r.Scan(ctx, func(o client.Object) bool {
			select {
			case out <- event.GenericEvent{Object: o}:
				return true
			case <-ctx.Done():
				return false
			}
		})
		if err != nil && ctx.Err() == nil {
			log.FromContext(ctx).Error(err, "full scan", "kind", r.Kind.Kind)
		} else if err == nil {
			log.FromContext(ctx).V(1).Info("full scan", "kind", r.Kind.Kind, "enqueued", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ScanPageSize is how many workloads a page of Scan's list holds.
const ScanPageSize = 100

// Scan lists every workload of r.Kind from the API server (Reader, in
// pages of ScanPageSize, so that memory is bounded by a page) and calls
// enqueue with each one that is opted in, or that carries the sidecar's
// record (unless KeepOnOptOut), and that no controller owns; it stops
// when enqueue returns false. It returns how many it enqueued.
//
// The informer holds only the opted-in workloads, so a workload whose
// label was removed while the operator was down is never seen by it: the
// scan finds it and the reconcile removes the sidecar.
func (r *Reconciler) Scan(ctx context.Context, enqueue func(client.Object) bool) (int, error) {
	if r.Reader == nil || r.Selector == nil {
		return 0, errors.New("injector: scan: no Reader or Selector")
	}
	n := 0
	cont := ""
	for {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(r.Kind.GroupVersion().WithKind(r.Kind.Kind + "List"))
		if err := r.Reader.List(ctx, l, client.Limit(ScanPageSize), client.Continue(cont)); err != nil {
			return n, fmt.Errorf("injector: scan %s: %w", r.Kind.Kind, err)
		}
		for i := range l.Items {
			o := &l.Items[i]
			if o.GetDeletionTimestamp() != nil || metav1.GetControllerOf(o) != nil {
				continue
			}
			if !r.Selector.Matches(labels.Set(o.GetLabels())) && (r.KeepOnOptOut || !r.carriesRecord(o)) {
				continue
			}
			key := r.newObject()
			key.SetNamespace(o.GetNamespace())
			key.SetName(o.GetName())
			if !enqueue(key) {
				return n, ctx.Err()
			}
			n++
		}
		if cont = l.GetContinue(); cont == "" {
			return n, nil
		}
	}
}

// NodeChanged is the predicate of the Node watch: what can change a node's
// capability or whether a template may land on it (its labels, its name,
// its kubelet version), and nodes coming and going.
func NodeChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, okO := e.ObjectOld.(*corev1.Node)
			n, okN := e.ObjectNew.(*corev1.Node)
			if !okO || !okN {
				return true
			}
			return o.Status.NodeInfo.KubeletVersion != n.Status.NodeInfo.KubeletVersion ||
				!labels.Equals(o.Labels, n.Labels)
		},
	}
}

// Affected maps a Node event to the opted-in workloads of r.Kind whose pod
// template may be scheduled on the node (its nodeName, nodeSelector and
// required node affinity, judged without the sidecar's own pin): only
// those can see their capability change. controller-runtime maps both the
// old and the new Node of an update, so a node that moves between pools
// re-evaluates the workloads of both. A workload that cannot be decoded
// is enqueued (its reconcile reports why).
func (r *Reconciler) Affected(ctx context.Context, o client.Object) []reconcile.Request {
	n, ok := o.(*corev1.Node)
	if !ok {
		return nil
	}
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(r.Kind.GroupVersion().WithKind(r.Kind.Kind + "List"))
	if err := r.Client.List(ctx, l, client.MatchingLabelsSelector{Selector: r.Selector}); err != nil {
		log.FromContext(ctx).Error(err, "list opted-in workloads", "kind", r.Kind.Kind)
		return nil
	}
	var out []reconcile.Request
	for i := range l.Items {
		u := &l.Items[i]
		if metav1.GetControllerOf(u) != nil || !r.mayLand(u, n) {
			continue
		}
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}})
	}
	return out
}

// mayLand reports whether a Pod of u's template may be placed on n.
func (r *Reconciler) mayLand(u *unstructured.Unstructured, n *corev1.Node) bool {
	obj, err := decode(u)
	if err != nil {
		return true
	}
	spec, err := sidecar.SchedulingSpec(obj.Meta, obj.Spec, r.Spec.Container.Name)
	if err != nil {
		return true
	}
	if spec.NodeName != "" {
		return spec.NodeName == n.Name
	}
	ok, err := nodeaffinity.NewRequiredNodeAffinity(spec.NodeSelector, spec.Affinity).Match(n)
	return ok || err != nil
}

// Reconcile brings one workload's pod template up to the sidecar: first the
// migrations MigrateAnnotation asks for (when the nodes allow), then
// sidecar.Inject, each sent as one patch when it changes anything; for a
// workload that opted out, sidecar.Uninject (unless KeepOnOptOut). A
// second reconcile of the same workload sends nothing. The outcome is
// written to the workload's StatusAnnotation when it changed.
//
// A ReplicaSet or Job that a controller owns (a Deployment's ReplicaSet, a
// CronJob's Job) is left to its owner: patching it would fight the owner (a
// Deployment creates a new ReplicaSet for a template that no longer matches
// its own). A Job's pod template cannot change after creation, so a Job
// without the sidecar is reported (StatusAnnotation, an Event), not
// patched.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	u := r.newObject()
	err := r.Client.Get(ctx, req.NamespacedName, u)
	if apierrors.IsNotFound(err) && r.Reader != nil && !r.KeepOnOptOut {
		err = r.Reader.Get(ctx, req.NamespacedName, u)
	}
	if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.Selector == nil || u.GetDeletionTimestamp() != nil {
		return ctrl.Result{}, nil
	}
	if owner := metav1.GetControllerOf(u); owner != nil {
		log.FromContext(ctx).V(1).Info("left to its controller", "owner", owner.Kind+"/"+owner.Name)
		r.Metrics.Injection(r.Kind.Kind, "", metrics.Skipped)
		return ctrl.Result{}, nil
	}
	optedIn := r.Selector.Matches(labels.Set(u.GetLabels()))
	if !optedIn && (r.KeepOnOptOut || !r.carriesRecord(u)) {
		return ctrl.Result{}, nil
	}
	obj, err := decode(u)
	if err != nil {
		r.event(u, corev1.EventTypeWarning, ReasonFailed, "Decode", "%v", err)
		r.Metrics.Injection(r.Kind.Kind, "", metrics.Failed)
		return ctrl.Result{}, r.finish(ctx, u, Status{State: StateFailed, Reason: err.Error()}, reconcile.TerminalError(err))
	}
	var st Status
	if !optedIn {
		st, err = r.uninject(ctx, u, obj)
	} else {
		c, cerr := r.capability(ctx, obj)
		if cerr != nil {
			// Decide from what is known: compat treats Unknown as unknown.
			r.event(u, corev1.EventTypeWarning, ReasonFactsPartial, "Inject", "capability partly unknown: %v", cerr)
		}
		if obj, err = r.migrate(ctx, u, obj, c); err == nil {
			st, err = r.inject(ctx, u, obj, c)
		}
	}
	if apierrors.IsConflict(err) {
		// The cache was behind (often our own last patch): not an error,
		// read again shortly.
		log.FromContext(ctx).V(1).Info("conflict, retrying", "error", err.Error())
		return ctrl.Result{RequeueAfter: ConflictRetry}, nil
	}
	if err != nil && !errors.Is(err, reconcile.TerminalError(nil)) {
		return ctrl.Result{}, err // retried; the status stays as it was
	}
	return ctrl.Result{}, r.finish(ctx, u, st, err)
}

// finish writes st to the workload's StatusAnnotation and returns err (or
// the status patch's error when err is nil).
func (r *Reconciler) finish(ctx context.Context, u *unstructured.Unstructured, st Status, err error) error {
	if st.State == "" {
		return err
	}
	if perr := r.setStatus(ctx, u, st); perr != nil && err == nil && !apierrors.IsNotFound(perr) {
		return perr
	}
	return err
}

// ConflictRetry is how soon a workload is read again after its patch met a
// newer resourceVersion.
const ConflictRetry = time.Second

// capability asks Facts about the template as the scheduler would see it
// without the sidecar's own pin (see sidecar.SchedulingSpec).
func (r *Reconciler) capability(ctx context.Context, obj *patch.Object) (compat.Capability, error) {
	spec, err := sidecar.SchedulingSpec(obj.Meta, obj.Spec, r.Spec.Container.Name)
	if err != nil {
		return compat.Capability{}, err
	}
	return r.Facts.Capability(ctx, spec)
}

func (r *Reconciler) inject(ctx context.Context, u *unstructured.Unstructured, obj *patch.Object, c compat.Capability) (Status, error) {
	opts := r.Options
	if opts.Mode == sidecar.Auto {
		if rec, has, err := sidecar.ReadRecord(obj.Meta, r.Spec.Container.Name); err == nil && has && unknown(c) && holds(obj.Spec, r.Spec.Container.Name, rec.Mode) {
			opts.Mode = rec.Mode
		}
	}
	r.prepare.Do(func() { r.injector, r.prepErr = sidecar.NewInjector(r.Spec) })
	if r.prepErr != nil {
		return Status{}, reconcile.TerminalError(r.prepErr)
	}
	// InjectObject sees the raw fields the compiled types lack (a sidecar
	// container carrying any is replaced whole) and the pod-level
	// resources.
	res, err := r.injector.InjectObject(ctx, obj, c, opts)
	if err != nil {
		// A foreign container of the sidecar's name, an invalid result: the
		// workload must change first, and that change triggers a reconcile.
		r.event(u, corev1.EventTypeWarning, ReasonFailed, "Inject", "%v", err)
		r.Metrics.Injection(r.Kind.Kind, opts.Mode.String(), metrics.Failed)
		return Status{State: StateFailed, Mode: opts.Mode.String(), Reason: err.Error(), Capability: c.String()}, reconcile.TerminalError(err)
	}
	if res.Mutation.Empty() {
		if res.Skipped == sidecar.SkipDeclined {
			r.Metrics.Injection(r.Kind.Kind, res.Mode.String(), metrics.Skipped)
			return Status{State: StateSkipped, Reason: res.Reason, Capability: c.String()}, nil
		}
		st := r.injected(obj, c)
		r.Metrics.Injection(r.Kind.Kind, st.Mode, metrics.Unchanged)
		return st, nil
	}
	if r.Kind.Kind == "Job" {
		r.Metrics.Injection(r.Kind.Kind, res.Mode.String(), metrics.Skipped)
		return Status{State: StateSkipped, Mode: res.Mode.String(), Reason: jobImmutable + "; inject it when the Job is created (the webhook)", Capability: c.String()}, nil
	}
	how, err := r.send(ctx, u, obj, res.Mutation)
	if err != nil {
		if !apierrors.IsConflict(err) {
			r.Metrics.Injection(r.Kind.Kind, res.Mode.String(), metrics.Failed)
		}
		return Status{}, err
	}
	r.Metrics.Injection(r.Kind.Kind, res.Mode.String(), metrics.Injected)
	r.event(u, corev1.EventTypeNormal, ReasonInjected, "Inject", "%s %s (%s): %s", how, res.Mode, c.String(), res.Reason)
	for _, w := range res.Warnings {
		r.event(u, corev1.EventTypeWarning, ReasonWarning, "Inject", "%s", w)
	}
	log.FromContext(ctx).Info("sidecar injected", "mode", res.Mode, "code", res.Code, "patch", how, "capability", c.String())
	after, err := decode(u)
	if err != nil {
		return Status{}, err
	}
	return r.injected(after, c), nil
}

// jobImmutable says why the injector never patches a Job: the API server
// refuses any change of a Job's pod template but its scheduling directives
// (validatePodTemplateUpdate in
// https://github.com/kubernetes/kubernetes/blob/v1.37.2/pkg/apis/batch/validation/validation.go).
const jobImmutable = "a Job's pod template cannot change after creation"

// injected is the status of a workload whose template carries the sidecar
// as wanted: its record's mode, reason and spec hash.
func (r *Reconciler) injected(obj *patch.Object, c compat.Capability) Status {
	st := Status{State: StateInjected, Image: r.Spec.Container.Image, Capability: c.String()}
	rec, has, err := sidecar.ReadRecord(obj.Meta, r.Spec.Container.Name)
	switch {
	case err != nil:
		st.Reason = err.Error()
	case has:
		st.Mode, st.Reason, st.Spec = rec.Mode.String(), rec.Reason, rec.Spec
	}
	return st
}

// uninject removes what the injector added to a workload that opted out.
func (r *Reconciler) uninject(ctx context.Context, u *unstructured.Unstructured, obj *patch.Object) (Status, error) {
	mode := recordedMode(obj, r.Spec.Container.Name, sidecar.Auto)
	m, err := sidecar.Uninject(obj.Meta, obj.Spec, r.Spec.Container.Name)
	if err != nil {
		// A record that does not decode, a foreign container of the
		// sidecar's name: leave the workload as it is.
		r.event(u, corev1.EventTypeWarning, ReasonFailed, "Uninject", "%v", err)
		r.Metrics.Injection(r.Kind.Kind, mode, metrics.Failed)
		return Status{State: StateFailed, Mode: mode, Reason: err.Error()}, reconcile.TerminalError(err)
	}
	reason := fmt.Sprintf("the workload no longer matches %s", r.Selector)
	if m.Empty() {
		return Status{}, nil
	}
	if r.Kind.Kind == "Job" {
		r.Metrics.Injection(r.Kind.Kind, mode, metrics.Skipped)
		return Status{State: StateSkipped, Mode: mode, Reason: reason + ", but " + jobImmutable}, nil
	}
	how, err := r.send(ctx, u, obj, m)
	if err != nil {
		if !apierrors.IsConflict(err) {
			r.Metrics.Injection(r.Kind.Kind, mode, metrics.Failed)
		}
		return Status{}, err
	}
	r.Metrics.Injection(r.Kind.Kind, mode, metrics.Removed)
	r.event(u, corev1.EventTypeNormal, ReasonUninjected, "Uninject", "%s: %s", how, reason)
	log.FromContext(ctx).Info("sidecar removed", "patch", how)
	return Status{State: StateRemoved, Reason: reason}, nil
}

// StatusAnnotation, on a workload's own metadata (not its pod template:
// writing it rolls nothing out), holds the injector's last outcome for it
// as the JSON of a Status. It is rewritten only when the outcome changes;
// an Event is recorded then for a skip.
const StatusAnnotation = "sidecarkit.io/sidecar-status"

// The states of a Status.
const (
	// StateInjected: the pod template carries the sidecar as wanted.
	StateInjected = "Injected"
	// StateRemoved: the sidecar was removed (the workload opted out).
	StateRemoved = "Removed"
	// StateSkipped: nothing was injected, and Reason says why (declined,
	// a Job's immutable template).
	StateSkipped = "Skipped"
	// StateFailed: the injection failed, and Reason says why; the
	// workload has to change first.
	StateFailed = "Failed"
)

// Status is what StatusAnnotation says: what the injector did to a
// workload, and why.
type Status struct {
	// Sidecar is the sidecar container's name.
	Sidecar string `json:"sidecar"`
	// State is StateInjected, StateRemoved, StateSkipped or StateFailed.
	State string `json:"state"`
	// Mode is the injection mode (native, legacy, pinned, universal).
	Mode string `json:"mode,omitempty"`
	// Image is the sidecar image injected.
	Image string `json:"image,omitempty"`
	// Spec is the injection record's hash of the sidecar spec and mode.
	Spec string `json:"spec,omitempty"`
	// Reason says why: compat's code for the mode auto chose ("all-native"),
	// "requested" for a forced mode, or the skip's or failure's reason.
	Reason string `json:"reason"`
	// Capability is what the cluster could do for the pod template.
	Capability string `json:"capability,omitempty"`
}

// maxStatusReason bounds a Status's Reason (an error message may quote
// the object).
const maxStatusReason = 1024

// setStatus writes st to u's StatusAnnotation with a JSON merge patch of
// that one annotation, when it differs, and records an Event for a skip.
func (r *Reconciler) setStatus(ctx context.Context, u *unstructured.Unstructured, st Status) error {
	st.Sidecar = r.Spec.Container.Name
	if len(st.Reason) > maxStatusReason {
		cut := maxStatusReason
		for cut > 0 && !utf8.RuneStart(st.Reason[cut]) {
			cut--
		}
		st.Reason = st.Reason[:cut] + "…"
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if u.GetAnnotations()[StatusAnnotation] == string(b) {
		return nil
	}
	body, err := json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{"annotations": map[string]string{StatusAnnotation: string(b)}}})
	if err != nil {
		return err
	}
	if err := r.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("patch %s %s/%s: %s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), StatusAnnotation, err)
	}
	if st.State == StateSkipped {
		typ := corev1.EventTypeNormal
		if r.Kind.Kind == "Job" {
			typ = corev1.EventTypeWarning
		}
		r.event(u, typ, ReasonSkipped, "Inject", "%s", st.Reason)
	}
	return nil
}

// carriesRecord reports whether the workload's pod template carries the
// sidecar's injection record (read from the unstructured object, without
// decoding it: the watch predicate runs on every workload event).
func (r *Reconciler) carriesRecord(o client.Object) bool {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return false
	}
	root, err := patch.RootFor(r.Kind.Kind)
	if err != nil {
		return false
	}
	meta, ok := root.Metadata()
	if !ok {
		return false
	}
	path := append(strings.Split(strings.TrimPrefix(meta, "/"), "/"), "annotations")
	ann, _, _ := unstructured.NestedStringMap(u.Object, path...)
	_, has := ann[sidecar.Annotation(r.Spec.Container.Name)]
	return has
}

// recordedMode is the mode of the sidecar's injection record on the
// object, or def's name when there is none.
func recordedMode(obj *patch.Object, name string, def sidecar.Mode) string {
	if rec, has, err := sidecar.ReadRecord(obj.Meta, name); err == nil && has {
		return rec.Mode.String()
	}
	if def == sidecar.Auto {
		return ""
	}
	return def.String()
}

// holds reports whether spec has the sidecar named name in the form mode
// gives it: a record is the template's own word, so the mode it names is
// kept only where the template carries the sidecar that way (a forged
// record on a template without the sidecar chooses nothing).
func holds(spec *corev1.PodSpec, name string, mode sidecar.Mode) bool {
	if spec == nil {
		return false
	}
	native := func() bool {
		for i := range spec.InitContainers {
			if c := &spec.InitContainers[i]; c.Name == name {
				return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
			}
		}
		return false
	}
	regular := func(n string) bool {
		for i := range spec.Containers {
			if spec.Containers[i].Name == n {
				return true
			}
		}
		return false
	}
	switch mode {
	case sidecar.Native, sidecar.Pinned:
		return native()
	case sidecar.Legacy:
		return regular(name)
	case sidecar.Universal:
		return native() && regular(name+"-legacy")
	}
	return false
}

// unknown reports whether Auto would decide from the caller's fallback.
func unknown(c compat.Capability) bool {
	rec, _ := sidecar.Recommend(c, sidecar.Options{}) // the zero Options are valid
	switch rec.Code {
	case compat.CodeAPIServerUnknown, compat.CodeKubeletUnknown:
		return true
	}
	return false
}

// migrate moves each container MigrateAnnotation names from containers to
// initContainers, one patch per container, once the capability is native
// everywhere the template may land. It returns the object as the last
// patch left it.
func (r *Reconciler) migrate(ctx context.Context, u *unstructured.Unstructured, obj *patch.Object, c compat.Capability) (*patch.Object, error) {
	names := splitList(u.GetAnnotations()[MigrateAnnotation])
	if len(names) == 0 || r.Kind.Kind == "Job" {
		return obj, nil
	}
	o := sidecar.Options{AvoidUnorderedTermination: r.Options.AvoidUnorderedTermination}
	if rec, err := sidecar.Recommend(c, o); err != nil || rec.Mode != sidecar.Native {
		return obj, nil // not yet: the annotation stays and waits for the nodes
	}
	for _, name := range names {
		if !hasContainer(obj.Spec.Containers, name) {
			if !isSidecar(obj.Spec.InitContainers, name) {
				r.event(u, corev1.EventTypeWarning, ReasonWarning, "Migrate", "%s names %q, which is not a regular container of the pod template", MigrateAnnotation, name)
			}
			continue
		}
		m, err := sidecar.Migrate(obj.Meta, obj.Spec, name, sidecar.Native, sidecar.Placement{})
		if err != nil {
			r.event(u, corev1.EventTypeWarning, ReasonFailed, "Migrate", "%v", err)
			continue
		}
		if m.Empty() {
			continue
		}
		if _, err := r.send(ctx, u, obj, m); err != nil { // a move: sent as a JSON patch
			return nil, err
		}
		r.Metrics.Injection(r.Kind.Kind, sidecar.Native.String(), metrics.Migrated)
		r.event(u, corev1.EventTypeNormal, ReasonMigrated, "Migrate", "container %q moved to initContainers with restartPolicy Always (%s)", name, c.String())
		if obj, err = decode(u); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// send patches the workload with the mutation and returns the patch type
// used. u is updated from the API server's answer. Both patch types carry
// the workload's resourceVersion as a precondition.
func (r *Reconciler) send(ctx context.Context, u *unstructured.Unstructured, obj *patch.Object, m *patch.Mutation) (string, error) {
	if r.PatchType == JSONPatch {
		body, err := m.MarshalJSONPatch(obj.Root, patch.Guarded(), patch.ResourceVersion(u.GetResourceVersion()))
		if err != nil {
			return "", terminal(u, err)
		}
		if err := r.Client.Patch(ctx, u, client.RawPatch(types.JSONPatchType, body)); err != nil {
			return "", patchErr(u, err)
		}
		return "JSON patch", nil
	}
	// A strategic merge patch, or, for a move between lists (which a
	// strategic merge patch cannot express without losing the container's
	// unknown fields), a guarded JSON patch; both with the resourceVersion.
	pt, err := crwebhook.PatchWorkload(ctx, r.Client, u, m)
	if err != nil {
		return "", patchErr(u, err)
	}
	if pt == types.JSONPatchType {
		return "JSON patch", nil
	}
	return "strategic merge patch", nil
}

func decode(u *unstructured.Unstructured) (*patch.Object, error) {
	return crwebhook.DecodeWorkload(u)
}

func terminal(u *unstructured.Unstructured, err error) error {
	return reconcile.TerminalError(fmt.Errorf("%s %s/%s: render patch: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err))
}

// patchErr wraps a patch failure. Conflicts (a stale resourceVersion),
// failed tests (a container moved since it was read) and everything else
// are retried with backoff on a fresh read; a workload gone meanwhile is
// nothing to do.
func patchErr(u *unstructured.Unstructured, err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("patch %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
}

func (r *Reconciler) event(u *unstructured.Unstructured, typ, reason, action, note string, args ...interface{}) {
	if r.Recorder != nil {
		r.Recorder.Eventf(u, nil, typ, reason, action, note, args...)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func hasContainer(l []corev1.Container, name string) bool {
	for i := range l {
		if l[i].Name == name {
			return true
		}
	}
	return false
}

func isSidecar(l []corev1.Container, name string) bool {
	for i := range l {
		if l[i].Name == name {
			return l[i].RestartPolicy != nil && *l[i].RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}
