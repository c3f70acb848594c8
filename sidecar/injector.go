package sidecar

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/encoded"
	"github.com/sidecarkit/sidecarkit/patch"
)

// Injector is a Spec prepared for injection into many Pods: the Spec is
// validated once, and the plan of each mode, its hash and the JSON
// encoding of the containers it inserts are computed on first use and
// reused. A webhook creates one Injector per Spec and calls
// [Injector.Inject] for every request; it is safe for concurrent use.
//
// Injector.Inject gives exactly what [Inject] gives for the same Spec.
type Injector struct {
	spec  Spec
	modes [3]compiledMode // Native, Pinned, Legacy
	wrap  wrapEditor      // nil but in tests (see editor)
}

// compiledMode is the pod-independent part of one mode's injection.
type compiledMode struct {
	once    sync.Once
	plan    Plan // Legacy: ContainerPlacement is set per pod
	hash    string
	names   map[string]bool
	encoded map[string]*patch.EncodedContainer
	// encodedVolumes are the plan's volumes, encoded, by index (nil for
	// the universal plan, which is built for each pod).
	encodedVolumes []*patch.EncodedVolume
	err            error
	// The digests of the plan's elements (see Record): of the containers
	// by name, for a pod without hostNetwork or token volumes (whose
	// defaults differ); of the volumes, app mounts and app env by index.
	// Nil for the universal plan, which is built for each pod.
	containers            map[string]string
	volumes, mounts, envs []string
	// mountPaths are the mountPaths of the plan's app mounts, shared by
	// the containers that get all of them (see managedMounts); nil for
	// the universal plan.
	mountPaths []string
	// The maps of a Record that are the same for every Pod (see
	// recordMaps), shared by the records and never changed: the digests
	// of the containers of each list (for a pod without hostNetwork or
	// token volumes), of the volumes, app mounts and app env, and the
	// resource keys. A map of no element is nil.
	initDigests, regularDigests map[string]string
	volumeDigests               map[string]string
	appMounts, appEnv           map[string]string
	resources                   map[string][]string
	// keys are resourceKeys of the plan's containers by name (nil for the
	// universal plan); the record shares the slices and never changes them.
	keys map[string][]string
	// record is the last record encoded for this mode, with its encoding
	// (see encodeRecord).
	record atomic.Pointer[encodedRecord]
	// recordKey is the record annotation's key (Annotation), and items
	// the encodings of the plan's app mounts and env prepared for the
	// Mutations (internal/encoded; nil when the plan has none): both
	// unset for the universal plan.
	recordKey string
	items     interface{}
	// fresh is the mode prepared for appendFresh (nil when it does not
	// cover the mode), on first use.
	freshOnce sync.Once
	fresh     *freshMode
}

// encodedRecord is a Record and its encoding, with the encodings of
// setting the record annotation to it prepared for the Mutations
// (internal/encoded). None changes once stored: the record's maps are
// those of an injection that has ended.
type encodedRecord struct {
	rec      Record
	enc      string
	prepared interface{}
}

// encodeRecord returns r.encode(). Fresh Pods injected under one mode and
// reason get the same record, whose encoding is about a tenth of an
// injection: the last one is kept and reused for an equal record (every
// field compared, Reason included, which equal leaves out). A plan built
// for one Pod (the universal mode's, whose digests are nil) keeps none.
func (cm *compiledMode) encodeRecord(r *Record) string {
	enc, _ := cm.encodeRecordPrepared(r)
	return enc
}

// encodeRecordPrepared is encodeRecord that also returns the encodings of
// setting the record annotation to the record, prepared once per
// encoding kept (nil when none is kept) for encoded.Use.
func (cm *compiledMode) encodeRecordPrepared(r *Record) (string, interface{}) {
	if cm.containers == nil {
		return r.encode(), nil
	}
	if last := cm.record.Load(); last != nil && last.rec.Reason == r.Reason && last.rec.equal(r) {
		return last.enc, last.prepared
	}
	enc := r.encode()
	kept := &encodedRecord{rec: *r, enc: enc}
	if cm.recordKey != "" {
		kept.prepared = encoded.Annotation(cm.recordKey, enc)
	}
	cm.record.Store(kept)
	return enc, kept.prepared
}

// resourceKeys returns resourceKeys(c), computed once for the plan's own
// containers.
func (cm *compiledMode) resourceKeys(c *corev1.Container) []string {
	if k, ok := cm.keys[c.Name]; ok {
		return k
	}
	return resourceKeys(c)
}

func (cm *compiledMode) containerDigest(c *corev1.Container, f *podFacts) string {
	if d, ok := cm.containers[c.Name]; ok && !f.defaults.hostNetwork && len(f.tokenVolumes) == 0 {
		return d
	}
	return containerDigest(c, f)
}

func (cm *compiledMode) volumeDigest(j int, v *corev1.Volume) string {
	if j < len(cm.volumes) {
		return cm.volumes[j]
	}
	return volumeDigest(v)
}

func (cm *compiledMode) mountDigest(j int, m *corev1.VolumeMount) string {
	if j < len(cm.mounts) {
		return cm.mounts[j]
	}
	return mountDigest(m)
}

func (cm *compiledMode) envDigest(j int, e *corev1.EnvVar) string {
	if j < len(cm.envs) {
		return cm.envs[j]
	}
	return envDigest(e)
}

// digests computes the digests of a plan built once.
func (cm *compiledMode) digests() {
	var f podFacts
	cm.containers = make(map[string]string, len(cm.names))
	cm.keys = make(map[string][]string, len(cm.names))
	for _, l := range [][]corev1.Container{cm.plan.InitContainers, cm.plan.Containers} {
		for i := range l {
			cm.containers[l[i].Name] = containerDigest(&l[i], &f)
			cm.keys[l[i].Name] = resourceKeys(&l[i])
		}
	}
	for i := range cm.plan.Volumes {
		cm.volumes = append(cm.volumes, volumeDigest(&cm.plan.Volumes[i]))
	}
	for i := range cm.plan.AppMounts {
		cm.mounts = append(cm.mounts, mountDigest(&cm.plan.AppMounts[i]))
	}
	cm.mountPaths = mountPathsOf(cm.plan.AppMounts)
	for i := range cm.plan.AppEnv {
		cm.envs = append(cm.envs, envDigest(&cm.plan.AppEnv[i]))
	}
	cm.recordMaps()
}

// recordMaps computes the Record maps shared by every Pod (see
// compiledMode), from the digests.
func (cm *compiledMode) recordMaps() {
	p := &cm.plan
	for _, l := range []struct {
		cs []corev1.Container
		to *map[string]string
	}{{p.InitContainers, &cm.initDigests}, {p.Containers, &cm.regularDigests}} {
		for i := range l.cs {
			n := l.cs[i].Name
			*l.to = with(*l.to, n, cm.containers[n])
			if k := cm.keys[n]; k != nil {
				if cm.resources == nil {
					cm.resources = map[string][]string{}
				}
				cm.resources[n] = k
			}
		}
	}
	for i := range p.Volumes {
		cm.volumeDigests = with(cm.volumeDigests, p.Volumes[i].Name, cm.volumes[i])
	}
	for i := range p.AppMounts {
		cm.appMounts = with(cm.appMounts, p.AppMounts[i].MountPath, cm.mounts[i])
	}
	for i := range p.AppEnv {
		cm.appEnv = with(cm.appEnv, p.AppEnv[i].Name, cm.envs[i])
	}
}

// with sets m[k] to v, making m first when it is nil.
func with(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// listDigests returns the shared digests of the plan's containers of list
// l, when want is that list of this mode's compiled plan and the Pod's
// facts give the digests the compiled plan has (see containerDigest);
// nil otherwise (a plan built for one Pod has none).
func (cm *compiledMode) listDigests(l patch.List, want []corev1.Container, f *podFacts) map[string]string {
	plan, shared := cm.plan.Containers, cm.regularDigests
	if l == patch.InitContainers {
		plan, shared = cm.plan.InitContainers, cm.initDigests
	}
	if f.defaults.hostNetwork || len(f.tokenVolumes) > 0 ||
		len(want) == 0 || len(want) != len(plan) || &want[0] != &plan[0] {
		return nil
	}
	return shared
}

// NewInjector validates s (see [Spec.Validate]) and returns an Injector
// holding a deep copy of it.
func NewInjector(s Spec) (*Injector, error) {
	in, err := newInjector(s, true)
	if err != nil {
		return nil, fmt.Errorf("sidecar: %w", err)
	}
	return in, nil
}

// newInjector validates s. The Injector keeps s as given unless deep is
// set: Inject, which uses it once, needs no copy.
func newInjector(s Spec, deep bool) (*Injector, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	in := &Injector{spec: s}
	if deep {
		in.spec = s.deepCopy()
	}
	return in, nil
}

// Spec returns a deep copy of the injector's Spec.
func (in *Injector) Spec() Spec { return in.spec.deepCopy() }

// Capability returns what cl can do for the Pod of obj, judged as the Pod
// would schedule without a node requirement this sidecar's pinned
// injection added (SchedulingSpec): with its own pin a pinned Pod selects
// only native nodes and would look all-native, so a second injection would
// unpin it. It is the capability to pass to InjectObject. Like
// compat.Cluster.For, it returns what could be read together with an error
// naming what could not.
func (in *Injector) Capability(cl compat.Cluster, obj *patch.Object) (compat.Capability, error) {
	if obj == nil {
		return compat.Capability{}, fmt.Errorf("sidecar: capability: nil object")
	}
	spec, err := SchedulingSpec(obj.Meta, obj.Spec, in.spec.Container.Name)
	c, cerr := cl.For(spec)
	return c, errors.Join(err, cerr)
}

// Name returns the sidecar's container name (without copying the Spec):
// the name its record annotation is keyed by (Annotation) and the one to
// pass to SchedulingSpec, Uninject and Migrate.
func (in *Injector) Name() string { return in.spec.Container.Name }

// Inject is [Inject] with the injector's Spec, bounded by ctx: when ctx
// ends, Inject stops and returns an error that wraps ctx.Err(). The work
// is linear in the size of the pod spec.
func (in *Injector) Inject(ctx context.Context, meta *metav1.ObjectMeta, spec *corev1.PodSpec, c compat.Capability, o Options) (Result, error) {
	if spec == nil {
		return Result{}, fmt.Errorf("sidecar: inject: nil pod spec")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return in.inject(ctx, meta, spec, c, o)
}

// InjectObject is [Injector.Inject] for an object decoded by package patch
// (a Pod or a workload), the form a webhook or an operator holds: it
// takes the pod-level resources from obj (unless Options.PodResources is
// set), and it also sees fields of the raw document that the compiled API
// types do not know: a container of the sidecar's that carries any is
// replaced by the Spec's whole, since a field-by-field restore would keep
// them. The Result's Mutation renders for obj (at obj.Root):
// res.Mutation.JSONPatch().
func (in *Injector) InjectObject(ctx context.Context, obj *patch.Object, c compat.Capability, o Options) (Result, error) {
	if obj == nil || obj.Spec == nil {
		return Result{}, fmt.Errorf("sidecar: inject: nil object or pod spec")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if o.PodResources == nil {
		o.PodResources = obj.PodResources
	}
	return in.injectWith(ctx, obj.Meta, obj.Spec, obj.Mutation(), c, o, obj.UnknownFields)
}

// plan returns the compiled plan of mode. Universal plans depend on the
// Pod and the planner and are built on every call.
func (in *Injector) plan(mode Mode, pod *corev1.PodSpec, o *Options) (*compiledMode, error) {
	var cm *compiledMode
	switch mode {
	case Native:
		cm = &in.modes[0]
	case Pinned:
		cm = &in.modes[1]
	case Legacy:
		cm = &in.modes[2]
	default:
		p, err := planFor(mode, &in.spec, pod, o)
		if err != nil {
			return nil, err
		}
		if err := p.checkNames(in.spec.Container.Name); err != nil {
			return nil, err
		}
		return &compiledMode{plan: p, hash: p.hash(), names: p.names()}, nil
	}
	cm.once.Do(func() {
		// The plans of these modes do not depend on the Pod, except for
		// Legacy's ContainerPlacement, which the caller sets.
		cm.plan, cm.err = planFor(mode, &in.spec, nil, o)
		if cm.err != nil {
			return
		}
		cm.plan.ContainerPlacement = Placement{}
		if cm.err = cm.plan.checkNames(in.spec.Container.Name); cm.err != nil {
			return
		}
		cm.hash, cm.names = cm.plan.hash(), cm.plan.names()
		cm.digests()
		cm.recordKey = Annotation(in.spec.Container.Name)
		if len(cm.plan.AppMounts) > 0 || len(cm.plan.AppEnv) > 0 {
			if cm.items, cm.err = encoded.Items(cm.plan.AppMounts, cm.plan.AppEnv); cm.err != nil {
				return
			}
		}
		cm.encoded = make(map[string]*patch.EncodedContainer, len(cm.names))
		for _, l := range [][]corev1.Container{cm.plan.InitContainers, cm.plan.Containers} {
			for i := range l {
				enc, err := patch.EncodeContainer(l[i])
				if err != nil {
					cm.err = err
					return
				}
				cm.encoded[l[i].Name] = enc
			}
		}
		for i := range cm.plan.Volumes {
			enc, err := patch.EncodeVolume(cm.plan.Volumes[i])
			if err != nil {
				cm.err = err
				return
			}
			cm.encodedVolumes = append(cm.encodedVolumes, enc)
		}
	})
	if cm.err != nil {
		return nil, cm.err
	}
	return cm, nil
}

func (s *Spec) deepCopy() Spec {
	out := Spec{Container: *s.Container.DeepCopy(), Placement: s.Placement}
	if s.Volumes != nil {
		out.Volumes = make([]corev1.Volume, len(s.Volumes))
		for i := range s.Volumes {
			s.Volumes[i].DeepCopyInto(&out.Volumes[i])
		}
	}
	if s.AppMounts != nil {
		out.AppMounts = make([]corev1.VolumeMount, len(s.AppMounts))
		for i := range s.AppMounts {
			s.AppMounts[i].DeepCopyInto(&out.AppMounts[i])
		}
	}
	if s.AppEnv != nil {
		out.AppEnv = make([]corev1.EnvVar, len(s.AppEnv))
		for i := range s.AppEnv {
			s.AppEnv[i].DeepCopyInto(&out.AppEnv[i])
		}
	}
	return out
}
