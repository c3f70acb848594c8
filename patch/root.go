package patch

import (
	"fmt"
	"sort"
	"strings"
)

// Root is the JSON Pointer of a PodSpec inside a document, such as "/spec"
// for a Pod or "/spec/template/spec" for a Deployment. The pod's metadata is
// the sibling "metadata" member (see [Root.Metadata]).
type Root string

// The PodSpec locations of the supported kinds.
const (
	// PodRoot is the PodSpec of a Pod.
	PodRoot Root = "/spec"
	// TemplateRoot is the pod template's PodSpec of a Deployment,
	// StatefulSet, DaemonSet, ReplicaSet, Job or ReplicationController.
	TemplateRoot Root = "/spec/template/spec"
	// cronJobRoot is the pod template's PodSpec of a CronJob.
	cronJobRoot Root = "/spec/jobTemplate/spec/template/spec"
	// podTemplateRoot is the PodSpec of a PodTemplate object.
	podTemplateRoot Root = "/template/spec"
)

var kindRoots = map[string]Root{
	"Pod":                   PodRoot,
	"Deployment":            TemplateRoot,
	"StatefulSet":           TemplateRoot,
	"DaemonSet":             TemplateRoot,
	"ReplicaSet":            TemplateRoot,
	"Job":                   TemplateRoot,
	"ReplicationController": TemplateRoot,
	"CronJob":               cronJobRoot,
	"PodTemplate":           podTemplateRoot,
}

// kinds returns the object kinds whose PodSpec location is known, sorted.
func kinds() []string {
	kinds := make([]string, 0, len(kindRoots))
	for k := range kindRoots {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// RootFor returns the PodSpec location for an object kind such as
// "Deployment".
func RootFor(kind string) (Root, error) {
	r, ok := kindRoots[kind]
	if !ok {
		return "", fmt.Errorf("patch: kind %q has no pod spec; supported kinds: %s", kind, strings.Join(kinds(), ", "))
	}
	return r, nil
}

// Metadata returns the JSON Pointer of the pod metadata that belongs to the
// PodSpec at r: "/metadata" for "/spec", "/spec/template/metadata" for
// "/spec/template/spec". A root that does not end in "/spec" has none.
func (r Root) Metadata() (string, bool) {
	s := string(r)
	if !strings.HasSuffix(s, "/spec") {
		return "", false
	}
	return strings.TrimSuffix(s, "/spec") + "/metadata", true
}

// fieldPath returns r as a dotted field path ("spec.template.spec"), the
// form Kubernetes uses in validation errors.
func (r Root) fieldPath() string {
	return strings.ReplaceAll(strings.TrimPrefix(string(r), "/"), "/", ".")
}
