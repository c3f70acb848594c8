package patch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/internal/jsonscan"
	"github.com/sidecarkit/sidecarkit/internal/schema"
)

// Object is a document decoded just far enough to mutate its pods: its kind,
// the location of its PodSpec, the typed PodSpec and the pod metadata.
type Object struct {
	// APIVersion and Kind are the document's; Kind is "Pod" when the
	// document has none.
	APIVersion, Kind string
	// Name and Namespace are the object's own (not its pod template's).
	Name, Namespace string
	// ResourceVersion is the object's own metadata.resourceVersion ("" for
	// an object not read from the API server), the precondition of a patch
	// of the live object (see ResourceVersion).
	ResourceVersion string
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

	// raw is the document decoded; it must not change while the Object
	// is in use (see UnknownFields).
	raw []byte
	// kindless: the document has no "kind" (DecodeAs took its argument).
	kindless bool
}

// containerType is the schema of a container, for UnknownFields.
var containerType = schema.Of(corev1.Container{})

// UnknownFields returns the members of container i of list l in the raw
// document that the compiled API types do not know, as field paths (for
// example "spec.initContainers[0].securityContext.appArmorProfile"),
// sorted; nil when there are none or the Object was not decoded from a
// document. Such members are invisible in Spec: a webhook compiled against
// older k8s.io/api cannot see them, but the API server stores them. It
// reads only as much of the document as it must, and the raw document
// given to Decode must not have changed since.
func (o *Object) UnknownFields(l List, i int) ([]string, error) {
	if _, err := l.index(); err != nil {
		return nil, fmt.Errorf("patch: unknown fields: %w", err)
	}
	if o.raw == nil {
		return nil, nil
	}
	tokens := append(strings.Split(strings.TrimPrefix(string(o.Root), "/"), "/"), string(l), strconv.Itoa(i))
	elem, ok, err := jsonscan.Find(o.raw, tokens)
	if err != nil {
		return nil, fmt.Errorf("patch: unknown fields of %s: %w", listPath(l).Index(i), err)
	}
	if !ok {
		return nil, nil
	}
	var doc interface{}
	if err := utiljson.Unmarshal(elem, &doc); err != nil {
		return nil, fmt.Errorf("patch: unknown fields of %s: %w", listPath(l).Index(i), err)
	}
	base := o.Root.fieldPath() + "." + string(l) + "[" + strconv.Itoa(i) + "]"
	var out []string
	for _, u := range containerType.Unknowns(doc) {
		out = append(out, base+"."+u.Path.String())
	}
	return out, nil
}

// ErrNoPodSpec is returned by Decode when the document has no PodSpec where
// its kind keeps one.
var ErrNoPodSpec = errors.New("patch: no pod spec")

// errNoKind is Decode's error for a document without a kind.
var errNoKind = fmt.Errorf("patch: decode: the document has no \"kind\": use DecodeAs with the kind you know (an admission request's kind.kind, a client's GroupVersionKind)")

// Decode decodes a Pod or workload (Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job, CronJob, ReplicationController, PodTemplate) from JSON,
// case-sensitively like the API server, by the document's "kind". It never
// guesses: a document without a kind is an error that names DecodeAs, the
// call for a kind known from elsewhere. Only the parts a Mutation needs are
// decoded.

func Decode(raw []byte) (*Object, error) {
	// Most documents are Pods: one pass. Anything else (a workload, whose
	// kind does not match, or a Pod that does not decode) reads the kind
	// first.
	if o, err := DecodeAs(raw, "Pod"); err == nil {
		if o.kindless {
			return nil, errNoKind
		}
		return o, nil
	}
	var head struct {
		Kind string `json:"kind"`
	}
	if err := utiljson.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("patch: decode: %w", err)
	}
	if head.Kind == "" {
		return nil, errNoKind
	}
	return DecodeAs(raw, head.Kind)
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

// Mutation returns an empty mutation of the object's pod, which renders for
// the object's Root.
func (o *Object) Mutation() *Mutation {
	m := New(o.Meta, o.Spec)
	m.root = o.Root
	return m
}
