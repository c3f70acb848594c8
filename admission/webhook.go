package admission

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/annotation"
	"github.com/sidecarkit/sidecarkit/internal/leanpod"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Config is what a [Webhook] injects, and where.
type Config struct {
	// Spec is the sidecar to inject. New validates it.
	Spec sidecar.Spec
	// Options tune the injection: the mode policy (Mode, AllowPinned,
	// Fallback, AvoidUnorderedTermination), the universal planner and the
	// Decide hook that opts Pods in or out. PodResources is ignored: each
	// request supplies its own.
	Options sidecar.Options
	// Capability says what the cluster can do for a request, for example
	// the weakest node's capability from a Node informer
	// (compat.Cluster.For) and the API server's. It is called once per
	// request that may be mutated, and must be safe for concurrent use.
	// An error fails the request with HTTP 500 (see the package
	// documentation); to degrade to Options.Fallback instead, return a
	// compat.Capability with Unknown parts and no error. Nil means an
	// Unknown capability, so Auto takes the fallback. The hook judges the
	// Pod by Request.SchedulingSpec; Request.Object decodes the whole
	// object when it needs more, at the cost of a full decode (a Webhook
	// decodes a Pod only as far as the injection reads it, unless
	// Options.Decide or Options.Universal is set).
	Capability func(ctx context.Context, r *Request) (compat.Capability, error)
	// Workloads makes CREATE requests of Deployments, StatefulSets,
	// DaemonSets, ReplicaSets, Jobs, CronJobs, ReplicationControllers and
	// PodTemplates mutate their pod template too (the Pods they create are
	// then already injected, and reviews of them give no patch). The
	// default mutates Pods only.
	Workloads bool
	// ExcludeNamespaces lists namespaces whose requests are allowed
	// unchanged (a safety net behind the webhook's namespaceSelector, for
	// example kube-system and the webhook's own namespace).
	ExcludeNamespaces []string
	// AllowOnError admits a Pod that cannot take the sidecar unchanged,
	// with a warning, instead of denying it.
	AllowOnError bool
}

// Request is the part of an admission request that a capability source
// may need. SchedulingSpec is what to judge the nodes by (pass it to
// compat.Cluster.For): the object's pod spec without the node requirement
// of an earlier pinned injection of this sidecar (see
// sidecar.SchedulingSpec), so that a reinvocation does not unpin the Pod,
// and without its lists of containers and volumes, which say nothing
// about placement: every other field of the spec is there. It must not be
// modified.
type Request struct {
	UID             string
	Kind            metav1.GroupVersionKind
	Namespace, Name string
	Operation       string
	DryRun          bool
	SchedulingSpec  *corev1.PodSpec

	raw  []byte        // request.object
	obj  *patch.Object // decoded in full, or nil
	err  error         // of decoding raw in full
	done bool          // obj or err is set
}

// Object returns the request's object decoded in full (patch.DecodeAs),
// for a capability source that must read more than SchedulingSpec, such
// as the containers. It must not be modified. A Webhook decodes a Pod
// only as far as its injection reads it, so the first call decodes the
// object again, in full: a hook that needs no more than SchedulingSpec
// and the Request's other fields should not call it. Like the Request, it
// is for the hook's own goroutine: it is not safe for concurrent use.
func (r *Request) Object() (*patch.Object, error) {
	if !r.done {
		r.obj, r.err = patch.DecodeAs(r.raw, r.Kind.Kind)
		r.done = true
	}
	return r.obj, r.err
}

// Webhook answers AdmissionReviews by injecting one sidecar. It is safe
// for concurrent use.
type Webhook struct {
	spec       sidecar.Spec
	injector   *sidecar.Injector // spec, validated and prepared once
	opts       sidecar.Options
	capability func(context.Context, *Request) (compat.Capability, error)
	workloads  bool
	exclude    map[string]bool
	allowOnErr bool
	// lean: nothing but the injection reads the object's containers (no
	// Decide hook or universal planner; the Capability hook reads them
	// only through Request.Object), so a Pod may be decoded leanly (see
	// decode).
	lean bool
	// record is the key of the sidecar's record annotation.
	record string
	// reads is what the lean decode decodes in full.
	reads leanpod.Reads
	// patchBufs holds *[]byte buffers that Review renders patches into
	// (see Review, release); a pointer, so that a Webhook copied in tests
	// copies no lock.
	patchBufs *sync.Pool
	// general: every review takes the general path, never the fresh one
	// (see Webhook.fresh); set only by tests, which hold the two to one
	// answer.
	general bool
}

// New checks c and returns a Webhook for it. The Spec must be valid, and
// the universal mode (forced, or as the fallback) needs
// Options.Universal.
func New(c Config) (*Webhook, error) {
	prepared, err := sidecar.NewInjector(c.Spec)
	if err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	if c.Options.Universal == nil && (c.Options.Mode == sidecar.Universal || c.Options.Fallback == sidecar.Universal) {
		return nil, errors.New("admission: the universal mode needs Options.Universal (a universal.Planner)")
	}
	wh := &Webhook{
		spec:       prepared.Spec(),
		injector:   prepared,
		opts:       c.Options,
		capability: c.Capability,
		workloads:  c.Workloads,
		allowOnErr: c.AllowOnError,
		patchBufs:  &sync.Pool{},
	}
	wh.opts.PodResources = nil
	wh.record = sidecar.Annotation(wh.spec.Container.Name)
	wh.reads = leanpod.Reads{Containers: map[string]bool{wh.spec.Container.Name: true}, MountPaths: map[string]bool{}, EnvNames: map[string]bool{}}
	for _, m := range wh.spec.AppMounts {
		wh.reads.MountPaths[m.MountPath] = true
	}
	for _, e := range wh.spec.AppEnv {
		wh.reads.EnvNames[e.Name] = true
	}
	wh.reads.VolumeNames = make(map[string]bool, len(wh.spec.Volumes))
	for _, v := range wh.spec.Volumes {
		wh.reads.VolumeNames[v.Name] = true
	}
	// The injection reads its record and kubectl's default container of
	// the annotations (sidecar.ReadRecord, the default-container edit).
	wh.reads.Annotations = map[string]bool{wh.record: true, annotation.DefaultContainer: true}
	wh.lean = c.Options.Decide == nil && c.Options.Universal == nil
	if len(c.ExcludeNamespaces) > 0 {
		wh.exclude = make(map[string]bool, len(c.ExcludeNamespaces))
		for _, ns := range c.ExcludeNamespaces {
			wh.exclude[ns] = true
		}
	}
	return wh, nil
}

// kinds are the group/kinds a Webhook may mutate, with whether they are
// workloads (mutated only with Config.Workloads).
var kinds = map[metav1.GroupKind]bool{
	{Group: "", Kind: "Pod"}:                   false,
	{Group: "apps", Kind: "Deployment"}:        true,
	{Group: "apps", Kind: "StatefulSet"}:       true,
	{Group: "apps", Kind: "DaemonSet"}:         true,
	{Group: "apps", Kind: "ReplicaSet"}:        true,
	{Group: "batch", Kind: "Job"}:              true,
	{Group: "batch", Kind: "CronJob"}:          true,
	{Group: "", Kind: "ReplicationController"}: true,
	{Group: "", Kind: "PodTemplate"}:           true,
}

func (wh *Webhook) handles(k metav1.GroupVersionKind) bool {
	workload, ok := kinds[metav1.GroupKind{Group: k.Group, Kind: k.Kind}]
	return ok && (!workload || wh.workloads)
}
