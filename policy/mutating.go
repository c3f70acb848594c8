package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// compiler holds what every shape's policy shares.
type compiler struct {
	spec sidecar.Spec
	opts Options
	// container is the sidecar as injected (restartPolicy Always when
	// native), the rest of the values the Spec's, each as CEL.
	container *corev1.Container
	// record is the CEL expression of the record annotation's value.
	record string
}

func newCompiler(s sidecar.Spec, o Options) (*compiler, error) {
	c := &compiler{spec: s, opts: o}
	ct := *s.Container.DeepCopy()
	ct.RestartPolicy = nil
	if o.Mode != sidecar.Legacy {
		ct.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	}
	c.container = &ct
	if err := presetKeyError(s); err != nil {
		return nil, err
	}
	rec, err := c.recordExpr()
	if err != nil {
		return nil, err
	}
	c.record = rec
	return c, nil
}

// probePod is a Pod without the sidecar, to have the library compute its
// record. hostNetwork changes the defaults the digests are taken under
// (hostPort follows containerPort); nothing else of the Pod the policy
// injects into does, except volumes of the Spec's names already present,
// which the record does not claim (recordExpr).
func probePod(hostNetwork bool) (*metav1.ObjectMeta, *corev1.PodSpec) {
	return &metav1.ObjectMeta{Name: "probe"}, &corev1.PodSpec{
		HostNetwork: hostNetwork,
		Containers:  []corev1.Container{{Name: "app", Image: "app"}},
	}
}

// libraryRecord returns the record annotation sidecar.Inject writes into
// the probe Pod.
func (c *compiler) libraryRecord(hostNetwork bool) (string, error) {
	meta, spec := probePod(hostNetwork)
	if c.spec.Container.Name == "app" {
		spec.Containers[0].Name = "main"
	}
	res, err := sidecar.Inject(meta, spec, c.spec, compat.Capability{}, sidecar.Options{Mode: c.opts.Mode})
	if err != nil {
		return "", fmt.Errorf("policy: the library refuses the spec for a plain pod: %w", err)
	}
	m, _ := res.Mutation.Result()
	v, ok := m.Annotations[sidecar.Annotation(c.spec.Container.Name)]
	if !ok {
		return "", fmt.Errorf("policy: the library wrote no record for sidecar %q", c.spec.Container.Name)
	}
	// The record's last member names kubectl's default container when a
	// legacy sidecar goes first: the Pod's, computed in CEL (dcVariables).
	if t := fmt.Sprintf(`,"defaultContainer":"%s"}`, spec.Containers[0].Name); strings.HasSuffix(v, t) {
		v = strings.TrimSuffix(v, t) + "}"
	}
	// The preset members, computed in CEL (presetVariables), go before
	// the node requirement.
	if strings.HasSuffix(v, nodeMember+"}") {
		v = strings.TrimSuffix(v, nodeMember+"}") + "}"
	}
	return v, nil
}

// nodeMember is the record's member of the pinned mode's node
// requirement.
const nodeMember = `,"nodeRequirement":true`

// recordExpr returns a CEL expression of the record the library would
// write into the Pod being admitted. The library's record is taken from
// sidecar.Inject on probe Pods; its "volumes" member lists the volumes the
// injection added, so the expression leaves out those the Pod already had
// (the policy does not add them, and the library claims no volume it did
// not add).
func (c *compiler) recordExpr() (string, error) {
	plain, err := c.libraryRecord(false)
	if err != nil {
		return "", err
	}
	host, err := c.libraryRecord(true)
	if err != nil {
		return "", err
	}
	p, err := c.recordPieces(strings.TrimSuffix(plain, "}"))
	if err != nil {
		return "", err
	}
	if host != plain {
		h, err := c.recordPieces(strings.TrimSuffix(host, "}"))
		if err != nil {
			return "", err
		}
		p = fmt.Sprintf("((has(%[1]s.hostNetwork) && %[1]s.hostNetwork) ? %[2]s : %[3]s)", specPlaceholder, h, p)
	}
	if len(c.spec.AppMounts) > 0 {
		p += " + variables.presetMounts"
	}
	if len(c.spec.AppEnv) > 0 {
		p += " + variables.presetEnv"
	}
	if c.opts.Mode == sidecar.Pinned {
		p += " + " + celString(nodeMember)
	}
	return p + ` + variables.dcMember + "}"`, nil
}

// presetVariables compute the record's presetMounts and presetEnv members
// (each "" or the member with its leading comma), as sidecar.Inject
// writes them: per item of the Spec's AppMounts (by mountPath) and AppEnv
// (by name), the application containers that have it and where it is not
// the injection's, that is, the previous record (when the policy runs
// again on a Pod it injected) does not list the item, or lists the
// container as preset for it. Three variables per member: the containers
// of each item (<member>Lists), the member's entries of the items with
// containers (<member>Entries), and the member.
func (c *compiler) presetVariables(sh shape) []admissionregistrationv1.Variable {
	var out []admissionregistrationv1.Variable
	name := celString(c.spec.Container.Name)
	ann := sh.meta + ".annotations"
	rec := fmt.Sprintf("%s[%s]", ann, celString(sidecar.Annotation(c.spec.Container.Name)))
	hasRec := fmt.Sprintf("(has(%s) && %s in %s)", ann, celString(sidecar.Annotation(c.spec.Container.Name)), ann)
	// member tests whether the previous record has the object member m,
	// and body is its body (the record's keys hold none of {}[]":,
	// presetKeyError).
	member := func(m string) string {
		return fmt.Sprintf(`%s && %s.split(%s).size() > 1`, hasRec, rec, celString(`"`+m+`":{`))
	}
	body := func(m string) string {
		return fmt.Sprintf(`%s.split(%s)[1].split("}")[0]`, rec, celString(`"`+m+`":{`))
	}
	for _, k := range []struct {
		member, owned, has string
		items              []string
	}{
		{"presetMounts", "appMounts", "has(c.volumeMounts) && c.volumeMounts.exists(m, m.mountPath == n)", mountPaths(c.spec.AppMounts)},
		{"presetEnv", "appEnv", "has(c.env) && c.env.exists(e, e.name == n)", envNames(c.spec.AppEnv)},
	} {
		if len(k.items) == 0 {
			continue
		}
		items, keys, indices := make([]string, len(k.items)), make([]string, len(k.items)), make([]string, len(k.items))
		for i, item := range k.items {
			items[i], keys[i], indices[i] = celString(item), celString(`"`+item+`":`), fmt.Sprint(i)
		}
		key := `"\"" + n + "\":"`
		owned := fmt.Sprintf("(%s && %s.contains(%s))", member(k.owned), body(k.owned), key)
		listed := fmt.Sprintf(`(%[1]s && %[2]s.split(%[3]s + "[").size() > 1 && %[2]s.split(%[3]s + "[")[1].split("]")[0].split(",").exists(x, x == "\"" + c.name + "\""))`,
			member(k.member), body(k.member), key)
		out = append(out,
			admissionregistrationv1.Variable{Name: k.member + "Lists", Expression: fmt.Sprintf(
				"[%s].map(n, has(%s.containers) ? %s.containers.filter(c, c.name != %s && %s && (!%s || %s)).map(c, c.name) : [])",
				strings.Join(items, ", "), sh.spec, sh.spec, name, k.has, owned, listed)},
			admissionregistrationv1.Variable{Name: k.member + "Entries", Expression: fmt.Sprintf(
				`[%[1]s].filter(i, size(variables.%[3]sLists[i]) > 0).map(i, [%[2]s][i] + "[\"" + variables.%[3]sLists[i].join("\",\"") + "\"]")`,
				strings.Join(indices, ", "), strings.Join(keys, ", "), k.member)},
			admissionregistrationv1.Variable{Name: k.member, Expression: fmt.Sprintf(
				`size(variables.%[1]sEntries) == 0 ? "" : %[2]s + variables.%[1]sEntries.join(",") + "}"`, k.member, celString(`,"`+k.member+`":{`))})
	}
	return out
}

// mountPaths returns the mountPaths of l, sorted as the record's keys are.
func mountPaths(l []corev1.VolumeMount) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].MountPath
	}
	sort.Strings(out)
	return out
}

// envNames returns the names of l, sorted as the record's keys are.
func envNames(l []corev1.EnvVar) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].Name
	}
	sort.Strings(out)
	return out
}

// presetKeyError refuses an AppMounts mountPath or AppEnv name that the
// policy's record expression cannot look up in a previous record: one
// that JSON escapes, or that holds a character of the record's structure.
func presetKeyError(s sidecar.Spec) error {
	check := func(p, k string) error {
		b, err := json.Marshal(k)
		if err != nil || string(b) != `"`+k+`"` || strings.ContainsAny(k, "{}[]:,\"") {
			return fmt.Errorf("policy: %s: %q: the policy supports names without JSON escapes and without any of {}[]:, (use the webhook for this Spec)", p, k)
		}
		return nil
	}
	for i, m := range s.AppMounts {
		if err := check(fmt.Sprintf("appMounts[%d].mountPath", i), m.MountPath); err != nil {
			return err
		}
	}
	for i, e := range s.AppEnv {
		if err := check(fmt.Sprintf("appEnv[%d].name", i), e.Name); err != nil {
			return err
		}
	}
	return nil
}

// specPlaceholder stands for the pod spec's CEL expression in the record
// expression, which every shape shares.
const specPlaceholder = "\x00spec\x00"

// metaPlaceholder stands for the pod metadata's CEL expression there.
const metaPlaceholder = "\x00meta\x00"

// recordPieces splits the record rec around its volumes member and returns
// a CEL expression (with specPlaceholder for the pod spec) that joins the pieces,
// keeping the entry of each volume only when the Pod has no volume of
// that name.
func (c *compiler) recordPieces(rec string) (string, error) {
	r, ok, err := sidecar.ReadRecord(&metav1.ObjectMeta{Annotations: map[string]string{sidecar.Annotation(c.spec.Container.Name): rec + "}"}}, c.spec.Container.Name)
	if err != nil {
		return "", fmt.Errorf("policy: the library's record does not read back: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("policy: the library's record for sidecar %q is missing", c.spec.Container.Name)
	}
	if len(r.Volumes) == 0 {
		return celString(rec), nil
	}
	names := make([]string, 0, len(r.Volumes))
	for n := range r.Volumes {
		names = append(names, n)
	}
	sort.Strings(names)
	entries := make([]string, len(names))
	for i, n := range names {
		// Volume names are DNS labels and digests hex: nothing to escape
		// in JSON.
		entries[i] = fmt.Sprintf(`"%s":"%s"`, n, r.Volumes[n])
	}
	member := `,"volumes":{` + strings.Join(entries, ",") + `}`
	i := strings.Index(rec, member)
	if i < 0 || strings.Index(rec[i+1:], member) >= 0 {
		return "", fmt.Errorf("policy: the library's record %s has no single volumes member %s", rec, member)
	}
	var opt []string
	for k, n := range names {
		// The Pod had the volume (identical, or the validating policy
		// refuses it) and no earlier record of this sidecar claims it:
		// the author's, left out, as the library leaves it out. A
		// volume the previous record claims stays claimed (a
		// reinvocation, an update of the sidecar).
		claimed := fmt.Sprintf(`(has(%[1]s.annotations) && %[2]s in %[1]s.annotations && %[1]s.annotations[%[2]s].split(%[3]s).size() > 1 && `+
			`%[1]s.annotations[%[2]s].split(%[3]s)[1].split("}")[0].contains(%[4]s))`,
			metaPlaceholder, celString(sidecar.Annotation(c.spec.Container.Name)), celString(`"volumes":{`), celString(`"`+n+`":`))
		opt = append(opt, fmt.Sprintf("(has(%[1]s.volumes) && %[1]s.volumes.exists(v, v.name == %[2]s) && !%[4]s ? [] : [%[3]s])", specPlaceholder, celString(n), celString(entries[k]), claimed))
	}
	list := strings.Join(opt, " + ")
	return fmt.Sprintf(`%s + ((%s).size() == 0 ? "" : %s + (%s).join(",") + "}") + %s`,
		celString(rec[:i]), list, celString(`,"volumes":{`), list, celString(rec[i+len(member):])), nil
}

// jsonPatch formats a JSONPatch initializer.
func jsonPatch(op, path, value string) string {
	if value == "" {
		return fmt.Sprintf("JSONPatch{op: %q, path: %s}", op, path)
	}
	return fmt.Sprintf("JSONPatch{op: %q, path: %s, value: %s}", op, path, value)
}

// mutating compiles the mutating policy of one shape.
func (c *compiler) mutating(sh shape) (*admissionregistrationv1.MutatingAdmissionPolicy, error) {
	expr, err := c.patchExpr(sh)
	if err != nil {
		return nil, err
	}
	vars, err := c.sidecarVariables(sh)
	if err != nil {
		return nil, err
	}
	name := c.opts.Name + sh.suffix
	return &admissionregistrationv1.MutatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicy"},
		ObjectMeta: c.objectMeta(name),
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: sh.rules},
			MatchConditions:  c.matchConditions(sh),
			// The library's record of the injection (the annotation's
			// value). (Object types, for the sidecar's literal, exist only
			// in mutations, not in variables.)
			Variables: append(append(append(vars, c.dcVariables(sh)...), c.presetVariables(sh)...),
				admissionregistrationv1.Variable{Name: "record", Expression: strings.NewReplacer(specPlaceholder, sh.spec, metaPlaceholder, sh.meta).Replace(c.record)}),
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: expr},
			}},
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			// IfNeeded: a later mutation (a webhook, another policy) that
			// adds an application container gets the sidecar's mounts
			// and env from a second pass; the guard makes a pass over a
			// Pod that has the sidecar a no-op.
			ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
		},
	}, nil
}

// sidecarVariables are the containers of the sidecar's name in each list
// (initSidecars, sidecars), whether there is none (absent), and whether
// the one there, in the mode's list, is not the Spec's (stale): every
// field the validating policy checks.
func (c *compiler) sidecarVariables(sh shape) ([]admissionregistrationv1.Variable, error) {
	name := celString(c.spec.Container.Name)
	mine, other := "variables.initSidecars", "variables.sidecars"
	restart := `has(c.restartPolicy) && c.restartPolicy == "Always"`
	if c.opts.Mode == sidecar.Legacy {
		mine, other = other, mine
		restart = "!has(c.restartPolicy)"
	}
	checks, err := c.containerChecks()
	if err != nil {
		return nil, err
	}
	preds := []string{restart}
	for _, ch := range checks {
		preds = append(preds, ch.pred)
	}
	return []admissionregistrationv1.Variable{
		{Name: "initSidecars", Expression: fmt.Sprintf("has(%[1]s.initContainers) ? %[1]s.initContainers.filter(c, c.name == %[2]s) : []", sh.spec, name)},
		{Name: "sidecars", Expression: fmt.Sprintf("has(%[1]s.containers) ? %[1]s.containers.filter(c, c.name == %[2]s) : []", sh.spec, name)},
		{Name: "absent", Expression: "size(variables.initSidecars) + size(variables.sidecars) == 0"},
		{Name: "stale", Expression: fmt.Sprintf("size(%s) == 1 && size(%s) == 0 && !%s.all(c, %s)", mine, other, mine, strings.Join(preds, " && "))},
	}, nil
}

// matchConditions decide whether the policy runs: the object has a pod
// spec, the pod did not opt out, and no container has the sidecar's name
// or the record annotation claims it (a container of the sidecar's name
// that no record claims is the author's: the policy leaves it, and the
// validating policy refuses the Pod unless it is the sidecar exactly, as
// the library refuses to overwrite it).
func (c *compiler) matchConditions(sh shape) []admissionregistrationv1.MatchCondition {
	name := celString(c.spec.Container.Name)
	key := celString(c.opts.SelectionKey)
	no := `["false", "disabled"]`
	optOut := fmt.Sprintf(`!((has(%[1]s.labels) && %[2]s in %[1]s.labels) ? %[1]s.labels[%[2]s].lowerAscii() in %[3]s : `+
		`(has(%[1]s.annotations) && %[2]s in %[1]s.annotations && %[1]s.annotations[%[2]s].lowerAscii() in %[3]s))`,
		sh.meta, key, no)
	if sh.meta != "object.metadata" {
		optOut = fmt.Sprintf("!has(%s) || %s", sh.meta, optOut)
	}
	return []admissionregistrationv1.MatchCondition{
		{Name: "has-pod-spec", Expression: sh.present},
		{Name: "not-opted-out", Expression: optOut},
		{Name: "absent-or-claimed", Expression: fmt.Sprintf(
			`!((has(%[1]s.initContainers) && %[1]s.initContainers.exists(c, c.name == %[2]s)) || (has(%[1]s.containers) && %[1]s.containers.exists(c, c.name == %[2]s))) || `+
				`(has(%[3]s.annotations) && %[4]s in %[3]s.annotations)`,
			sh.spec, name, sh.meta, celString(sidecar.Annotation(c.spec.Container.Name)))},
	}
}

// patchExpr builds the JSON patch expression of one shape: one list of
// operations, all computed against the object as admitted (so that indices
// stay valid: the application containers' edits come before the legacy
// sidecar's insertion shifts them).
func (c *compiler) patchExpr(sh shape) (string, error) {
	var parts []string
	apps, err := c.appEdits(sh)
	if err != nil {
		return "", err
	}
	parts = append(parts, apps...)
	vols, err := c.volumeEdits(sh)
	if err != nil {
		return "", err
	}
	parts = append(parts, vols...)
	ins, err := c.insertSidecar(sh)
	if err != nil {
		return "", err
	}
	parts = append(parts, ins)
	if c.opts.Mode == sidecar.Pinned {
		aff, err := c.affinityEdits(sh)
		if err != nil {
			return "", err
		}
		parts = append(parts, aff)
	}
	parts = append(parts, c.recordEdit(sh))
	if c.opts.Mode == sidecar.Legacy {
		ann := sh.meta + ".annotations"
		dc := celString(defaultContainerAnnotation)
		parts = append(parts, fmt.Sprintf(`(variables.dcSet && !(has(%[1]s) && %[2]s in %[1]s && %[1]s[%[2]s] == variables.defaultApp) ? [%[3]s] : [])`,
			ann, dc, jsonPatch("add", fmt.Sprintf(`%q + jsonpatch.escapeKey(%s)`, sh.metaPath+"/annotations/", dc), "variables.defaultApp")))
	}
	return strings.Join(parts, " +\n"), nil
}

// appEdits give every regular container the Spec's AppMounts (unless it
// mounts something at the mountPath) and AppEnv (unless it sets the
// variable), appended in the Spec's order as sidecar.Inject does.
func (c *compiler) appEdits(sh shape) ([]string, error) {
	var parts []string
	cs := sh.spec + ".containers"
	name := celString(c.spec.Container.Name)
	item := func(i string) string { return fmt.Sprintf(`%q + "/containers/" + string(%s)`, sh.specPath, i) }
	if len(c.spec.AppMounts) > 0 {
		parts = append(parts, fmt.Sprintf("%s.transformList(i, c, c.name != %s && !has(c.volumeMounts), %s)", cs, name,
			jsonPatch("add", item("i")+` + "/volumeMounts"`, "[]")))
		for _, m := range c.spec.AppMounts {
			v, err := celValue(m, "Object.spec.containers.volumeMounts")
			if err != nil {
				return nil, err
			}
			parts = append(parts, fmt.Sprintf("%s.transformList(i, c, c.name != %s && (!has(c.volumeMounts) || !c.volumeMounts.exists(m, m.mountPath == %s)), %s)",
				cs, name, celString(m.MountPath), jsonPatch("add", item("i")+` + "/volumeMounts/-"`, v)))
		}
	}
	if len(c.spec.AppEnv) > 0 {
		parts = append(parts, fmt.Sprintf("%s.transformList(i, c, c.name != %s && !has(c.env), %s)", cs, name,
			jsonPatch("add", item("i")+` + "/env"`, "[]")))
		for _, e := range c.spec.AppEnv {
			v, err := celValue(e, "Object.spec.containers.env")
			if err != nil {
				return nil, err
			}
			parts = append(parts, fmt.Sprintf("%s.transformList(i, c, c.name != %s && (!has(c.env) || !c.env.exists(e, e.name == %s)), %s)",
				cs, name, celString(e.Name), jsonPatch("add", item("i")+` + "/env/-"`, v)))
		}
	}
	if len(parts) > 0 {
		// Only with the containers list present (the API server refuses
		// a Pod without one anyway).
		return []string{fmt.Sprintf("(has(%s) ? (%s) : [])", cs, strings.Join(parts, " + "))}, nil
	}
	return nil, nil
}

// volumeEdits add the Spec's volumes the Pod lacks by name, at the end. A
// volume of the same name is left in place; the validating policy refuses
// it when it differs from the Spec's.
func (c *compiler) volumeEdits(sh shape) ([]string, error) {
	if len(c.spec.Volumes) == 0 {
		return nil, nil
	}
	vs := sh.spec + ".volumes"
	out := []string{fmt.Sprintf("(!has(%s) ? [%s] : [])", vs, jsonPatch("add", fmt.Sprintf("%q", sh.specPath+"/volumes"), "[]"))}
	for _, v := range c.spec.Volumes {
		lit, err := celValue(v, "Object.spec.volumes")
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("(has(%s) && %s.exists(v, v.name == %s) ? [] : [%s])", vs, vs, celString(v.Name),
			jsonPatch("add", fmt.Sprintf("%q", sh.specPath+"/volumes/-"), lit)))
	}
	return out, nil
}

// insertSidecar inserts the sidecar where the Spec's placement puts it: in
// the init containers (native, pinned), or the containers (legacy, where
// Before and After an init container, or a missing one, mean first, as
// sidecar.LegacyPlacement says).
func (c *compiler) insertSidecar(sh shape) (string, error) {
	list := "initContainers"
	if c.opts.Mode == sidecar.Legacy {
		list = "containers"
	}
	typ := "Object.spec.initContainers"
	if c.opts.Mode == sidecar.Legacy {
		typ = "Object.spec.containers"
	}
	lit, err := celValue(c.container, typ)
	if err != nil {
		return "", err
	}
	l := sh.spec + "." + list
	idx := c.insertIndex(l)
	// The sidecar is inserted when the Pod has no container of its name,
	// and replaces the container the record claims when that one is not
	// the Spec's (an older version, or one changed by the Pod's author or
	// another mutation), in its list; one in the other list (a mode
	// change) is left to the validating policy. A missing list is created
	// empty first, so that the sidecar's literal appears once.
	at := fmt.Sprintf("string(%[1]s.transformList(i, c, c.name == %[2]s, i)[0])", l, celString(c.spec.Container.Name))
	return fmt.Sprintf("(!has(%[1]s) ? [%[2]s] : []) + "+
		"(variables.absent || variables.stale ? [JSONPatch{op: variables.absent ? \"add\" : \"replace\", path: %[3]q + (variables.absent ? %[4]s : %[5]s), value: %[6]s}] : [])",
		l, jsonPatch("add", fmt.Sprintf("%q", sh.specPath+"/"+list), "[]"),
		sh.specPath+"/"+list+"/", idx, at, lit), nil
}

// insertIndex is the CEL expression (a string) of where the sidecar goes in
// the list l: "0" first, "-" last, or before or after a named container
// (first when it is missing).
func (c *compiler) insertIndex(l string) string {
	switch p := c.spec.Placement; p.Position {
	case sidecar.Last:
		return `"-"`
	case sidecar.Before, sidecar.After:
		off := ""
		if p.Position == sidecar.After {
			off = " + 1"
		}
		return fmt.Sprintf("string(has(%[1]s) && %[1]s.exists(c, c.name == %[2]s) ? %[1]s.transformList(i, c, c.name == %[2]s, i)[0]%[3]s : 0)", l, celString(p.Name), off)
	}
	return `"0"`
}

// dcVariables compute kubectl's default container as the library sets it
// (sidecar.Inject; docs/injection-record.md#kubectls-default-container):
// when a legacy sidecar is the first regular container, the annotation
// kubectl.kubernetes.io/default-container names the first application
// container, unless the Pod names one itself (an empty value is none), or
// the value is the one the previous record set. dcMember is the record's
// member for it.
func (c *compiler) dcVariables(sh shape) []admissionregistrationv1.Variable {
	if c.opts.Mode != sidecar.Legacy {
		return []admissionregistrationv1.Variable{{Name: "dcMember", Expression: `""`}}
	}
	l := sh.spec + ".containers"
	name := celString(c.spec.Container.Name)
	ann := sh.meta + ".annotations"
	dc := celString(defaultContainerAnnotation)
	key := celString(sidecar.Annotation(c.spec.Container.Name))
	return []admissionregistrationv1.Variable{
		{Name: "defaultApp", Expression: fmt.Sprintf(`variables.absent ? (%[3]s == "0" && has(%[1]s) && size(%[1]s) > 0 ? %[1]s[0].name : "") : `+
			`(has(%[1]s) && size(%[1]s) > 0 && %[1]s[0].name == %[2]s && %[1]s.exists(c, c.name != %[2]s) ? %[1]s.filter(c, c.name != %[2]s)[0].name : "")`,
			l, name, c.insertIndex(l))},
		{Name: "dcSet", Expression: fmt.Sprintf(`variables.defaultApp != "" && (!(has(%[1]s) && %[2]s in %[1]s && %[1]s[%[2]s] != "") || `+
			`(%[3]s in %[1]s && %[1]s[%[3]s].contains("\"defaultContainer\":\"" + %[1]s[%[2]s] + "\"")))`, ann, dc, key)},
		{Name: "dcMember", Expression: `variables.dcSet ? ",\"defaultContainer\":\"" + variables.defaultApp + "\"" : ""`},
	}
}

// defaultContainerAnnotation is kubectl's default container annotation
// (https://kubernetes.io/docs/reference/labels-annotations-taints/#kubectl-kubernetes-io-default-container).
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// affinityEdits AND the native-node requirement
// (compat.NativeNodeSelectorRequirement) into every required node
// selector term that lacks it, creating the affinity where there is none,
// as the library's pinned mode does (patch.Mutation.RequireNode).
func (c *compiler) affinityEdits(sh shape) (string, error) {
	req := compat.NativeNodeSelectorRequirement()
	const t = "Object.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
	reqLit, err := celValue(req, t+".nodeSelectorTerms.matchExpressions")
	if err != nil {
		return "", err
	}
	term := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req}}
	termLit, err := celValue(term, t+".nodeSelectorTerms")
	if err != nil {
		return "", err
	}
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term}}
	selLit, err := celValue(sel, t)
	if err != nil {
		return "", err
	}
	na := &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: sel}
	naLit, err := celValue(na, "Object.spec.affinity.nodeAffinity")
	if err != nil {
		return "", err
	}
	aff := &corev1.Affinity{NodeAffinity: na}
	affLit, err := celValue(aff, "Object.spec.affinity")
	if err != nil {
		return "", err
	}
	a := sh.spec + ".affinity"
	r := a + ".nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
	p := sh.specPath + "/affinity"
	rp := p + "/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"
	has := fmt.Sprintf(`t.matchExpressions.exists(e, e.key == %s && e.operator == %s && has(e.values) && e.values == %s)`,
		celString(req.Key), celString(string(req.Operator)), celList(req.Values))
	return fmt.Sprintf(`(!has(%[1]s) ? [%[2]s] : !has(%[1]s.nodeAffinity) ? [%[3]s] : !has(%[4]s) ? [%[5]s] : `+
		`(!has(%[4]s.nodeSelectorTerms) || size(%[4]s.nodeSelectorTerms) == 0) ? [%[6]s] : `+
		`%[4]s.nodeSelectorTerms.transformList(i, t, !(has(t.matchExpressions) && %[7]s), `+
		`has(t.matchExpressions) ? %[8]s : %[9]s))`,
		a,
		jsonPatch("add", fmt.Sprintf("%q", p), affLit),
		jsonPatch("add", fmt.Sprintf("%q", p+"/nodeAffinity"), naLit),
		r,
		jsonPatch("add", fmt.Sprintf("%q", rp), selLit),
		jsonPatch("add", fmt.Sprintf("%q", rp+"/nodeSelectorTerms"), "["+termLit+"]"),
		has,
		jsonPatch("add", fmt.Sprintf(`%q + string(i) + "/matchExpressions/-"`, rp+"/nodeSelectorTerms/"), reqLit),
		jsonPatch("add", fmt.Sprintf(`%q + string(i) + "/matchExpressions"`, rp+"/nodeSelectorTerms/"), "["+reqLit+"]"),
	), nil
}

// recordEdit writes the library's record annotation, so that the library
// (Inject, Uninject, Migrate, sidecarctl doctor) recognises the injection
// as its own.
func (c *compiler) recordEdit(sh shape) string {
	key := sidecar.Annotation(c.spec.Container.Name)
	rec := "variables.record"
	ann := sh.meta + ".annotations"
	annP := fmt.Sprintf("%q", sh.metaPath+"/annotations")
	create := jsonPatch("add", annP, fmt.Sprintf("{%s: %s}", celString(key), rec))
	set := jsonPatch("add", fmt.Sprintf(`%q + jsonpatch.escapeKey(%s)`, sh.metaPath+"/annotations/", celString(key)), rec)
	expr := fmt.Sprintf("(!has(%[1]s) ? [%[2]s] : %[4]s in %[1]s && %[1]s[%[4]s] == %[5]s ? [] : [%[3]s])", ann, create, set, celString(key), rec)
	if sh.meta != "object.metadata" {
		expr = fmt.Sprintf("(!has(%s) ? [%s] : %s)", sh.meta,
			jsonPatch("add", fmt.Sprintf("%q", sh.metaPath), fmt.Sprintf("%s{annotations: {%s: %s}}", sh.metaType, celString(key), rec)), expr)
	}
	return expr
}

// celList renders a list of strings.
func celList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = celString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
