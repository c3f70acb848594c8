package sidecar

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/annotation"
	"github.com/sidecarkit/sidecarkit/internal/encoded"
	"github.com/sidecarkit/sidecarkit/internal/podview"
	"github.com/sidecarkit/sidecarkit/patch"
)

// Options tune Inject. The zero value chooses the mode automatically, falls
// back to Legacy when the capability is unknown, never pins and never
// injects the universal pair.
type Options struct {
	// Mode forces a mode. Auto (the zero value) decides from the
	// capability; see [Recommend].
	Mode Mode
	// AllowPinned lets Auto choose Pinned where some nodes cannot run
	// native sidecars but others can.
	AllowPinned bool
	// Fallback is the mode Auto chooses when the capability is unknown.
	// The zero value means Legacy.
	Fallback Mode
	// AvoidUnorderedTermination makes Auto choose Legacy rather than
	// native sidecars on nodes that terminate them together with the app
	// (kubelet 1.28; docs/modes.md#unordered-termination). It keeps one
	// termination behaviour on every node for sidecars written for the
	// legacy mode.
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
	// Mutation holds the edits; it is empty (not nil) when nothing
	// changes. It renders for the object InjectObject was given (a Pod
	// for Inject): Mutation.JSONPatch(), Mutation.StrategicMerge(...).
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
	// legacy sidecar in a Job Pod: findings of severity Warning whose Code
	// tells them apart (compat.CodeModeCaveat, CodeRestored,
	// CodeSpecNotApplied, or the capability's code for a forced mode that
	// will fail) and whose Path, when set, names the field.
	Warnings []compat.Finding

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

// Skip says why Inject injected nothing; "" means it did not skip.
type Skip string

// The reasons to skip.
const (
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
// whose Mutation renders the change (see package patch). To bound its work
// by a deadline, and to prepare the Spec once for many Pods, use
// [Injector.Inject].
//
// Inject checks what is present by content on every call, and never takes
// the Pod's word for it (the record annotation, see [Record], is a hint;
// docs/injection-record.md has the rules):
//
//   - The sidecar's containers, the volumes it needs, and what application
//     containers get (AppMounts, AppEnv) are compared with the Spec modulo
//     the API server's defaulting and its built-in admission plugins'
//     additions (docs/defaults.md). When everything is as specified, the
//     mutation is empty (Skipped is SkipAlreadyInjected).
//   - A container under one of the sidecar's names that the record claims
//     but whose content differs (an older version of the sidecar, or one
//     the Pod's author or another webhook changed) is restored to the
//     Spec, field by field, keeping the API server's defaults; a restore
//     of content the record does not vouch for carries a warning. The
//     same holds for the sidecar's volumes. The sidecar belongs to the
//     injector: other mutating admission must leave it alone.
//   - A container of the sidecar's names that no record claims is the
//     author's: Inject refuses to overwrite it, with an error naming the
//     field. So is a volume of the Spec's names with other content, and a
//     mountPath of the Spec's AppMounts used for another volume.
//   - What an earlier injection added and the Spec no longer has (a
//     container after a mode change, a volume, a mount, an env var) is
//     removed only when its content matches the digest the record holds
//     for it, so a forged or stale record cannot make Inject remove an
//     element it did not add.
//
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
	return in.inject(context.Background(), meta, spec, c, o)
}

func (in *Injector) inject(ctx context.Context, meta *metav1.ObjectMeta, spec *corev1.PodSpec, c compat.Capability, o Options) (Result, error) {
	return in.injectWith(ctx, meta, spec, patch.New(meta, spec), c, o, nil)
}

// injectWith injects into meta and spec, recording the edits in m, an
// empty mutation of them.
func (in *Injector) injectWith(ctx context.Context, meta *metav1.ObjectMeta, spec *corev1.PodSpec, m *patch.Mutation, c compat.Capability, o Options, unknown func(patch.List, int) ([]string, error)) (Result, error) {
	s := &in.spec
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("sidecar: inject: %w", err)
	}
	res := Result{Mutation: m, before: spec, podLevel: o.PodResources}
	if o.Decide != nil {
		if d := o.Decide(meta, spec); !d.Inject {
			res.Skipped, res.Reason = SkipDeclined, d.Reason
			return res, nil
		}
	}
	ch, err := Recommend(c, o)
	if err != nil {
		return Result{}, err
	}
	mode := ch.Mode
	res.Mode, res.Code, res.Reason, res.Warnings = ch.Mode, ch.Code, ch.Reason, ch.Warnings
	cm, err := in.plan(mode, spec, &o)
	if err != nil {
		return Result{}, err
	}
	// The compiled plan is shared and read only; Legacy's placement is
	// per Pod, on a copy.
	plan := &cm.plan
	if mode == Legacy {
		p := cm.plan
		p.ContainerPlacement = LegacyPlacement(s.Placement, spec)
		plan = &p
	}
	if mode == Universal && len(plan.Warnings) > 0 {
		// The planner reports the doubled requests itself, with numbers.
		res.Warnings = without(res.Warnings, universalCost())
	}
	res.Warnings = append(res.Warnings, plan.Warnings...)
	old, has, err := ReadRecord(meta, s.Container.Name)
	if err != nil {
		return Result{}, fmt.Errorf("sidecar: inject: %w", err)
	}
	reason := string(ch.Code)
	if o.Mode != Auto {
		reason = reasonRequested
	}
	if cm.items != nil {
		encoded.Use(res.Mutation, cm.items)
	}
	r := reconciler{
		ctx: ctx, name: s.Container.Name, m: in.wrap.of(res.Mutation), meta: meta, pod: spec, facts: factsOf(spec), added: factsAfter(spec, plan.Volumes),
		plan: plan, cm: cm, old: old, hasOld: has,
		rec:     Record{Version: recordVersion, Mode: mode, Reason: reason, Spec: cm.hash},
		unknown: unknown,
	}
	if err := r.run(); err != nil {
		return Result{}, err
	}
	res.Warnings = append(res.Warnings, r.warnings...)
	if res.Mutation.Empty() {
		res.Skipped = SkipAlreadyInjected
		res.Reason = fmt.Sprintf("sidecar %q is already injected (%s mode)", s.Container.Name, mode)
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("sidecar: inject: %w", err)
	}
	// The containers whose content the injection sets are the plan's.
	if errs := validatePod(podview.OfMutation(res.Mutation), cm.names, r.mounted); len(errs) > 0 {
		return Result{}, fmt.Errorf("sidecar: inject %q would make an invalid pod: %w", s.Container.Name, errs.ToAggregate())
	}
	res.Warnings = append(res.Warnings, jobWarning(spec, plan)...)
	return res, nil
}

// volumesPath is spec.volumes.
var volumesPath = field.NewPath("spec", "volumes")

// warning returns a Finding of severity Warning.
func warning(code compat.Code, path, msg string) compat.Finding {
	return compat.Finding{Code: code, Severity: compat.SeverityWarning, Path: path, Message: msg}
}

// warn adds a warning about the field at p.
func (r *reconciler) warn(code compat.Code, p *field.Path, msg string) {
	r.warnings = append(r.warnings, warning(code, p.String(), msg))
}

func jobWarning(spec *corev1.PodSpec, p *Plan) []compat.Finding {
	if len(p.Containers) == 0 || p.Mode == Universal {
		return nil
	}
	if spec.RestartPolicy == corev1.RestartPolicyNever || spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		return []compat.Finding{warning(compat.CodeModeCaveat, "", fmt.Sprintf("the pod's restartPolicy is %s: a legacy sidecar keeps the pod (and its Job) running until the sidecar exits by itself", spec.RestartPolicy))}
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

// checkEvery is how many application containers the reconciler handles
// between two looks at its context.
const checkEvery = 1024

// reconciler makes the edits that turn the pod into one with the plan's
// injection, whatever it holds now (see Inject), and builds the record.
type reconciler struct {
	ctx   context.Context
	name  string             // the sidecar's
	m     editor             // res.Mutation
	meta  *metav1.ObjectMeta // the pod's, as it was; nil when unknown
	pod   *corev1.PodSpec
	facts podFacts
	added podFacts // the facts of the pod with the plan's volumes (for digests, see factsAfter)
	plan  *Plan
	cm    *compiledMode
	// old is the pod's record (the zero Record when hasOld is false).
	old    Record
	hasOld bool
	rec    Record

	oldPreset map[presetKey]bool // old's preset items (see presetsOf)

	mounted  map[string][]string // application container → mountPaths managed
	warnings []compat.Finding

	// unknown, when set, returns the fields of a container of the raw
	// document that the compiled API types do not know (see
	// patch.Object.UnknownFields).
	unknown func(l patch.List, i int) ([]string, error)

	// updates are in-place changes of existing elements, made on the spec
	// as the other edits leave it and rendered by one Diff at the end.
	updates []func(after *corev1.PodSpec, idx map[string]int) error
}

// loc is where a container is: its list and index.
type loc struct {
	list  patch.List
	index int
}

func (r *reconciler) run() error {
	r.mounted = make(map[string][]string)
	// where is the container of each name. A second container of a name
	// the injection acts on (the plan's, the record's, or a regular one's
	// when application containers get mounts or env) is refused: the API
	// server would refuse the pod, and the two could be told apart only by
	// their places. The regular containers are read first, as the API server
	// validates them, so the error has its path (see validatePod).
	where := make(map[string]loc, len(r.pod.InitContainers)+len(r.pod.Containers))
	for _, l := range []struct {
		list patch.List
		cs   []corev1.Container
	}{{patch.Containers, r.pod.Containers}, {patch.InitContainers, r.pod.InitContainers}} {
		for i := range l.cs {
			n := l.cs[i].Name
			if _, dup := where[n]; !dup {
				where[n] = loc{l.list, i}
				continue
			}
			if _, claimed := r.old.claims(n); claimed || r.cm.names[n] || l.list == patch.Containers && r.editsApps() {
				return fmt.Errorf("sidecar: inject: %w", field.Duplicate(listPath(l.list).Index(i).Child("name"), n))
			}
		}
	}
	if err := r.checkForeign(where); err != nil {
		return err
	}
	if err := r.replaceUnknown(where); err != nil {
		return err
	}
	removed, err := r.removeStale(where)
	if err != nil {
		return err
	}
	if err := r.place(patch.InitContainers, r.plan.InitContainers, where); err != nil {
		return err
	}
	if err := r.place(patch.Containers, r.plan.Containers, where); err != nil {
		return err
	}
	if r.cm.containers != nil { // a compiled plan: the map is shared (see compiledMode)
		r.rec.Resources = r.cm.resources
	}
	if err := r.volumes(); err != nil {
		return err
	}
	if err := r.apps(removed); err != nil {
		return err
	}
	if err := r.removeStaleVolumes(); err != nil {
		return err
	}
	if err := r.nodeRequirement(); err != nil {
		return err
	}
	r.rec.NodeRequirement = r.plan.NodeRequirement != nil
	if err := r.defaultContainer(); err != nil {
		return err
	}
	if err := r.applyUpdates(); err != nil {
		return err
	}
	if r.hasOld && r.m.Empty() && r.rec.equal(&r.old) {
		return nil // a change of reason alone does not rewrite the record
	}
	enc, prepared := r.cm.encodeRecordPrepared(&r.rec)
	if prepared != nil {
		encoded.Use(r.m, prepared)
	}
	key := r.cm.recordKey
	if key == "" {
		key = Annotation(r.name)
	}
	if err := r.m.SetAnnotation(key, enc); err != nil {
		return fmt.Errorf("sidecar: inject: %w", err)
	}
	return nil
}

// checkForeign refuses containers of the plan's names that no record
// claims: they are the Pod author's, and the library does not overwrite
// them.
func (r *reconciler) checkForeign(where map[string]loc) error {
	var errs field.ErrorList
	for _, l := range [][]corev1.Container{r.plan.InitContainers, r.plan.Containers} {
		for i := range l {
			n := l[i].Name
			at, ok := where[n]
			if !ok {
				continue
			}
			if _, claimed := r.old.claims(n); !claimed {
				errs = append(errs, field.Forbidden(listPath(at.list).Index(at.index).Child("name"),
					fmt.Sprintf("%q is a container sidecarkit did not inject (no %s annotation claims it); refusing to overwrite it", n, Annotation(r.name))))
			}
		}
	}
	for i := range r.pod.EphemeralContainers {
		if e := r.pod.EphemeralContainers[i].Name; r.cm.names[e] {
			errs = append(errs, field.Duplicate(field.NewPath("spec", "ephemeralContainers").Index(i).Child("name"), e))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sidecar: inject: %w", errs.ToAggregate())
	}
	return nil
}

func listPath(l patch.List) *field.Path { return field.NewPath("spec", string(l)) }

// replaceUnknown removes the sidecar's containers that carry fields the
// compiled API types do not know (which a typed comparison cannot see, and
// a field-by-field restore would keep), so that place inserts them anew,
// exactly as specified.
func (r *reconciler) replaceUnknown(where map[string]loc) error {
	if r.unknown == nil {
		return nil
	}
	for _, l := range [][]corev1.Container{r.plan.InitContainers, r.plan.Containers} {
		for i := range l {
			n := l[i].Name
			at, ok := where[n]
			if !ok {
				continue
			}
			fields, err := r.unknown(at.list, at.index)
			if err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
			if len(fields) == 0 {
				continue
			}
			if len(fields) > 3 {
				fields = append(fields[:3:3], "...")
			}
			r.warn(compat.CodeRestored, listPath(at.list).Index(at.index), fmt.Sprintf("container %q carried fields this injector's API types do not know (%s) and was replaced by sidecar %q's spec", n, strings.Join(fields, ", "), r.name))
			if err := r.m.RemoveContainer(at.list, n); err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
			delete(where, n)
		}
	}
	return nil
}

// removeStale removes the containers an earlier injection added that the
// plan no longer has, when their content matches the record's digest. It
// returns the names removed.
func (r *reconciler) removeStale(where map[string]loc) (map[string]bool, error) {
	var removed map[string]bool
	for _, l := range []map[string]string{r.old.InitContainers, r.old.Containers} {
		for k, n := range sortedKeys(l) {
			if k%checkEvery == checkEvery-1 {
				if err := r.ctx.Err(); err != nil {
					return nil, fmt.Errorf("sidecar: inject: %w", err)
				}
			}
			at, ok := where[n]
			if !ok || r.cm.names[n] {
				continue
			}
			c := r.container(at)
			if containerDigest(c, &r.facts) != l[n] {
				r.warn(compat.CodeSpecNotApplied, listPath(at.list).Index(at.index), fmt.Sprintf("container %q is left in place: its content differs from what the record of sidecar %q says was injected", n, r.name))
				continue
			}
			if err := r.m.RemoveContainer(at.list, n); err != nil {
				return nil, fmt.Errorf("sidecar: inject: %w", err)
			}
			if removed == nil {
				removed = map[string]bool{}
			}
			removed[n] = true
		}
	}
	return removed, nil
}

func (r *reconciler) container(at loc) *corev1.Container {
	if at.list == patch.InitContainers {
		return &r.pod.InitContainers[at.index]
	}
	return &r.pod.Containers[at.index]
}

// place puts the plan's containers of one list in place: a container that
// is there already stays where it is (and is brought up to the plan); one
// in the other list moves (an RFC 6902 move, which keeps every raw field);
// a missing one is inserted at the placement index.
func (r *reconciler) place(list patch.List, want []corev1.Container, where map[string]loc) error {
	if len(want) == 0 {
		return nil
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
	idx, warn := placeIndex(withoutNames(target, r.cm.names), placement, list)
	if warn != "" {
		r.warnings = append(r.warnings, warning(compat.CodeSpecNotApplied, "", warn))
	}
	idx = translateIndex(target, r.cm.names, idx)
	// A compiled plan's record maps are shared (see compiledMode).
	digests := r.cm.listDigests(list, want, &r.added)
	shared := digests != nil
	if !shared {
		digests = make(map[string]string, len(want))
	}
	for i := range want {
		c := &want[i]
		if !shared {
			digests[c.Name] = r.cm.containerDigest(c, &r.added)
		}
		if keys := r.cm.resourceKeys(c); keys != nil && r.cm.containers == nil {
			if r.rec.Resources == nil {
				r.rec.Resources = map[string][]string{}
			}
			r.rec.Resources[c.Name] = keys
		}
		if at, ok := where[c.Name]; ok {
			r.update(at, c)
		}
		switch {
		case indexOfName(target, c.Name) >= 0:
			idx = indexOfName(target, c.Name) + 1
			continue
		case indexOfName(otherList, c.Name) >= 0:
			if err := r.m.MoveContainer(other, c.Name, list, idx); err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
		default:
			var err error
			if enc := r.cm.encoded[c.Name]; enc != nil {
				err = r.m.InsertEncoded(list, idx, enc)
			} else {
				err = r.m.InsertContainer(list, idx, *c)
			}
			if err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
		}
		if i+1 < len(want) { // the lists as the edit left them, for the next
			target, otherList = r.m.Names(list), r.m.Names(other)
		}
		idx++
	}
	if list == patch.InitContainers {
		r.rec.InitContainers = digests
	} else {
		r.rec.Containers = digests
	}
	return nil
}

// update brings the pod's container at at, which the record claims (see
// checkForeign), up to the plan's container want when its content
// differs: an older version of the sidecar (its digest is the record's)
// is updated silently, anything else is restored with a warning.
func (r *reconciler) update(at loc, want *corev1.Container) {
	c := r.container(at)
	owned := r.old.ownedResources(want.Name)
	if sameContainer(c, want, &r.facts, owned) {
		return
	}
	if d, _ := r.old.claims(want.Name); d != containerDigest(c, &r.facts) {
		n := normalContainer(c, want, &r.facts, owned)
		w := normalContainer(want, want, &r.facts, owned)
		r.warn(compat.CodeRestored, listPath(at.list).Index(at.index), fmt.Sprintf("container %q differed from sidecar %q's spec (%s) and was restored to it",
			want.Name, r.name, strings.Join(differingFields(&n, &w), ", ")))
	}
	t := containerTarget(c, want, &r.facts, owned)
	r.updates = append(r.updates, func(after *corev1.PodSpec, idx map[string]int) error {
		i, ok := idx[want.Name]
		if !ok {
			return fmt.Errorf("sidecar: inject: container %q vanished", want.Name)
		}
		l := after.Containers
		if i < 0 {
			l, i = after.InitContainers, -i-1
		}
		l[i] = t
		return nil
	})
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

// volumes adds the plan's volumes, keeps identical ones that were there
// already, restores the plan's volumes that the record claims, and
// refuses other volumes of the plan's names.
func (r *reconciler) volumes() error {
	// Every volume of a compiled plan is recorded, with the digest the
	// shared map has (see compiledMode), unless the Pod has an identical
	// one of its own: the map is then built.
	shared := r.cm.containers != nil
	defer func() {
		if shared {
			r.rec.Volumes = r.cm.volumeDigests
		}
	}()
	index := make(map[string]int, len(r.pod.Volumes))
	for i := range r.pod.Volumes {
		if _, dup := index[r.pod.Volumes[i].Name]; !dup {
			index[r.pod.Volumes[i].Name] = i
		}
	}
	for j := range r.plan.Volumes {
		v := &r.plan.Volumes[j]
		d := r.cm.volumeDigest(j, v)
		i, present := index[v.Name]
		old, claimed := r.old.Volumes[v.Name]
		switch {
		case !present:
			var err error
			if j < len(r.cm.encodedVolumes) {
				err = r.m.AddEncodedVolume(r.cm.encodedVolumes[j])
			} else {
				err = r.m.AddVolume(*v)
			}
			if err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
		case sameVolume(&r.pod.Volumes[i], v):
			if !claimed {
				if shared {
					// The volumes before this one are recorded.
					shared = false
					for k := 0; k < j; k++ {
						r.rec.Volumes = with(r.rec.Volumes, r.plan.Volumes[k].Name, r.cm.volumeDigest(k, &r.plan.Volumes[k]))
					}
				}
				continue // the author's own, identical: not ours
			}
		case claimed:
			if old != volumeDigest(&r.pod.Volumes[i]) {
				r.warn(compat.CodeRestored, volumesPath.Index(i), fmt.Sprintf("volume %q differed from sidecar %q's spec and was restored to it", v.Name, r.name))
			}
			t := volumeTarget(v)
			r.updates = append(r.updates, func(after *corev1.PodSpec, _ map[string]int) error {
				for k := range after.Volumes {
					if after.Volumes[k].Name == t.Name {
						after.Volumes[k] = t
						return nil
					}
				}
				return fmt.Errorf("sidecar: inject: volume %q vanished", t.Name)
			})
		default:
			return fmt.Errorf("sidecar: inject: %w", field.Forbidden(field.NewPath("spec", "volumes").Index(i).Child("name"),
				fmt.Sprintf("the pod has a volume %q that differs from the sidecar's; refusing to overwrite it", v.Name)))
		}
		if !shared {
			r.rec.Volumes = with(r.rec.Volumes, v.Name, d)
		}
	}
	return nil
}

// removeStaleVolumes removes the volumes of an earlier injection that the
// plan dropped, when their content matches the record and nothing mounts
// them once the other edits are made.
func (r *reconciler) removeStaleVolumes() error {
	if len(r.old.Volumes) == 0 {
		return nil
	}
	index := make(map[string]int, len(r.pod.Volumes))
	for i := range r.pod.Volumes {
		if _, dup := index[r.pod.Volumes[i].Name]; !dup {
			index[r.pod.Volumes[i].Name] = i
		}
	}
	var users map[string]*field.Path
	for _, n := range sortedKeys(r.old.Volumes) {
		if _, planned := r.rec.Volumes[n]; planned {
			continue
		}
		i, present := index[n]
		if !present {
			continue
		}
		if volumeDigest(&r.pod.Volumes[i]) != r.old.Volumes[n] {
			r.warn(compat.CodeSpecNotApplied, volumesPath.Index(i), fmt.Sprintf("volume %q is left in place: its content differs from what the record of sidecar %q says was injected", n, r.name))
			continue
		}
		if users == nil {
			// The spec as the edits leave it, with the plan's containers
			// as the plan has them (their updates are made last).
			s := r.m.Spec()
			s.InitContainers = withPlanned(s.InitContainers, r.plan.InitContainers)
			s.Containers = withPlanned(s.Containers, r.plan.Containers)
			users = volumeUsers(&s)
		}
		if p := users[n]; p != nil {
			r.warn(compat.CodeSpecNotApplied, volumesPath.Index(i), fmt.Sprintf("volume %q is left in place: %s mounts it", n, p))
			continue
		}
		if err := r.m.RemoveVolume(n); err != nil {
			return fmt.Errorf("sidecar: inject: %w", err)
		}
	}
	return nil
}

// withPlanned returns l (not modified) with each container of a name in
// planned replaced by the planned one.
func withPlanned(l, planned []corev1.Container) []corev1.Container {
	if len(planned) == 0 {
		return l
	}
	out := append([]corev1.Container(nil), l...)
	for i := range out {
		if j := indexOf(planned, out[i].Name); j >= 0 {
			out[i] = planned[j]
		}
	}
	return out
}

// apps gives every application container (a regular container that is
// not the sidecar's) the plan's mounts and env, brings what an earlier
// injection added up to the plan, and removes what the plan dropped, each
// where the content matches the record.
func (r *reconciler) apps(removed map[string]bool) error {
	p := r.plan
	switch {
	case r.cm.containers != nil: // a compiled plan: the maps are shared (see compiledMode)
		r.rec.AppMounts, r.rec.AppEnv = r.cm.appMounts, r.cm.appEnv
	case len(p.AppMounts) > 0:
		r.rec.AppMounts = make(map[string]string, len(p.AppMounts))
		for j := range p.AppMounts {
			r.rec.AppMounts[p.AppMounts[j].MountPath] = r.cm.mountDigest(j, &p.AppMounts[j])
		}
	}
	if r.cm.containers == nil && len(p.AppEnv) > 0 {
		r.rec.AppEnv = make(map[string]string, len(p.AppEnv))
		for j := range p.AppEnv {
			r.rec.AppEnv[p.AppEnv[j].Name] = r.cm.envDigest(j, &p.AppEnv[j])
		}
	}
	staleMounts := stale(r.old.AppMounts, r.rec.AppMounts)
	staleEnv := stale(r.old.AppEnv, r.rec.AppEnv)
	if len(p.AppMounts)+len(p.AppEnv)+len(staleMounts)+len(staleEnv) == 0 {
		return nil
	}
	r.oldPreset = presetsOf(&r.old)
	paths := r.cm.mountPaths
	if paths == nil && len(p.AppMounts) > 0 {
		paths = mountPathsOf(p.AppMounts)
	}
	for i := range r.pod.Containers {
		if i%checkEvery == checkEvery-1 {
			if err := r.ctx.Err(); err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
		}
		c := &r.pod.Containers[i]
		if r.cm.names[c.Name] || removed[c.Name] {
			continue
		}
		if err := r.app(i, c, paths, staleMounts, staleEnv); err != nil {
			return err
		}
	}
	return nil
}

// app reconciles the application container c, the i-th regular container.
// An item of c whose key an earlier injection recorded, and that the
// record does not list as preset for c, is the injection's: it is updated
// where the record verifies it. Any other item of c under a key of the
// plan is its author's (recorded as preset for c): kept, with a warning
// when it differs from the plan's.
func (r *reconciler) app(i int, c *corev1.Container, paths []string, staleMounts, staleEnv map[string]string) error {
	p := r.plan
	path := func() *field.Path { return field.NewPath("spec", "containers").Index(i) } // for messages only
	managed := managedMounts{all: paths}
	for j := range p.AppMounts {
		vm := &p.AppMounts[j]
		k := mountIndex(c.VolumeMounts, vm.MountPath)
		if k < 0 {
			if err := r.m.AddVolumeMount(patch.Containers, c.Name, *vm); err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
			managed.add(j)
			continue
		}
		cur := &c.VolumeMounts[k]
		d := r.old.AppMounts[vm.MountPath]
		own := d != "" && !r.oldPreset[presetKey{mount: true, item: vm.MountPath, container: c.Name}]
		switch {
		case own && sameMount(cur, vm):
		case own && d == mountDigest(cur):
			r.updateMount(c.Name, *vm)
			managed.add(j)
		case cur.Name != vm.Name:
			return fmt.Errorf("sidecar: inject: %w", field.Invalid(path().Child("volumeMounts").Index(k).Child("mountPath"), vm.MountPath,
				fmt.Sprintf("already mounts volume %q here; the sidecar needs volume %q", excerpt(cur.Name), vm.Name)))
		default:
			r.rec.PresetMounts = addPreset(r.rec.PresetMounts, vm.MountPath, c.Name)
			if !sameMount(cur, vm) {
				r.warn(compat.CodeSpecNotApplied, path().Child("volumeMounts").Index(k), fmt.Sprintf("container %q mounts volume %q at %s itself; its mount is kept", c.Name, vm.Name, vm.MountPath))
			}
		}
	}
	if err := removeStaleItems(r.m, c, staleMounts, staleEnv, r.oldPreset); err != nil {
		return fmt.Errorf("sidecar: inject: %w", err)
	}
	for j := range p.AppEnv {
		e := &p.AppEnv[j]
		k := envIndex(c.Env, e.Name)
		if k < 0 {
			if err := r.m.AddEnv(patch.Containers, c.Name, *e); err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
			continue
		}
		cur := &c.Env[k]
		d := r.old.AppEnv[e.Name]
		own := d != "" && !r.oldPreset[presetKey{item: e.Name, container: c.Name}]
		switch {
		case own && sameEnv(cur, e):
		case own && d == envDigest(cur):
			r.updateEnv(c.Name, envTarget(e))
		default:
			r.rec.PresetEnv = addPreset(r.rec.PresetEnv, e.Name, c.Name)
			if !sameEnv(cur, e) {
				r.warn(compat.CodeSpecNotApplied, path().Child("env").Index(k), fmt.Sprintf("container %q sets %s itself; its value is kept", c.Name, e.Name))
			}
		}
	}
	if l := managed.paths(); len(l) > 0 {
		// Validated are the mounts the injection manages, not what the
		// container had (env is not validated).
		r.mounted[c.Name] = l
	}
	return nil
}

// managedMounts collects the mountPaths of the plan's app mounts (all, in
// the plan's order) that the injection manages in one container. Usually
// it manages all of them: the list is then all itself, which containers
// share, and a list of its own is made only when one is skipped.
type managedMounts struct {
	all []string
	n   int      // the paths are all[:n] while own is nil
	own []string // the paths, once they are not a prefix of all
}

// add adds the j-th app mount.
func (m *managedMounts) add(j int) {
	if m.own == nil && j == m.n { // every mount before j was added
		m.n++
		return
	}
	if m.own == nil {
		m.own = append(make([]string, 0, len(m.all)), m.all[:m.n]...)
	}
	m.own = append(m.own, m.all[j])
}

// paths returns the mountPaths added.
func (m *managedMounts) paths() []string {
	if m.own == nil {
		return m.all[:m.n:m.n]
	}
	return m.own
}

// mountPathsOf returns the mountPaths of l.
func mountPathsOf(l []corev1.VolumeMount) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].MountPath
	}
	return out
}

// presetKey names one application container's item: a mount (by
// mountPath) or an env var (by name).
type presetKey struct {
	mount     bool
	item      string
	container string
}

// presetsOf returns the set of rec's preset items (nil when it has none):
// one pass over the record, so that a record of any size costs a map
// lookup per container and item.
func presetsOf(rec *Record) map[presetKey]bool {
	if len(rec.PresetMounts)+len(rec.PresetEnv) == 0 {
		return nil
	}
	out := map[presetKey]bool{}
	for item, cs := range rec.PresetMounts {
		for _, c := range cs {
			out[presetKey{mount: true, item: item, container: c}] = true
		}
	}
	for item, cs := range rec.PresetEnv {
		for _, c := range cs {
			out[presetKey{item: item, container: c}] = true
		}
	}
	return out
}

// addPreset adds container to m's list for item.
func addPreset(m map[string][]string, item, container string) map[string][]string {
	if m == nil {
		m = map[string][]string{}
	}
	m[item] = append(m[item], container)
	return m
}

func (r *reconciler) updateMount(container string, vm corev1.VolumeMount) {
	r.updates = append(r.updates, func(after *corev1.PodSpec, idx map[string]int) error {
		c, err := regular(after, idx, container)
		if err != nil {
			return err
		}
		if k := mountIndex(c.VolumeMounts, vm.MountPath); k >= 0 {
			c.VolumeMounts[k] = vm
		}
		return nil
	})
}

func (r *reconciler) updateEnv(container string, e corev1.EnvVar) {
	r.updates = append(r.updates, func(after *corev1.PodSpec, idx map[string]int) error {
		c, err := regular(after, idx, container)
		if err != nil {
			return err
		}
		if k := envIndex(c.Env, e.Name); k >= 0 {
			c.Env[k] = e
		}
		return nil
	})
}

// regular returns the regular container named name of after.
func regular(after *corev1.PodSpec, idx map[string]int, name string) (*corev1.Container, error) {
	i, ok := idx[name]
	if !ok || i < 0 {
		return nil, fmt.Errorf("sidecar: inject: container %q vanished", name)
	}
	return &after.Containers[i], nil
}

// stale returns the entries of old whose keys cur lacks (nil when none).
func stale(old, cur map[string]string) map[string]string {
	var out map[string]string
	for k, d := range old {
		if _, ok := cur[k]; !ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = d
		}
	}
	return out
}

// removeStaleItems removes from the application container c each volume
// mount and env var that an earlier injection added (its key is in mounts
// or env with a digest its content matches, and preset does not list it
// as c's author's). It walks c's lists, never the record's, so a record of
// any size costs nothing per container.
func removeStaleItems(m editor, c *corev1.Container, mounts, env map[string]string, preset map[presetKey]bool) error {
	if len(mounts) > 0 {
		var gone []string
		for k := range c.VolumeMounts {
			mp := c.VolumeMounts[k].MountPath
			if d, ok := mounts[mp]; ok && mountDigest(&c.VolumeMounts[k]) == d && !preset[presetKey{mount: true, item: mp, container: c.Name}] {
				gone = append(gone, mp)
			}
		}
		for _, mp := range gone {
			if err := m.RemoveVolumeMount(patch.Containers, c.Name, mp); err != nil {
				return err
			}
		}
	}
	if len(env) > 0 {
		var gone []string
		for k := range c.Env {
			n := c.Env[k].Name
			if d, ok := env[n]; ok && envDigest(&c.Env[k]) == d && !preset[presetKey{item: n, container: c.Name}] {
				gone = append(gone, n)
			}
		}
		for _, n := range gone {
			if err := m.RemoveEnv(patch.Containers, c.Name, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mountIndex(l []corev1.VolumeMount, path string) int {
	for i := range l {
		if l[i].MountPath == path {
			return i
		}
	}
	return -1
}

// envIndex returns the index of the last definition of name in l, the one
// that takes effect: the kubelet sets a container's variables in order, a
// later definition of a name hiding an earlier one (docs/injection-record.md).
func envIndex(l []corev1.EnvVar, name string) int {
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].Name == name {
			return i
		}
	}
	return -1
}

// defaultContainer keeps kubectl's default container an application
// container: when a sidecar of the plan is the first regular container,
// the Pod gets kubectl.kubernetes.io/default-container naming the first
// application container, unless it names one itself
// (docs/injection-record.md#kubectls-default-container). The record keeps
// the value set, so that a later injection that no longer puts a sidecar
// first, Migrate and Uninject remove it, and only while it still holds
// that value.
func (r *reconciler) defaultContainer() error {
	names := r.m.Names(patch.Containers)
	app := ""
	for _, n := range names {
		if !r.cm.names[n] {
			app = n
			break
		}
	}
	// kubectl takes an empty value for none.
	cur := ""
	if r.meta != nil {
		cur = r.meta.Annotations[annotation.DefaultContainer]
	}
	has := cur != ""
	ours := has && r.hasOld && r.old.DefaultContainer != "" && cur == r.old.DefaultContainer
	if len(names) > 0 && r.cm.names[names[0]] && app != "" {
		switch {
		case !has || ours && cur != app:
			if err := r.m.SetAnnotation(annotation.DefaultContainer, app); err != nil {
				return fmt.Errorf("sidecar: inject: %w", err)
			}
			r.rec.DefaultContainer = app
		case ours:
			r.rec.DefaultContainer = app
		}
		return nil
	}
	if ours {
		if err := r.m.RemoveAnnotation(annotation.DefaultContainer); err != nil {
			return fmt.Errorf("sidecar: inject: %w", err)
		}
	}
	return nil
}

func (r *reconciler) nodeRequirement() error {
	switch {
	case r.plan.NodeRequirement != nil:
		// A Planner's requirement may be one patch refuses (no key).
		if err := r.m.RequireNode(*r.plan.NodeRequirement); err != nil {
			return fmt.Errorf("sidecar: inject: the plan's node requirement: %w", err)
		}
	case r.old.NodeRequirement:
		if err := r.m.RemoveNodeRequirement(compat.NativeNodeSelectorRequirement()); err != nil {
			return fmt.Errorf("sidecar: inject: %w", err)
		}
	}
	return nil
}

// applyUpdates makes the in-place updates on the spec as the other edits
// left it and records them field by field (patch.Mutation.Diff).
func (r *reconciler) applyUpdates() error {
	if len(r.updates) == 0 {
		return nil
	}
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("sidecar: inject: %w", err)
	}
	_, after := r.m.Result()
	// idx maps a regular container's name to its index, an init
	// container's to -1-index.
	idx := make(map[string]int, len(after.InitContainers)+len(after.Containers))
	for i := range after.InitContainers {
		idx[after.InitContainers[i].Name] = -i - 1
	}
	for i := range after.Containers {
		idx[after.Containers[i].Name] = i
	}
	for _, u := range r.updates {
		if err := u(after, idx); err != nil {
			return err
		}
	}
	if err := r.m.Diff(after); err != nil {
		return fmt.Errorf("sidecar: inject: %w", err)
	}
	return nil
}

// without returns ws minus every occurrence of w, reusing nothing of ws.
func without(ws []compat.Finding, w compat.Finding) []compat.Finding {
	var out []compat.Finding
	for _, x := range ws {
		if x != w {
			out = append(out, x)
		}
	}
	return out
}

// editsApps reports whether the injection edits application containers:
// it gives them the plan's mounts or env, or removes an earlier
// injection's (the edits address a regular container by its name).
func (r *reconciler) editsApps() bool {
	return len(r.plan.AppMounts)+len(r.plan.AppEnv)+len(r.old.AppMounts)+len(r.old.AppEnv) > 0
}
