package patch

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// DecodeAs is like [Decode] for a document whose kind is known beforehand,
// for example from an admission request's kind: it decodes the document in
// a single pass instead of two. The document's own "kind", when present,
// must equal kind; when absent, kind is taken.
func DecodeAs(raw []byte, kind string) (*Object, error) {
	root, err := RootFor(kind)
	if err != nil {
		return nil, err
	}
	o := &Object{Kind: kind, Root: root, raw: raw}
	var docKind string
	var tmpl *template
	var spec *podSpec
	switch root {
	case PodRoot:
		var d struct {
			APIVersion string             `json:"apiVersion"`
			Kind       string             `json:"kind"`
			Metadata   *metav1.ObjectMeta `json:"metadata"`
			Spec       *podSpec           `json:"spec"`
		}
		err = utiljson.Unmarshal(raw, &d)
		o.APIVersion, docKind, o.Meta, spec = d.APIVersion, d.Kind, d.Metadata, d.Spec
		if d.Metadata != nil {
			o.Name, o.Namespace, o.ResourceVersion = d.Metadata.Name, d.Metadata.Namespace, d.Metadata.ResourceVersion
		}
	case TemplateRoot:
		var d struct {
			objectHead
			Spec struct {
				Template *template `json:"template"`
			} `json:"spec"`
		}
		err = utiljson.Unmarshal(raw, &d)
		d.objectHead.fill(o, &docKind)
		tmpl = d.Spec.Template
	case cronJobRoot:
		var d struct {
			objectHead
			Spec struct {
				JobTemplate *struct {
					Spec struct {
						Template *template `json:"template"`
					} `json:"spec"`
				} `json:"jobTemplate"`
			} `json:"spec"`
		}
		err = utiljson.Unmarshal(raw, &d)
		d.objectHead.fill(o, &docKind)
		if d.Spec.JobTemplate != nil {
			tmpl = d.Spec.JobTemplate.Spec.Template
		}
	case podTemplateRoot:
		var d struct {
			objectHead
			Template *template `json:"template"`
		}
		err = utiljson.Unmarshal(raw, &d)
		d.objectHead.fill(o, &docKind)
		tmpl = d.Template
	}
	if err != nil {
		return nil, fmt.Errorf("patch: decode %s: %w", kind, err)
	}
	o.kindless = docKind == ""
	if docKind != "" && docKind != kind {
		return nil, fmt.Errorf("patch: decode %s: the document's kind is %q", kind, docKind)
	}
	if tmpl != nil {
		o.Meta, spec = tmpl.Metadata, tmpl.Spec
	}
	if spec == nil {
		return nil, fmt.Errorf("%w at %s of %s %q", ErrNoPodSpec, o.Root.fieldPath(), kind, o.Name)
	}
	o.Spec, o.PodResources = &spec.PodSpec, spec.Resources
	return o, nil
}

// objectHead is the part of a workload's top level that Object keeps; its
// own metadata is not decoded beyond name, namespace and resourceVersion.
type objectHead struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   *struct {
		Name            string `json:"name"`
		Namespace       string `json:"namespace"`
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

func (h *objectHead) fill(o *Object, kind *string) {
	o.APIVersion, *kind = h.APIVersion, h.Kind
	if h.Metadata != nil {
		o.Name, o.Namespace, o.ResourceVersion = h.Metadata.Name, h.Metadata.Namespace, h.Metadata.ResourceVersion
	}
}
