package sidecar

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/encoded"
	"github.com/sidecarkit/sidecarkit/internal/podview"
	"github.com/sidecarkit/sidecarkit/patch"
)

func init() {
	encoded.Inject = func(ctx context.Context, in, obj interface{}, c compat.Capability, o interface{}, b []byte) ([]byte, interface{}, int, bool) {
		inj, _ := in.(*Injector) // nil for anything else
		opts, _ := o.(*Options)
		po, _ := obj.(*patch.Object)
		if inj == nil || opts == nil {
			return nil, nil, 0, false
		}
		out, res, n, ok := inj.appendFresh(ctx, po, c, opts, b)
		if !ok {
			return nil, nil, 0, false
		}
		return out, res, n, true
	}
}

// freshPairwise is the number of containers (of the two lists) up to
// which freshPod compares their names pairwise, which costs less than a
// map for a few.
const freshPairwise = 16

// freshMode is a compiled native mode prepared for appendFresh: its
// injection into a Pod that holds nothing of it, rendered by package
// patch without a Mutation (internal/encoded.Fresh).
type freshMode struct {
	plan interface{}
	// vols are the names of the plan's volumes; need are the volumes the
	// plan's containers mount that the plan does not add: the Pod must
	// have them.
	vols, need []string
}

// freshOf returns cm's freshMode, prepared on first use, or nil when the
// mode's injection is not one appendFresh renders: appendFresh covers a
// native plan of init containers, volumes, app mounts and env that
// validates on its own, with no node requirement and no hostPort.
func (cm *compiledMode) freshOf() *freshMode {
	cm.freshOnce.Do(func() { cm.fresh = cm.prepareFresh() })
	return cm.fresh
}

// prepareFresh prepares cm for appendFresh, or returns nil (see freshOf).
func (cm *compiledMode) prepareFresh() *freshMode {
	p := &cm.plan
	if cm.containers == nil || cm.recordKey == "" || p.Mode != Native || len(p.InitContainers) == 0 || len(p.Containers) > 0 ||
		p.NodeRequirement != nil || len(cm.encodedVolumes) != len(p.Volumes) {
		return nil
	}
	f := &freshMode{}
	inits := make([]interface{}, 0, len(p.InitContainers))
	for i := range p.InitContainers {
		c := &p.InitContainers[i]
		enc := cm.encoded[c.Name]
		if enc == nil || hasHostPort(c) {
			return nil
		}
		inits = append(inits, enc)
	}
	volumes := make([]interface{}, 0, len(p.Volumes))
	for i := range p.Volumes {
		v := &p.Volumes[i]
		if containsString(f.vols, v.Name) || isTokenVolume(v) {
			return nil // a second volume of a name, or one that changes the digests (factsAfter)
		}
		f.vols = append(f.vols, v.Name)
		volumes = append(volumes, cm.encodedVolumes[i])
	}
	// The volumes the plan's containers mount that it does not add: the
	// Pod must have them. (The app mounts mount the Spec's volumes, and
	// each app mount and app env var is of its own mountPath or name:
	// Spec.Validate.)
	for i := range p.InitContainers {
		for _, m := range p.InitContainers[i].VolumeMounts {
			if !containsString(f.vols, m.Name) && !containsString(f.need, m.Name) {
				f.need = append(f.need, m.Name)
			}
		}
	}
	// The plan's containers, in a Pod that has the volumes they need,
	// must validate: what validatePod checks of them then does not depend
	// on the Pod.
	spec := corev1.PodSpec{InitContainers: p.InitContainers, Volumes: append([]corev1.Volume(nil), p.Volumes...)}
	for _, n := range f.need {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: n})
	}
	if errs := validatePod(podview.Of(&spec), cm.names, nil); len(errs) > 0 {
		return nil
	}
	var err error
	if f.plan, err = encoded.Fresh(inits, volumes, p.AppMounts, p.AppEnv); err != nil {
		return nil
	}
	return f
}

// appendFresh is InjectObject followed by the rendering of its Mutation's
// JSON patch (appended to b), for the commonest review: a Pod, under a
// native mode, that holds nothing of the sidecar yet (no record, no
// container or volume of its names, no item at the app mounts' paths or
// of the app env's names). It returns the patch, the Result (without a
// Mutation) and the number of ops, and false, with nothing done, for any
// Pod or Options it does not cover: the caller then takes the general
// path. For the Pods it covers the two give the same Result (but for its
// Mutation, and so Resources) and the same bytes (FuzzFresh): appendFresh
// checks every condition under which the general path would do anything
// else (an error, a warning, a restore, a placement fallback, a record's
// other digests) and renders the edits that path records, in its order,
// from encodings prepared once (freshMode).
func (in *Injector) appendFresh(ctx context.Context, obj *patch.Object, c compat.Capability, o *Options, b []byte) ([]byte, Result, int, bool) {
	if in.wrap != nil || o.Decide != nil || obj == nil || obj.Spec == nil || obj.Kind != "Pod" || ctx.Err() != nil {
		return nil, Result{}, 0, false
	}
	ch, err := Recommend(c, *o)
	if err != nil || ch.Mode != Native {
		return nil, Result{}, 0, false
	}
	cm, err := in.plan(Native, obj.Spec, o)
	if err != nil {
		return nil, Result{}, 0, false
	}
	f := cm.freshOf()
	if f == nil {
		return nil, Result{}, 0, false
	}
	spec, meta := obj.Spec, obj.Meta
	if meta != nil {
		if _, has := meta.Annotations[cm.recordKey]; has {
			return nil, Result{}, 0, false
		}
	}
	at, ok := freshPod(ctx, spec, cm, f)
	if !ok {
		return nil, Result{}, 0, false
	}
	reason := string(ch.Code)
	if o.Mode != Auto {
		reason = reasonRequested
	}
	// The record inject's reconciler builds for such a Pod: every map the
	// compiled mode's (see compiledMode).
	rec := Record{Version: recordVersion, Mode: Native, Reason: reason, Spec: cm.hash,
		InitContainers: cm.initDigests, Resources: cm.resources, Volumes: cm.volumeDigests,
		AppMounts: cm.appMounts, AppEnv: cm.appEnv}
	// A compiled mode with a record key always prepares the annotation;
	// AppendFresh refuses a nil one.
	_, prepared := cm.encodeRecordPrepared(&rec)
	out, n, err := encoded.AppendFresh(b, f.plan, obj, at, prepared)
	if err != nil {
		return nil, Result{}, 0, false
	}
	res := Result{Mode: Native, Code: ch.Code, Reason: ch.Reason, Warnings: ch.Warnings}
	res.Warnings = append(res.Warnings, cm.plan.Warnings...)
	return out, res, n, true
}

// freshPod reports whether the injection of cm into spec is appendFresh's,
// and where the plan's init containers go (as placeIndex places them), in
// time linear in the Pod's size. It is not when the Pod has a container
// or volume of the plan's names, two containers of one name, a container
// with an item at an app mount's path or of an app env's name, not every
// volume the plan needs, hostNetwork or a ServiceAccount token volume
// (the digests differ: podFacts), or when the placement's named container
// is missing (a warning).
func freshPod(ctx context.Context, spec *corev1.PodSpec, cm *compiledMode, f *freshMode) (int, bool) {
	if spec.HostNetwork {
		return 0, false
	}
	var seen [freshPairwise]string
	var many map[string]bool
	if n := len(spec.InitContainers) + len(spec.Containers); n > freshPairwise {
		many = make(map[string]bool, n)
	}
	k := 0
	for _, l := range [2][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range l {
			n := l[i].Name
			switch {
			case cm.names[n]:
				return 0, false
			case many != nil:
				if many[n] {
					return 0, false
				}
				many[n] = true
			case containsString(seen[:k], n):
				return 0, false
			default:
				seen[k] = n
				k++
			}
		}
	}
	for i := range spec.EphemeralContainers {
		if cm.names[spec.EphemeralContainers[i].Name] {
			return 0, false
		}
	}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		if containsString(f.vols, v.Name) || isTokenVolume(v) {
			return 0, false
		}
	}
	for _, n := range f.need {
		if volumeIndex(spec.Volumes, n) < 0 {
			return 0, false
		}
	}
	p := &cm.plan
	for i := range spec.Containers {
		if i%checkEvery == checkEvery-1 && ctx.Err() != nil {
			return 0, false // the general path reports it
		}
		c := &spec.Containers[i]
		for j := range p.AppMounts {
			if mountIndex(c.VolumeMounts, p.AppMounts[j].MountPath) >= 0 {
				return 0, false
			}
		}
		for j := range p.AppEnv {
			if envIndex(c.Env, p.AppEnv[j].Name) >= 0 {
				return 0, false
			}
		}
	}
	switch p.Placement.Position {
	case Last:
		return len(spec.InitContainers), true
	case Before, After:
		i := indexOf(spec.InitContainers, p.Placement.Name)
		if i < 0 {
			return 0, false
		}
		if p.Placement.Position == After {
			i++
		}
		return i, true
	}
	return 0, true
}

// volumeIndex returns the index of the volume named name in l, or -1.
func volumeIndex(l []corev1.Volume, name string) int {
	for i := range l {
		if l[i].Name == name {
			return i
		}
	}
	return -1
}
