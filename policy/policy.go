package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	admissionregistrationv1beta1 "k8s.io/api/admissionregistration/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Version is the admissionregistration.k8s.io version of the mutating
// policy and its binding.
type Version string

// The versions. The zero value is V1.
const (
	// V1 is for API servers 1.36 and later, where MutatingAdmissionPolicy
	// is GA and served by default.
	V1 Version = "v1"
	// V1beta1 is for API servers 1.34 and 1.35, which serve it only with
	// the MutatingAdmissionPolicy feature gate on and the
	// admissionregistration.k8s.io/v1beta1 API enabled (docs/policy.md).
	V1beta1 Version = "v1beta1"
)

// DefaultSelectionKey is the label (or, without one, annotation) a Pod or
// pod template opts out with ("false" or "disabled", any case), as the
// example webhook's opt-out selection reads it.
const DefaultSelectionKey = "sidecar.sidecarkit.io/inject"

// Options say what to compile. Mode is required; the rest have defaults.
type Options struct {
	// Mode is sidecar.Native, sidecar.Legacy or sidecar.Pinned. An
	// admission policy cannot see nodes, so Auto is refused, and the
	// universal pair is refused (see ErrUniversal).
	Mode sidecar.Mode
	// Name prefixes the objects' names; default "sidecarkit-" and the
	// sidecar's container name.
	Name string
	// Version of the mutating policy; default V1.
	Version Version
	// Workloads also compiles policies for pod templates: Deployments,
	// StatefulSets, DaemonSets, ReplicaSets, Jobs, ReplicationControllers
	// and CronJobs (created objects only, as the library's webhook).
	Workloads bool
	// ExcludeNamespaces are left alone, through the bindings' namespace
	// selectors (the kubernetes.io/metadata.name label).
	ExcludeNamespaces []string
	// SelectionKey is the opt-out label or annotation; default
	// DefaultSelectionKey.
	SelectionKey string
}

// ErrUniversal is the error Compile returns for the universal mode.
var ErrUniversal = errors.New("policy: the universal pair cannot be compiled into an admission policy: " +
	"its twins run a handshake binary that must be delivered into the pod " +
	"(an init container copying it from an image, or the sidecar image's own path) and wrapped around the sidecar's command, " +
	"and the planner decides per pod from the resolved spec; use the webhook or the operator for universal mode (docs/policy.md#the-universal-pair)")

// Set is a compiled sidecar: for each kind of object (Pods, and with
// Options.Workloads pod templates and CronJobs' job templates), a mutating
// policy and its binding, and the companion validating policy and its
// binding.
type Set struct {
	// Version is the version Objects, YAML and JSON render the mutating
	// policies and bindings in; the fields below hold them as v1 (the two
	// versions have the same fields).
	Version            Version
	Mutating           []*admissionregistrationv1.MutatingAdmissionPolicy
	MutatingBindings   []*admissionregistrationv1.MutatingAdmissionPolicyBinding
	Validating         []*admissionregistrationv1.ValidatingAdmissionPolicy
	ValidatingBindings []*admissionregistrationv1.ValidatingAdmissionPolicyBinding
}

// Objects returns the set's objects in the order to apply them: each
// policy before its binding, the validating policies last. With Version
// V1beta1 the mutating ones are admissionregistration.k8s.io/v1beta1
// objects; the validating ones are always v1 (served since Kubernetes
// 1.30).
func (s *Set) Objects() ([]runtime.Object, error) {
	var out []runtime.Object
	for i := range s.Mutating {
		if s.Version == V1beta1 {
			var m admissionregistrationv1beta1.MutatingAdmissionPolicy
			var mb admissionregistrationv1beta1.MutatingAdmissionPolicyBinding
			if err := convert(s.Mutating[i], &m); err != nil {
				return nil, err
			}
			if err := convert(s.MutatingBindings[i], &mb); err != nil {
				return nil, err
			}
			m.APIVersion = admissionregistrationv1beta1.SchemeGroupVersion.String()
			mb.APIVersion = m.APIVersion
			out = append(out, &m, &mb)
			continue
		}
		out = append(out, s.Mutating[i], s.MutatingBindings[i])
	}
	for i := range s.Validating {
		out = append(out, s.Validating[i], s.ValidatingBindings[i])
	}
	return out, nil
}

// YAML renders the objects as one YAML stream for kubectl apply -f.
func (s *Set) YAML() ([]byte, error) {
	objs, err := s.Objects()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(s.header())
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("policy: yaml: %w", err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// header is the comment that opens the YAML stream: what the API server
// needs for the mutating policy's version (docs/policy.md).
func (s *Set) header() string {
	need := "admissionregistration.k8s.io/v1 MutatingAdmissionPolicy: Kubernetes 1.36 or later"
	if s.Version == V1beta1 {
		need = "admissionregistration.k8s.io/v1beta1 MutatingAdmissionPolicy: Kubernetes 1.34 or 1.35 with kube-apiserver " +
			"--feature-gates=MutatingAdmissionPolicy=true --runtime-config=admissionregistration.k8s.io/v1beta1=true"
	}
	return "# Compiled by sidecarkit (package policy, docs/policy.md). Needs " + need + ".\n"
}

// JSON renders the objects as a v1 List for kubectl apply -f.
func (s *Set) JSON() ([]byte, error) {
	items, err := s.Objects()
	if err != nil {
		return nil, err
	}
	list := struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []runtime.Object `json:"items"`
	}{"v1", "List", items}
	// Without HTML escaping: CEL's && stays readable.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(list); err != nil {
		return nil, fmt.Errorf("policy: json: %w", err)
	}
	return b.Bytes(), nil
}

// Compile compiles the sidecar s, injected in mode o.Mode, into admission
// policies. The Spec is validated first (Spec.Validate); what the policies
// do is what sidecar.Inject does for a Pod without the sidecar, as
// docs/policy.md details, with the differences it lists.
func Compile(s sidecar.Spec, o Options) (*Set, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	switch o.Mode {
	case sidecar.Native, sidecar.Legacy, sidecar.Pinned:
	case sidecar.Universal:
		return nil, ErrUniversal
	case sidecar.Auto:
		return nil, errors.New("policy: mode auto decides from the nodes' capability, which an admission policy cannot see; choose native, legacy or pinned (docs/policy.md#when-to-choose-the-policy)")
	default:
		return nil, fmt.Errorf("policy: unknown mode %q (want native, legacy or pinned)", o.Mode)
	}
	switch o.Version {
	case "":
		o.Version = V1
	case V1, V1beta1:
	default:
		return nil, fmt.Errorf("policy: unknown version %q (want v1 or v1beta1)", o.Version)
	}
	if o.Name == "" {
		o.Name = "sidecarkit-" + s.Container.Name
	}
	// The longest name made is the CronJob guard's binding, a DNS
	// subdomain.
	if msgs := validation.IsDNS1123Subdomain(o.Name + "-cronjobs-guard-binding"); len(msgs) > 0 {
		return nil, fmt.Errorf("policy: name %q: %s", o.Name, strings.Join(msgs, "; "))
	}
	if o.SelectionKey == "" {
		o.SelectionKey = DefaultSelectionKey
	}
	if msgs := validation.IsQualifiedName(o.SelectionKey); len(msgs) > 0 {
		return nil, fmt.Errorf("policy: selection key %q: %s", o.SelectionKey, strings.Join(msgs, "; "))
	}
	for i, ns := range o.ExcludeNamespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return nil, fmt.Errorf("policy: excludeNamespaces[%d]: %q: %s", i, ns, strings.Join(msgs, "; "))
		}
	}
	c, err := newCompiler(s, o)
	if err != nil {
		return nil, err
	}
	shapes := []shape{podShape}
	if o.Workloads {
		shapes = append(shapes, templateShape, cronJobShape)
	}
	set := &Set{Version: o.Version}
	for _, sh := range shapes {
		m, err := c.mutating(sh)
		if err != nil {
			return nil, err
		}
		set.Mutating = append(set.Mutating, m)
		set.MutatingBindings = append(set.MutatingBindings, c.mutatingBinding(sh))
		v, err := c.validating(sh)
		if err != nil {
			return nil, err
		}
		set.Validating = append(set.Validating, v)
		set.ValidatingBindings = append(set.ValidatingBindings, c.validatingBinding(sh))
	}
	return set, nil
}

// convert copies a v1 object into its v1beta1 twin through JSON: the two
// versions have the same fields (k8s.io/api admissionregistration).
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return fmt.Errorf("policy: convert to v1beta1: %w", err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		return fmt.Errorf("policy: convert to v1beta1: %w", err)
	}
	return nil
}

func (c *compiler) objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{
			"app.kubernetes.io/managed-by":  "sidecarkit",
			"sidecar.sidecarkit.io/sidecar": c.spec.Container.Name,
			"sidecar.sidecarkit.io/mode":    string(c.opts.Mode),
		},
	}
}

func (c *compiler) mutatingBinding(sh shape) *admissionregistrationv1.MutatingAdmissionPolicyBinding {
	name := c.opts.Name + sh.suffix
	return &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingAdmissionPolicyBinding"},
		ObjectMeta: c.objectMeta(name + "-binding"),
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName:     name,
			MatchResources: c.bindingMatch(),
		},
	}
}

func (c *compiler) validatingBinding(sh shape) *admissionregistrationv1.ValidatingAdmissionPolicyBinding {
	name := c.opts.Name + sh.suffix + "-guard"
	return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: c.objectMeta(name + "-binding"),
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources:    c.bindingMatch(),
		},
	}
}

// bindingMatch excludes the namespaces of Options.ExcludeNamespaces by the
// label the API server sets on every namespace
// (https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name).
func (c *compiler) bindingMatch() *admissionregistrationv1.MatchResources {
	if len(c.opts.ExcludeNamespaces) == 0 {
		return nil
	}
	return &admissionregistrationv1.MatchResources{
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key:      "kubernetes.io/metadata.name",
			Operator: metav1.LabelSelectorOpNotIn,
			Values:   append([]string(nil), c.opts.ExcludeNamespaces...),
		}}},
	}
}
