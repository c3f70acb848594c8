package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wI2L/jsondiff"
	gomodules "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Input is one fixture prepared for every path.
type Input struct {
	// Name is the fixture's name ("typical").
	Name string
	// Raw is the Pod as JSON.
	Raw []byte
	// Review is an AdmissionReview v1 request carrying Raw.
	Review []byte
	// Meta and Spec are Raw decoded once, for the paths that start from a
	// decoded Pod. Paths never modify them.
	Meta *metav1.ObjectMeta
	Spec *corev1.PodSpec
	// Sidecar is what is injected, and Injector the same prepared once.
	Sidecar  sidecar.Spec
	Injector *sidecar.Injector
	// Admission is the library's admission package, configured alike.
	Admission *admission.Webhook
	// AdmissionLean is the same with the mode set and no hooks.
	AdmissionLean *admission.Webhook
	// AdmissionDecide is Admission with a Decide hook too, which sees the
	// Pod's spec, so that it decodes Pods in full.
	AdmissionDecide *admission.Webhook
}

// NewInput prepares raw, a Pod, for the paths.
func NewInput(name string, raw []byte) (*Input, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", name, err)
	}
	review, err := Review(raw)
	if err != nil {
		return nil, err
	}
	in, err := sidecar.NewInjector(Spec())
	if err != nil {
		return nil, err
	}
	adm, err := NewAdmission()
	if err != nil {
		return nil, err
	}
	lean, err := NewAdmissionLean()
	if err != nil {
		return nil, err
	}
	decide, err := NewAdmissionDecide()
	if err != nil {
		return nil, err
	}
	return &Input{Name: name, Raw: raw, Review: review, Meta: &pod.ObjectMeta, Spec: &pod.Spec, Sidecar: Spec(), Injector: in,
		Admission: adm, AdmissionLean: lean, AdmissionDecide: decide}, nil
}

// Output says what a path produces.
type Output int

// The outputs.
const (
	// Nothing: the path only decodes (F1).
	Nothing Output = iota
	// JSONPatch: an RFC 6902 patch of the Pod.
	JSONPatch
	// MergePatch: a strategic merge patch of the Pod.
	MergePatch
	// ReviewResponse: an AdmissionReview v1 response carrying a JSON patch.
	ReviewResponse
)

// Path is one way of computing the patch.
type Path struct {
	// Key names the path in benchmark names (BenchmarkPaths/<Key>/<fixture>).
	Key string
	// Title describes the path in the report.
	Title string
	// Output is what Run returns.
	Output Output
	// Run computes the path's output from in.
	Run func(in *Input) ([]byte, error)
}

// Paths returns every measured path, F1 first.
func Paths() []Path {
	return []Path{
		{"F1", "F1: json.Unmarshal of the Pod into corev1.Pod (the unit)", Nothing, F1},
		{"PeerGomodules", "peer: decode, mutate, json.Marshal, gomodules.xyz/jsonpatch/v2 CreatePatch vs raw (controller-runtime PatchResponseFromRaw)", JSONPatch, PeerGomodules},
		{"PeerJSONDiff", "peer: decode, mutate, json.Marshal, wI2L/jsondiff CompareJSON vs raw", JSONPatch, PeerJSONDiff},
		{"PeerSMP", "peer: decode, mutate, json.Marshal, strategicpatch.CreateTwoWayMergePatch vs raw", MergePatch, PeerSMP},
		{"OursInject", "ours: sidecar.Inject + Mutation.MarshalJSONPatch from a decoded PodSpec", JSONPatch, OursInject},
		{"OursInjector", "ours: Injector.Inject (Spec prepared once) + MarshalJSONPatch from a decoded PodSpec", JSONPatch, OursInjector},
		{"OursDiff", "ours: DeepCopy, mutate, Mutation.Diff + SetAnnotation + JSONPatch + MarshalJSON from a decoded PodSpec", JSONPatch, OursDiff},
		{"AdmissionPeer", "admission, peer: AdmissionReview bytes in, decode, mutate, marshal, gomodules CreatePatch, response bytes out", ReviewResponse, AdmissionPeer},
		{"AdmissionOurs", "admission, ours with a Capability hook: AdmissionReview bytes in, package admission (lean decode of the Pod, Injector.Inject, MarshalJSONPatch), response bytes out", ReviewResponse, AdmissionOurs},
		{"AdmissionLean", "admission, ours without hooks (mode native, no Capability or Decide): AdmissionReview bytes in, package admission (lean decode of the Pod, Injector.Inject, MarshalJSONPatch), response bytes out", ReviewResponse, AdmissionLean},
		{"AdmissionDecide", "admission, ours with a Capability and a Decide hook: AdmissionReview bytes in, package admission (patch.DecodeAs, Injector.Inject, MarshalJSONPatch), response bytes out", ReviewResponse, AdmissionDecide},
	}
}

// F1 decodes the Pod into corev1.Pod with encoding/json: the unit every
// other path is measured against.
func F1(in *Input) ([]byte, error) {
	var pod corev1.Pod
	return nil, json.Unmarshal(in.Raw, &pod)
}

// typedAfter decodes raw, makes the mutation on the typed Pod and marshals
// it again: the first half of every peer path.
func typedAfter(raw []byte, s *sidecar.Spec) ([]byte, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(raw, &pod); err != nil {
		return nil, err
	}
	mutateTyped(&pod.ObjectMeta, &pod.Spec, s)
	return json.Marshal(&pod)
}

// PeerGomodules is the path of controller-runtime's
// admission.PatchResponseFromRaw: the mutated typed Pod diffed against the
// raw request with gomodules.xyz/jsonpatch/v2.
func PeerGomodules(in *Input) ([]byte, error) {
	return peerGomodules(in.Raw, &in.Sidecar)
}

func peerGomodules(raw []byte, s *sidecar.Spec) ([]byte, error) {
	after, err := typedAfter(raw, s)
	if err != nil {
		return nil, err
	}
	ops, err := gomodules.CreatePatch(raw, after)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ops)
}

// PeerJSONDiff diffs the mutated typed Pod against the raw request with
// github.com/wI2L/jsondiff.
func PeerJSONDiff(in *Input) ([]byte, error) {
	after, err := typedAfter(in.Raw, &in.Sidecar)
	if err != nil {
		return nil, err
	}
	p, err := jsondiff.CompareJSON(in.Raw, after)
	if err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// PeerSMP computes a strategic merge patch from the raw request to the
// mutated typed Pod.
func PeerSMP(in *Input) ([]byte, error) {
	after, err := typedAfter(in.Raw, &in.Sidecar)
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(in.Raw, after, corev1.Pod{})
}

// OursInject plans the injection with sidecar.Inject on the decoded Pod and
// renders it as an RFC 6902 patch.
func OursInject(in *Input) ([]byte, error) {
	res, err := sidecar.Inject(in.Meta, in.Spec, in.Sidecar, Capability(), sidecar.Options{})
	if err != nil {
		return nil, err
	}
	return res.Mutation.MarshalJSONPatch(patch.PodRoot)
}

// OursInjector is OursInject with the Spec prepared once by
// sidecar.NewInjector, as a webhook does.
func OursInjector(in *Input) ([]byte, error) {
	return inject(in.Injector, in.Meta, in.Spec, patch.PodRoot, nil)
}

func inject(inj *sidecar.Injector, meta *metav1.ObjectMeta, spec *corev1.PodSpec, root patch.Root, podResources *corev1.ResourceRequirements) ([]byte, error) {
	res, err := inj.Inject(context.Background(), meta, spec, Capability(), sidecar.Options{PodResources: podResources})
	if err != nil {
		return nil, err
	}
	return res.Mutation.MarshalJSONPatch(root)
}

// OursDiff is the drop-in fix for typed webhooks: copy the decoded spec,
// make the mutation on the copy, and let patch.Diff turn it into ops.
func OursDiff(in *Input) ([]byte, error) {
	after := in.Spec.DeepCopy()
	meta := metav1.ObjectMeta{}
	mutateTyped(&meta, after, &in.Sidecar)
	m := patch.New(in.Meta, in.Spec)
	if err := m.Diff(after); err != nil {
		return nil, err
	}
	key := sidecar.Annotation(SidecarName)
	if err := m.SetAnnotation(key, meta.Annotations[key]); err != nil {
		return nil, err
	}
	return m.MarshalJSONPatch(patch.PodRoot)
}

var jsonPatchType = admissionv1.PatchTypeJSONPatch

// Review wraps a Pod in an AdmissionReview v1 CREATE request, as the API
// server sends it.
func Review(raw []byte) ([]byte, error) {
	var head struct {
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("bench: review: %w", err)
	}
	dry := false
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:             "705ab4f5-6393-11e8-b7cc-42010a800002",
			Kind:            metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:        metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			RequestKind:     &metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			RequestResource: &metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Name:            head.Metadata.Name,
			Namespace:       head.Metadata.Namespace,
			Operation:       admissionv1.Create,
			DryRun:          &dry,
			Options:         runtimeRaw(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions"}`),
			Object:          runtimeRaw(string(raw)),
		},
	}
	ar.Request.UserInfo.Username = "system:serviceaccount:kube-system:replicaset-controller"
	ar.Request.UserInfo.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}
	return json.Marshal(&ar)
}

// errNoRequest is returned for a review without a request.
var errNoRequest = errors.New("bench: AdmissionReview has no request")

// respond encodes the AdmissionReview response for request uid.
func respond(uid []byte, p []byte) ([]byte, error) {
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: &admissionv1.AdmissionResponse{UID: typesUID(uid), Allowed: true},
	}
	if len(p) > 2 { // not "[]"
		ar.Response.Patch, ar.Response.PatchType = p, &jsonPatchType
	}
	return json.Marshal(&ar)
}

// AdmissionPeer is a typed webhook's whole path: decode the review and the
// Pod, mutate, marshal, diff with gomodules.xyz/jsonpatch/v2, respond.
func AdmissionPeer(in *Input) ([]byte, error) {
	return admissionPeer(in.Review, &in.Sidecar)
}

func admissionPeer(review []byte, s *sidecar.Spec) ([]byte, error) {
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(review, &ar); err != nil {
		return nil, err
	}
	if ar.Request == nil {
		return nil, errNoRequest
	}
	p, err := peerGomodules(ar.Request.Object.Raw, s)
	if err != nil {
		return nil, err
	}
	return respond([]byte(ar.Request.UID), p)
}

// AdmissionOurs is the library's whole path, package admission, for a
// webhook with a Capability hook: review bytes in, the lean decode of the
// Pod, Injector.Inject, MarshalJSONPatch, response bytes out.
func AdmissionOurs(in *Input) ([]byte, error) {
	out, _, err := in.Admission.Review(context.Background(), in.Review)
	return out, err
}

// NewAdmission returns the admission package's Injector for the
// benchmark's Spec and capability.
func NewAdmission() (*admission.Webhook, error) {
	c := Capability()
	return admission.New(admission.Config{
		Spec:       Spec(),
		Capability: func(context.Context, *admission.Request) (compat.Capability, error) { return c, nil },
	})
}

// AdmissionLean is AdmissionOurs for a webhook whose mode is set and that
// has no hooks (no Capability, no Decide): nothing but the injection reads
// the Pod, so package admission decodes it leanly.
func AdmissionLean(in *Input) ([]byte, error) {
	out, _, err := in.AdmissionLean.Review(context.Background(), in.Review)
	return out, err
}

// NewAdmissionLean returns the admission package's Injector for the
// benchmark's Spec in native mode, without hooks.
func NewAdmissionLean() (*admission.Webhook, error) {
	return admission.New(admission.Config{Spec: Spec(), Options: sidecar.Options{Mode: sidecar.Native}})
}

// AdmissionDecide is AdmissionOurs for a webhook with a Decide hook as
// well: the hook sees the Pod's spec, so package admission decodes the Pod
// in full (patch.DecodeAs).
func AdmissionDecide(in *Input) ([]byte, error) {
	out, _, err := in.AdmissionDecide.Review(context.Background(), in.Review)
	return out, err
}

// NewAdmissionDecide returns NewAdmission's Webhook with a Decide hook
// that injects into every Pod.
func NewAdmissionDecide() (*admission.Webhook, error) {
	c := Capability()
	return admission.New(admission.Config{
		Spec:       Spec(),
		Options:    sidecar.Options{Decide: func(*metav1.ObjectMeta, *corev1.PodSpec) sidecar.Decision { return sidecar.Decision{Inject: true} }},
		Capability: func(context.Context, *admission.Request) (compat.Capability, error) { return c, nil },
	})
}

func runtimeRaw(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }

func typesUID(b []byte) types.UID { return types.UID(b) }
