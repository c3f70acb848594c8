package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// serviceAccountMountPath is where the ServiceAccount admission plugin
// mounts the token into every container, the sidecar included
// (https://kubernetes.io/docs/concepts/security/service-accounts/#how-to-use-service-accounts):
// the one volume mount the stored sidecar may have beyond the Spec's.
const serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// serverSet are the fields, by Go type and JSON name, that the API server
// (its defaulting, or a built-in admission plugin: LimitRanger,
// ServiceAccount) may set where the Spec leaves them unset. The validating
// policy accepts any value there; every other field the Spec leaves unset
// must be absent. The defaults are those of k8s.io/kubernetes
// pkg/apis/core/v1/defaults.go
// (https://github.com/kubernetes/kubernetes/blob/v1.37.2/pkg/apis/core/v1/defaults.go).
var serverSet = map[string]bool{
	"Container.terminationMessagePath":                true,
	"Container.terminationMessagePolicy":              true,
	"Container.imagePullPolicy":                       true,
	"Container.resources":                             true, // LimitRanger; requests from limits
	"ResourceRequirements.requests":                   true,
	"ResourceRequirements.limits":                     true,
	"ContainerPort.protocol":                          true,
	"ContainerPort.hostPort":                          true, // = containerPort under hostNetwork
	"Probe.timeoutSeconds":                            true,
	"Probe.periodSeconds":                             true,
	"Probe.successThreshold":                          true,
	"Probe.failureThreshold":                          true,
	"HTTPGetAction.scheme":                            true,
	"HTTPGetAction.protocol":                          true, // H2CContainerProbe (alpha, 1.37)
	"GRPCAction.service":                              true,
	"ObjectFieldSelector.apiVersion":                  true,
	"FileKeySelector.optional":                        true,
	"ConfigMapVolumeSource.defaultMode":               true,
	"SecretVolumeSource.defaultMode":                  true,
	"ProjectedVolumeSource.defaultMode":               true,
	"DownwardAPIVolumeSource.defaultMode":             true,
	"HostPathVolumeSource.type":                       true,
	"ImageVolumeSource.pullPolicy":                    true,
	"ServiceAccountTokenProjection.expirationSeconds": true,
	"ISCSIVolumeSource.iscsiInterface":                true,
	"RBDVolumeSource.pool":                            true,
	"RBDVolumeSource.user":                            true,
	"RBDVolumeSource.keyring":                         true,
	"AzureDiskVolumeSource.cachingMode":               true,
	"AzureDiskVolumeSource.fsType":                    true,
	"AzureDiskVolumeSource.readOnly":                  true,
	"AzureDiskVolumeSource.kind":                      true,
	"ScaleIOVolumeSource.storageMode":                 true,
	"ScaleIOVolumeSource.fsType":                      true,
}

// validating compiles the companion validating policy of one shape: the
// container under the sidecar's name must be the Spec's (in the mode's
// list, with its restartPolicy, every field the Spec sets equal, every
// other field absent unless the API server sets it), the Spec's volumes
// present under its names must be the Spec's, and no application
// container may mount another volume at an AppMounts path. A Pod author
// can therefore not pre-empt the injection with a look-alike.
func (c *compiler) validating(sh shape) (*admissionregistrationv1.ValidatingAdmissionPolicy, error) {
	name := celString(c.spec.Container.Name)
	s := sh.spec
	all, err := c.sidecarVariables(sh)
	if err != nil {
		return nil, err
	}
	vars := all[:2] // initSidecars, sidecars
	var vs []admissionregistrationv1.Validation
	add := func(expr, msg string) {
		vs = append(vs, admissionregistrationv1.Validation{Expression: expr, Message: msg})
	}
	mine, other := "variables.initSidecars", "variables.sidecars"
	where := "an init container with restartPolicy Always (" + string(c.opts.Mode) + " mode)"
	restart := `has(c.restartPolicy) && c.restartPolicy == "Always"`
	if c.opts.Mode == sidecar.Legacy {
		mine, other = other, mine
		where = "a regular container (legacy mode)"
		restart = "!has(c.restartPolicy)"
	}
	sn := c.spec.Container.Name
	add(fmt.Sprintf("size(%s) == 0", other), fmt.Sprintf("container %q must be %s: it is the sidecar's name, which a pod cannot use for a container of its own", sn, where))
	add(fmt.Sprintf("%s.all(c, %s)", mine, restart), fmt.Sprintf("container %q must be %s", sn, where))
	// Field by field, so that the message names the field.
	checks, err := c.containerChecks()
	if err != nil {
		return nil, err
	}
	for _, ch := range checks {
		add(fmt.Sprintf("%s.all(c, %s)", mine, ch.pred), fmt.Sprintf("container %q differs from sidecar %q's spec in %s: a pod cannot bring its own version of the sidecar", sn, sn, ch.field))
	}
	for _, v := range c.spec.Volumes {
		p, err := match("v", v, reflect.TypeOf(v), "Volume")
		if err != nil {
			return nil, err
		}
		add(fmt.Sprintf("!has(%[1]s.volumes) || %[1]s.volumes.all(v, v.name != %[2]s || (%[3]s))", s, celString(v.Name), p),
			fmt.Sprintf("volume %q differs from sidecar %q's: a pod cannot bring its own version of the sidecar's volume", v.Name, sn))
	}
	for _, m := range c.spec.AppMounts {
		add(fmt.Sprintf("!has(%[1]s.containers) || %[1]s.containers.all(c, c.name == %[2]s || !has(c.volumeMounts) || c.volumeMounts.all(m, m.mountPath != %[3]s || m.name == %[4]s))",
			s, name, celString(m.MountPath), celString(m.Name)),
			fmt.Sprintf("an application container mounts another volume at %s, where sidecar %q mounts volume %q into every application container", m.MountPath, sn, m.Name))
	}
	pol := &admissionregistrationv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: c.objectMeta(c.opts.Name + sh.suffix + "-guard"),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: sh.rules},
			// The same selection as the mutating policy's, without its
			// "not injected" condition.
			MatchConditions: c.matchConditions(sh)[:2],
			Variables:       vars,
			Validations:     vs,
			FailurePolicy:   ptr.To(admissionregistrationv1.Fail),
		},
	}
	return pol, nil
}

// fieldCheck is a CEL predicate on a container c for one of its fields.
type fieldCheck struct {
	field, pred string
}

// containerChecks returns, for every field of the Container type but name
// and restartPolicy, a predicate that the container c (a CEL variable) has
// the sidecar's value there: the Spec's value where it sets one, absent
// where it does not (unless the API server sets the field: serverSet),
// and the Spec's volume mounts plus at most the ServiceAccount token.
func (c *compiler) containerChecks() ([]fieldCheck, error) {
	var js map[string]json.RawMessage
	b, err := json.Marshal(c.container)
	if err != nil {
		return nil, fmt.Errorf("policy: encode the sidecar: %w", err)
	}
	if err := json.Unmarshal(b, &js); err != nil {
		return nil, fmt.Errorf("policy: decode the sidecar: %w", err)
	}
	var out []fieldCheck
	for _, f := range jsonFields(reflect.TypeOf(corev1.Container{})) {
		if f.name == "name" || f.name == "restartPolicy" {
			continue
		}
		raw, set := js[f.name]
		var pred string
		switch {
		case f.name == "volumeMounts":
			mounts := []corev1.VolumeMount{}
			if set {
				if err := json.Unmarshal(raw, &mounts); err != nil {
					return nil, fmt.Errorf("policy: decode the sidecar's volumeMounts: %w", err)
				}
			}
			p, err := match("ms", mounts, reflect.TypeOf(mounts), "VolumeMount")
			if err != nil {
				return nil, err
			}
			// The mounts but the token's, bound to ms once (a
			// one-element list's all() binds it: the API server's CEL
			// has no cel.bind).
			pred = fmt.Sprintf("[(has(c.volumeMounts) ? c.volumeMounts : []).filter(m, !(m.mountPath == %s && has(m.readOnly) && m.readOnly))].all(ms, %s)",
				celString(serviceAccountMountPath), p)
		case set && emptyStruct(raw, f.typ):
			continue // encoded although unset (a struct, not a pointer)
		case set:
			v, err := decode(raw)
			if err != nil {
				return nil, err
			}
			p, err := matchJSON("c."+f.name, v, f.typ, "Container")
			if err != nil {
				return nil, err
			}
			pred = fmt.Sprintf("has(c.%s) && %s", f.name, p)
		case serverSet["Container."+f.name]:
			continue
		default:
			if celReserved[f.name] {
				continue
			}
			pred = fmt.Sprintf("!has(c.%s)", f.name)
		}
		out = append(out, fieldCheck{f.name, pred})
	}
	return out, nil
}

func decode(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("policy: decode: %w", err)
	}
	return v, nil
}

// match returns a CEL predicate that x (a CEL expression) holds the Go
// value v of type t (the name of the enclosing struct type is owner, for
// serverSet).
func match(x string, v any, t reflect.Type, owner string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("policy: encode: %w", err)
	}
	j, err := decode(b)
	if err != nil {
		return "", err
	}
	return matchJSON(x, j, t, owner)
}

var quantityType = reflect.TypeOf(corev1.ResourceList{}).Elem()

// matchJSON returns a CEL predicate that x holds the JSON value j of Go
// type t: scalars equal (quantities by value), lists of the same length
// with matching elements, structs with every field j sets matching and
// every other field absent (unless serverSet), maps with every key of j
// (a built-in plugin may add keys: LimitRanger's resources).
func matchJSON(x string, j any, t reflect.Type, owner string) (string, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch v := j.(type) {
	case nil:
		return "true", nil
	case bool:
		return fmt.Sprintf("%s == %t", x, v), nil
	case string:
		if t == quantityType {
			return fmt.Sprintf("quantity(%s).compareTo(quantity(%s)) == 0", x, celString(v)), nil
		}
		return fmt.Sprintf("%s == %s", x, celString(v)), nil
	case json.Number:
		i, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return "", fmt.Errorf("policy: %s: %s is not an integer", x, v)
		}
		return fmt.Sprintf("%s == %d", x, i), nil
	case []any:
		var elem reflect.Type
		if t != nil {
			elem = t.Elem()
		}
		parts := []string{fmt.Sprintf("size(%s) == %d", x, len(v))}
		for i, e := range v {
			p, err := matchJSON(fmt.Sprintf("%s[%d]", x, i), e, elem, owner)
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return "(" + strings.Join(parts, " && ") + ")", nil
	case map[string]any:
		if t != nil && t.Kind() == reflect.Map {
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := []string{"true"}
			for _, k := range keys {
				p, err := matchJSON(fmt.Sprintf("%s[%s]", x, celString(k)), v[k], t.Elem(), owner)
				if err != nil {
					return "", err
				}
				parts = append(parts, fmt.Sprintf("%s in %s && %s", celString(k), x, p))
			}
			return "(" + strings.Join(parts, " && ") + ")", nil
		}
		if t == nil || t.Kind() != reflect.Struct {
			return "", fmt.Errorf("policy: %s: an object of unknown type", x)
		}
		parts := []string{"true"}
		for _, f := range jsonFields(t) {
			if celReserved[f.name] {
				if _, set := v[f.name]; set {
					return "", fmt.Errorf("policy: %s.%s: the field's name is a CEL reserved word; the policy compiler cannot express this spec", x, f.name)
				}
				continue
			}
			fx := x + "." + f.name
			e, set := v[f.name]
			switch {
			case set && f.typ.Kind() == reflect.Struct && isEmptyMap(e):
				// encoded although unset (a struct, not a pointer)
			case set:
				p, err := matchJSON(fx, e, f.typ, typeName(f.typ))
				if err != nil {
					return "", err
				}
				parts = append(parts, fmt.Sprintf("has(%s) && %s", fx, p))
			case serverSet[t.Name()+"."+f.name]:
			default:
				parts = append(parts, fmt.Sprintf("!has(%s)", fx))
			}
		}
		return "(" + strings.Join(parts, " && ") + ")", nil
	}
	return "", fmt.Errorf("policy: %s: unexpected JSON value %T", x, j)
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t.Name()
}

// emptyStruct reports whether raw is {} for a struct-typed (not pointer)
// field, which encoding/json emits even when nothing in it is set.
func emptyStruct(raw json.RawMessage, t reflect.Type) bool {
	return t.Kind() == reflect.Struct && string(bytes.TrimSpace(raw)) == "{}"
}

func isEmptyMap(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}
