package patch

import (
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Object is a document decoded just far enough to mutate its pods: its kind,
// the location of its PodSpec, the typed PodSpec and the pod metadata.
type Object struct {
	// APIVersion and Kind are the document's; Kind is "Pod" when the
	// document has none.
	APIVersion, Kind string
	// Name and Namespace are the object's own (not its pod template's).
	Name, Namespace string
	// Root locates Spec in the document.
	Root Root
	// Meta is the pod metadata (for workloads, the template's). It is nil
	// when the document has no metadata object there, or it is null.
	Meta *metav1.ObjectMeta
	// Spec is the typed PodSpec. Fields of the raw document that the
	// compiled API types do not know are absent from it; a Mutation never
	// touches them.
	Spec *corev1.PodSpec
	// PodResources holds the pod-level resources (spec.resources, beta
	// and on by default since Kubernetes 1.34), decoded even when the
	// compiled PodSpec type has no such field. Nil when absent.
	PodResources *corev1.ResourceRequirements
}

// ErrNoPodSpec is returned by Decode when the document has no PodSpec where
// its kind keeps one.
var ErrNoPodSpec = errors.New("patch: no pod spec")

// Decode decodes a Pod or workload (Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job, CronJob, ReplicationController, PodTemplate) from JSON,
// case-sensitively like the API server. Only the parts a Mutation needs are
// decoded.
func Decode(raw []byte) (*Object, error) {
	if o, ok := decodeOnePass(raw); ok {
		return o, nil
	}
	return decodeTwoPass(raw)
}

// onePass decodes a Pod in a single pass over the document: the PodSpec
// and the members that hold a workload's pod template, which are kept raw
// and decoded only for workloads.
type onePass struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   *metav1.ObjectMeta `json:"metadata"`
	Spec       *struct {
		podSpec
		Template    json.RawMessage `json:"template"`
		JobTemplate json.RawMessage `json:"jobTemplate"`
	} `json:"spec"`
	Template json.RawMessage `json:"template"`
}

// decodeOnePass decodes a Pod with one pass. It reports false for any
// other kind and for any document it cannot decode, which decodeTwoPass
// then handles (and reports errors for) as before.
func decodeOnePass(raw []byte) (*Object, bool) {
	var d onePass
	if err := utiljson.Unmarshal(raw, &d); err != nil {
		return nil, false
	}
	if d.Kind != "" && d.Kind != "Pod" || d.Spec == nil {
		return nil, false
	}
	o := &Object{APIVersion: d.APIVersion, Kind: "Pod", Root: PodRoot, Meta: d.Metadata}
	if d.Metadata != nil {
		o.Name, o.Namespace = d.Metadata.Name, d.Metadata.Namespace
	}
	o.Spec, o.PodResources = &d.Spec.PodSpec, d.Spec.Resources
	return o, true
}

// decodeTwoPass decodes the head of the document, then the PodSpec where
// the kind keeps it.
func decodeTwoPass(raw []byte) (*Object, error) {
	var head struct {
		APIVersion string             `json:"apiVersion"`
		Kind       string             `json:"kind"`
		Metadata   *metav1.ObjectMeta `json:"metadata"`
	}
	o := &Object{}
	var err error
	var tmpl *template
	var spec *podSpec
	var kind string
	if err = utiljson.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("patch: decode: %w", err)
	}
	kind = head.Kind
	if kind == "" {
		kind = "Pod"
	}
	o.APIVersion, o.Kind = head.APIVersion, kind
	if head.Metadata != nil {
		o.Name, o.Namespace = head.Metadata.Name, head.Metadata.Namespace
	}
	if o.Root, err = RootFor(kind); err != nil {
		return nil, err
	}
	switch o.Root {
	case PodRoot:
		var d struct {
			Spec *podSpec `json:"spec"`
		}
		err = utiljson.Unmarshal(raw, &d)
		o.Meta, spec = head.Metadata, d.Spec
	case TemplateRoot:
		var d struct {
			Spec struct {
				Template *template `json:"template"`
			} `json:"spec"`
		}
		err = utiljson.Unmarshal(raw, &d)
		tmpl = d.Spec.Template
	case CronJobRoot:
		var d struct {
			Spec struct {
				JobTemplate *struct {
					Spec struct {
						Template *template `json:"template"`
					} `json:"spec"`
				} `json:"jobTemplate"`
			} `json:"spec"`
		}
		err = utiljson.Unmarshal(raw, &d)
		if d.Spec.JobTemplate != nil {
			tmpl = d.Spec.JobTemplate.Spec.Template
		}
	case PodTemplateRoot:
		var d struct {
			Template *template `json:"template"`
		}
		err = utiljson.Unmarshal(raw, &d)
		tmpl = d.Template
	}
	if err != nil {
		return nil, fmt.Errorf("patch: decode %s: %w", kind, err)
	}
	if tmpl != nil {
		o.Meta, spec = tmpl.Metadata, tmpl.Spec
	}
	if spec == nil {
		return nil, fmt.Errorf("%w at %s of %s %q", ErrNoPodSpec, o.Root.FieldPath(), kind, o.Name)
	}
	o.Spec, o.PodResources = &spec.PodSpec, spec.Resources
	return o, nil
}

type template struct {
	Metadata *metav1.ObjectMeta `json:"metadata"`
	Spec     *podSpec           `json:"spec"`
}

// podSpec decodes a PodSpec together with the pod-level resources. The
// outer field is shallower than any field of the embedded PodSpec, so it
// takes "resources" even when a newer PodSpec type has that field too.
type podSpec struct {
	corev1.PodSpec
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// Mutation returns an empty mutation of the object's pod.
func (o *Object) Mutation() *Mutation {
	return New(o.Meta, o.Spec)
}
