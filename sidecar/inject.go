package sidecar

import (
	"errors"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
)

// Options tune Inject. The zero value chooses the mode automatically, falls
// back to Legacy when the capability is unknown, never pins and never
// injects the universal pair.
type Options struct {
	// Mode forces a mode. Auto (the zero value) decides from the
	// capability; see [compat.Recommend].
	Mode Mode
	// AllowPinned lets Auto choose Pinned where some nodes cannot run
	// native sidecars but others can.
	AllowPinned bool
	// Fallback is the mode Auto chooses when the capability is unknown.
	// The zero value means Legacy.
	Fallback Mode
	// AvoidUnorderedTermination makes Auto choose Legacy rather than
	// native sidecars on nodes that terminate them together with the app
	// (kubelet 1.28); see compat.Preference.
	AvoidUnorderedTermination bool
	// Universal builds the universal pair. Universal mode needs it, and
	// Auto chooses Universal only when it is set.
	Universal Planner
	// Decide, when set, decides from the pod's metadata and spec whether
	// to inject at all (opt-in or opt-out by label or annotation). It
	// cannot change what is injected: that comes only from the Spec.
	Decide func(meta *metav1.ObjectMeta, spec *corev1.PodSpec) Decision
	// PodResources are the pod-level resources (spec.resources) of the
	// raw object, for the resource report; see patch.Object.PodResources.
	PodResources *corev1.ResourceRequirements
}

// Decision is the answer of an Options.Decide hook.
type Decision struct {
	Inject bool
	Reason string
}

// Result is the outcome of Inject.
type Result struct {
	// Mutation holds the edits; it is empty (not nil) when nothing changes.
	Mutation *patch.Mutation
	// Mode is the concrete mode chosen (never Auto) and Reason says why;
	// when Skipped is set, Reason says why nothing was injected.
	Mode   Mode
	Reason string
	// Code is compat's machine-readable reason when Auto chose the mode
	// (empty when a mode was forced or nothing was injected).
	Code compat.Code
	// Skipped is set when nothing was injected.
	Skipped Skip
	// Warnings are things the caller should know or log, for example a
	// legacy sidecar in a Job Pod.
	Warnings []string

	before   *corev1.PodSpec
	podLevel *corev1.ResourceRequirements
}

// Resources reports the Pod's effective requests and limits before and
// after the mutation (see [PodResources]). It is computed when called, so
// that callers who do not need it do not pay for the resource arithmetic.
func (r *Result) Resources() ResourceReport {
	if r.before == nil || r.Mutation == nil {
		return ResourceReport{}
	}
	after := r.Mutation.Spec()
	return ResourceReport{
		Before: PodResources(r.before, r.podLevel),
		After:  PodResources(&after, r.podLevel),
	}
}

// Skip says why Inject injected nothing.
type Skip string

// The reasons to skip.
const (
	// NotSkipped is the zero value: the Result holds an injection.
	NotSkipped Skip = ""
	// SkipDeclined: the Options.Decide hook declined.
	SkipDeclined Skip = "Declined"
	// SkipAlreadyInjected: the same sidecar, in the same mode, is there.
	SkipAlreadyInjected Skip = "AlreadyInjected"
)

// ResourceReport compares a Pod's effective resources before and after.
type ResourceReport struct {
	Before Resources `json:"before"`
	After  Resources `json:"after"`
}

// Inject plans the injection of the sidecar described by s into a Pod (or
// pod template) with metadata meta and spec spec, for a cluster whose
// capability is c. It is pure: it reads its arguments and returns a Result
// whose Mutation renders the change (see package patch).
//
// Inject is idempotent: when the same sidecar was injected in the same mode
// (recognised by its annotation, see [Annotation]), the mutation is empty.
// When our own sidecar is there from an older spec or another mode, the
// mutation updates it in place, field by field, moving it between
// initContainers and containers when the mode changed. A container of the
// same name that sidecarkit did not inject is an error, never overwritten.
// What the injection changes is checked with the API server's rules (see
// [ValidatePod]) before Inject returns: the containers it adds or updates,
// the volume mounts it adds to application containers, name clashes with
// any container and hostPort clashes on either side. What an application
// container already had is left to the API server, so a Pod that was
// invalid before fails there, with its own error, as it would without
// the sidecar.
func Inject(meta *metav1.ObjectMeta, spec *corev1.PodSpec, s Spec, c compat.Capability, o Options) (Result, error) {
	if spec == nil {
		return Result{}, errors.New("sidecar: inject: nil pod spec")
	}
	in, err := newInjector(s, false)
	if err != nil {
		return Result{}, fmt.Errorf("sidecar: inject: %w", err)
	}
	return in.inject(meta, spec, c, o)
}

func (in *Injector) inject(meta *metav1.ObjectMeta, spec *corev1.PodSpec, c compat.Capability, o Options) (Result, error) {
	s := &in.spec
	res := Result{Mutation: patch.New(meta, spec), before: spec, podLevel: o.PodResources}
	if o.Decide != nil {
		if d := o.Decide(meta, spec); !d.Inject {
			res.Skipped, res.Reason = SkipDeclined, d.Reason
			return res, nil
		}
	}
	ch, err := chooseMode(c, &o, spec)
	if err != nil {
		return Result{}, err
	}
	mode := ch.mode
	res.Mode, res.Code, res.Reason, res.Warnings = ch.mode, ch.code, ch.reason, ch.warnings
	cp, err := in.plan(mode, spec, &o)
	if err != nil {
		return Result{}, err
	}
	plan := cp.plan
	if mode == Legacy {
		plan.ContainerPlacement = LegacyPlacement(s.Placement, spec)
	}
	if mode == Universal && len(plan.Warnings) > 0 {
		// The planner reports the doubled requests itself, with numbers.
		res.Warnings = without(res.Warnings, compat.UniversalCostWarning)
	}
	res.Warnings = append(res.Warnings, plan.Warnings...)
	old, has, err := ReadRecord(meta, s.Container.Name)
	if err != nil {
		return Result{}, fmt.Errorf("sidecar: inject: %w", err)
	}
	hash := cp.hash
	if has && old.Hash == hash && recordPresent(spec, &old) && appsComplete(spec, &plan, cp.names) {
		res.Skipped = SkipAlreadyInjected
		res.Reason = fmt.Sprintf("sidecar %q is already injected (%s mode)", s.Container.Name, mode)
		return res, nil
	}
	if !has {
		old = Record{}
	}
	r := reconciler{m: res.Mutation, pod: spec, plan: &plan, names: cp.names, old: &old, encoded: cp.encoded}
	rec, err := r.run()
	if err != nil {
		return Result{}, err
	}
	rec.Hash = hash
	if err := res.Mutation.SetAnnotation(Annotation(s.Container.Name), rec.encode()); err != nil {
		return Result{}, fmt.Errorf("sidecar: inject: %w", err)
	}
	res.Warnings = append(res.Warnings, r.warnings...)
	after := res.Mutation.Spec()
	if errs := validatePod(&after, r.touched, r.mounted); len(errs) > 0 {
		return Result{}, fmt.Errorf("sidecar: inject %q would make an invalid pod: %w", s.Container.Name, errs.ToAggregate())
	}
	res.Warnings = append(res.Warnings, jobWarning(spec, &plan)...)
	return res, nil
}

// appsComplete reports whether every application container (a regular
// container that is not ours) has the plan's mountPaths and env names. One
// that lacks them was added after the injection, typically by another
// webhook before a reinvocation, and must get them too.
func appsComplete(spec *corev1.PodSpec, p *Plan, ours map[string]bool) bool {
	if len(p.AppMounts)+len(p.AppEnv) == 0 {
		return true
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if ours[c.Name] {
			continue
		}
		for j := range p.AppMounts {
			if mountIndex(c.VolumeMounts, p.AppMounts[j].MountPath) < 0 {
				return false
			}
		}
		for j := range p.AppEnv {
			if envIndex(c.Env, p.AppEnv[j].Name) < 0 {
				return false
			}
		}
	}
	return true
}

// recordPresent reports whether every container a record names is in the
// list it names.
func recordPresent(spec *corev1.PodSpec, r *Record) bool {
	for _, n := range r.InitContainers {
		if indexOf(spec.InitContainers, n) < 0 {
			return false
		}
	}
	for _, n := range r.Containers {
		if indexOf(spec.Containers, n) < 0 {
			return false
		}
	}
	return true
}

func jobWarning(spec *corev1.PodSpec, p *Plan) []string {
	if len(p.Containers) == 0 || p.Mode == Universal {
		return nil
	}
	if spec.RestartPolicy == corev1.RestartPolicyNever || spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		return []string{fmt.Sprintf("the pod's restartPolicy is %s: a legacy sidecar keeps the pod (and its Job) running until the sidecar exits by itself", spec.RestartPolicy)}
	}
	return nil
}

func indexOf(l []corev1.Container, name string) int {
	for i := range l {
		if l[i].Name == name {
			return i
		}
	}
	return -1
}

// placeIndex returns where a container placed by p goes in a list of the
// names l, and a warning when the named container is missing.
func placeIndex(l []string, p Placement, list patch.List) (int, string) {
	switch p.Position {
	case Last:
		return len(l), ""
	case Before, After:
		i := indexOfName(l, p.Name)
		if i < 0 {
			return 0, fmt.Sprintf("placement %s %q: no such container in %s; placed first", p.Position, p.Name, list)
		}
		if p.Position == After {
			i++
		}
		return i, ""
	}
	return 0, ""
}

// reconciler makes the edits that turn the pod's injection as old records
// it (empty for a fresh injection) into the plan.
type reconciler struct {
	m        *patch.Mutation
	pod      *corev1.PodSpec
	plan     *Plan
	names    map[string]bool // of the plan's containers
	encoded  map[string]*patch.EncodedContainer
	old      *Record
	touched  map[string]bool
	mounted  map[string][]string // application container → mountPaths managed
	warnings []string
}

func (r *reconciler) run() (Record, error) {
	r.touched = make(map[string]bool, len(r.names))
	r.mounted = make(map[string][]string, len(r.pod.Containers))
	for n := range r.names {
		r.touched[n] = true
	}
	rec := Record{Version: 1, Mode: r.plan.Mode}
	ours := map[string]bool{}
	for _, n := range r.old.InitContainers {
		ours[n] = true
	}
	for _, n := range r.old.Containers {
		ours[n] = true
	}
	if err := r.checkForeign(ours); err != nil {
		return Record{}, err
	}
	// Containers of an older injection that the plan no longer has.
	for _, l := range []struct {
		list  patch.List
		names []string
	}{{patch.InitContainers, r.old.InitContainers}, {patch.Containers, r.old.Containers}} {
		for _, n := range l.names {
			if r.names[n] {
				continue
			}
			if err := r.removeAnywhere(n); err != nil {
				return Record{}, err
			}
		}
	}
	var err error
	if rec.InitContainers, err = r.place(patch.InitContainers, r.plan.InitContainers); err != nil {
		return Record{}, err
	}
	if rec.Containers, err = r.place(patch.Containers, r.plan.Containers); err != nil {
		return Record{}, err
	}
	if rec.Volumes, err = r.volumes(); err != nil {
		return Record{}, err
	}
	if rec.Apps, err = r.apps(ours); err != nil {
		return Record{}, err
	}
	if err := r.nodeRequirement(); err != nil {
		return Record{}, err
	}
	rec.NodeRequirement = r.plan.NodeRequirement != nil
	if len(ours) > 0 || len(r.old.Volumes) > 0 || len(r.old.Apps) > 0 {
		if err := r.diffOurs(rec.Volumes); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

// checkForeign refuses containers of the plan's names that sidecarkit did
// not inject.
func (r *reconciler) checkForeign(ours map[string]bool) error {
	var errs field.ErrorList
	check := func(l []corev1.Container, p *field.Path) {
		for i := range l {
			if r.names[l[i].Name] && !ours[l[i].Name] {
				errs = append(errs, field.Forbidden(p.Index(i).Child("name"),
					fmt.Sprintf("%q is a container sidecarkit did not inject; refusing to overwrite it", l[i].Name)))
			}
		}
	}
	check(r.pod.InitContainers, field.NewPath("spec", "initContainers"))
	check(r.pod.Containers, field.NewPath("spec", "containers"))
	for i, e := range r.pod.EphemeralContainers {
		if r.names[e.Name] {
			errs = append(errs, field.Duplicate(field.NewPath("spec", "ephemeralContainers").Index(i).Child("name"), e.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sidecar: inject: %w", errs.ToAggregate())
	}
	return nil
}

func (r *reconciler) removeAnywhere(name string) error {
	switch {
	case indexOfName(r.m.Names(patch.InitContainers), name) >= 0:
		return r.m.RemoveContainer(patch.InitContainers, name)
	case indexOfName(r.m.Names(patch.Containers), name) >= 0:
		return r.m.RemoveContainer(patch.Containers, name)
	}
	return nil
}

// place puts the plan's containers of one list in place: a container that
// is there already stays where it is; one in the other list moves (an RFC
// 6902 move, which keeps every raw field); a missing one is inserted at the
// placement index. It returns the names placed.
func (r *reconciler) place(list patch.List, want []corev1.Container) ([]string, error) {
	if len(want) == 0 {
		return nil, nil
	}
	other := patch.Containers
	if list == patch.Containers {
		other = patch.InitContainers
	}
	target, otherList := r.m.Names(list), r.m.Names(other)
	// Place relative to the containers that are not ours.
	placement := r.plan.Placement
	if list == patch.Containers {
		placement = r.plan.ContainerPlacement
	}
	idx, warn := placeIndex(withoutNames(target, r.names), placement, list)
	if warn != "" {
		r.warnings = append(r.warnings, warn)
	}
	idx = translateIndex(target, r.names, idx)
	var names []string
	for i := range want {
		c := &want[i]
		names = append(names, c.Name)
		switch {
		case indexOfName(target, c.Name) >= 0:
			idx = indexOfName(target, c.Name) + 1
			continue
		case indexOfName(otherList, c.Name) >= 0:
			if err := r.m.MoveContainer(other, c.Name, list, idx); err != nil {
				return nil, fmt.Errorf("sidecar: inject: %w", err)
			}
		default:
			var err error
			if enc := r.encoded[c.Name]; enc != nil {
				err = r.m.InsertEncoded(list, idx, enc)
			} else {
				err = r.m.InsertContainer(list, idx, *c)
			}
			if err != nil {
				return nil, fmt.Errorf("sidecar: inject: %w", err)
			}
		}
		target, otherList = r.m.Names(list), r.m.Names(other)
		idx++
	}
	return names, nil
}

// withoutNames returns l without the names in skip.
func withoutNames(l []string, skip map[string]bool) []string {
	out := make([]string, 0, len(l))
	for _, n := range l {
		if !skip[n] {
			out = append(out, n)
		}
	}
	return out
}

// indexOfName returns the index of name in l, or -1.
func indexOfName(l []string, name string) int {
	for i, n := range l {
		if n == name {
			return i
		}
	}
	return -1
}

// translateIndex turns an index into l-without-skip into an index into l.
func translateIndex(l []string, skip map[string]bool, idx int) int {
	seen := 0
	for i, n := range l {
		if skip[n] {
			continue
		}
		if seen == idx {
			return i
		}
		seen++
	}
	return len(l)
}

// volumes adds the plan's volumes, keeps identical volumes that were there
// already, removes volumes of an older injection that the plan dropped, and
// returns the names of the volumes that are ours.
func (r *reconciler) volumes() ([]string, error) {
	oldOurs := map[string]bool{}
	for _, n := range r.old.Volumes {
		oldOurs[n] = true
	}
	want := map[string]bool{}
	var ours []string
	for _, v := range r.plan.Volumes {
		want[v.Name] = true
		i := volumeIndex(r.pod.Volumes, v.Name)
		switch {
		case i < 0:
			if err := r.m.AddVolume(v); err != nil {
				return nil, fmt.Errorf("sidecar: inject: %w", err)
			}
			ours = append(ours, v.Name)
		case oldOurs[v.Name]:
			ours = append(ours, v.Name) // updated by diffOurs
		case !reflect.DeepEqual(r.pod.Volumes[i].VolumeSource, v.VolumeSource):
			return nil, fmt.Errorf("sidecar: inject: %w", field.Forbidden(field.NewPath("spec", "volumes").Index(i).Child("name"),
				fmt.Sprintf("the pod has a volume %q that differs from the sidecar's; refusing to overwrite it", v.Name)))
		}
	}
	for _, n := range r.old.Volumes {
		if !want[n] && volumeIndex(r.pod.Volumes, n) >= 0 {
			if err := r.m.RemoveVolume(n); err != nil {
				return nil, fmt.Errorf("sidecar: inject: %w", err)
			}
		}
	}
	return ours, nil
}

func volumeIndex(l []corev1.Volume, name string) int {
	for i := range l {
		if l[i].Name == name {
			return i
		}
	}
	return -1
}

// apps adds the plan's mounts and env to every application container (the
// pod's regular containers that are not ours), and removes what an older
// injection added that the plan no longer has.
func (r *reconciler) apps(ours map[string]bool) (map[string]AppRecord, error) {
	recs := map[string]AppRecord{}
	for i := range r.pod.Containers {
		c := &r.pod.Containers[i]
		if ours[c.Name] || r.names[c.Name] {
			continue
		}
		old := r.old.Apps[c.Name]
		var rec AppRecord
		i := i
		p := func() *field.Path { return field.NewPath("spec", "containers").Index(i) } // for errors only
		for _, vm := range r.plan.AppMounts {
			j := mountIndex(c.VolumeMounts, vm.MountPath)
			switch {
			case j < 0:
				if err := r.m.AddVolumeMount(patch.Containers, c.Name, vm); err != nil {
					return nil, fmt.Errorf("sidecar: inject: %w", err)
				}
				rec.Mounts = append(rec.Mounts, vm.MountPath)
			case contains(old.Mounts, vm.MountPath):
				rec.Mounts = append(rec.Mounts, vm.MountPath) // updated by diffOurs
			case c.VolumeMounts[j].Name != vm.Name:
				return nil, fmt.Errorf("sidecar: inject: %w", field.Invalid(p().Child("volumeMounts").Index(j).Child("mountPath"), vm.MountPath,
					fmt.Sprintf("already mounts volume %q here; the sidecar needs volume %q", c.VolumeMounts[j].Name, vm.Name)))
			}
		}
		for _, mp := range old.Mounts {
			if mountIndex(r.plan.AppMounts, mp) < 0 && mountIndex(c.VolumeMounts, mp) >= 0 {
				if err := r.m.RemoveVolumeMount(patch.Containers, c.Name, mp); err != nil {
					return nil, fmt.Errorf("sidecar: inject: %w", err)
				}
			}
		}
		for _, e := range r.plan.AppEnv {
			j := envIndex(c.Env, e.Name)
			switch {
			case j < 0:
				if err := r.m.AddEnv(patch.Containers, c.Name, e); err != nil {
					return nil, fmt.Errorf("sidecar: inject: %w", err)
				}
				rec.Env = append(rec.Env, e.Name)
			case contains(old.Env, e.Name):
				rec.Env = append(rec.Env, e.Name) // updated by diffOurs
			default:
				r.warnings = append(r.warnings, fmt.Sprintf("%s: container %q sets %s itself; its value is kept", p().Child("env").Index(j), c.Name, e.Name))
			}
		}
		for _, n := range old.Env {
			if envIndex(r.plan.AppEnv, n) < 0 && envIndex(c.Env, n) >= 0 {
				if err := r.m.RemoveEnv(patch.Containers, c.Name, n); err != nil {
					return nil, fmt.Errorf("sidecar: inject: %w", err)
				}
			}
		}
		if len(rec.Mounts)+len(rec.Env) > 0 {
			recs[c.Name] = rec
			if len(rec.Mounts) > 0 {
				// Validated are the mounts the injection manages, not what
				// the container had (env is not validated).
				r.mounted[c.Name] = rec.Mounts
			}
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	return recs, nil
}

func mountIndex(l []corev1.VolumeMount, path string) int {
	for i := range l {
		if l[i].MountPath == path {
			return i
		}
	}
	return -1
}

func envIndex(l []corev1.EnvVar, name string) int {
	for i := range l {
		if l[i].Name == name {
			return i
		}
	}
	return -1
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func (r *reconciler) nodeRequirement() error {
	switch {
	case r.plan.NodeRequirement != nil:
		return r.m.RequireNode(*r.plan.NodeRequirement)
	case r.old.NodeRequirement:
		return r.m.RemoveNodeRequirement(compat.NativeNodeSelectorRequirement())
	}
	return nil
}

// diffOurs brings the containers, volumes, mounts and env that were ours
// already up to the plan, field by field.
func (r *reconciler) diffOurs(ourVolumes []string) error {
	_, after := r.m.Result()
	for _, c := range r.plan.InitContainers {
		if i := indexOf(after.InitContainers, c.Name); i >= 0 {
			after.InitContainers[i] = *c.DeepCopy()
		}
	}
	for _, c := range r.plan.Containers {
		if i := indexOf(after.Containers, c.Name); i >= 0 {
			after.Containers[i] = *c.DeepCopy()
		}
	}
	for _, v := range r.plan.Volumes {
		if i := volumeIndex(after.Volumes, v.Name); i >= 0 && contains(ourVolumes, v.Name) {
			after.Volumes[i] = *v.DeepCopy()
		}
	}
	for i := range after.Containers {
		c := &after.Containers[i]
		old, ok := r.old.Apps[c.Name]
		if !ok {
			continue
		}
		for _, vm := range r.plan.AppMounts {
			if j := mountIndex(c.VolumeMounts, vm.MountPath); j >= 0 && contains(old.Mounts, vm.MountPath) {
				c.VolumeMounts[j] = vm
			}
		}
		for _, e := range r.plan.AppEnv {
			if j := envIndex(c.Env, e.Name); j >= 0 && contains(old.Env, e.Name) {
				c.Env[j] = *e.DeepCopy()
			}
		}
	}
	if err := r.m.Diff(after); err != nil {
		return fmt.Errorf("sidecar: inject: %w", err)
	}
	return nil
}

// without returns ws minus every occurrence of w, reusing nothing of ws.
func without(ws []string, w string) []string {
	var out []string
	for _, x := range ws {
		if x != w {
			out = append(out, x)
		}
	}
	return out
}
