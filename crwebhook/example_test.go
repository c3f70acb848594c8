package crwebhook_test

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// A webhook on controller-runtime: the handler on the manager's webhook
// server, judging each Pod by the Nodes of the manager's cache.
func Example() {
	spec, err := sidecar.LoadSpec([]byte(`{"name":"proxy","image":"registry.example/proxy:1.9"}`))
	if err != nil {
		panic(err)
	}
	injector, err := sidecar.NewInjector(spec)
	if err != nil {
		panic(err)
	}
	// In a manager: crwebhook.Cluster{Nodes: mgr.GetClient(), APIServerVersion: ...}.
	var nodes crwebhook.CapabilityFunc = func(context.Context, *corev1.PodSpec) (compat.Capability, error) {
		return compat.Cluster{APIServerVersion: "v1.33.1", Nodes: []corev1.Node{{
			ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
			Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.33.1"}},
		}}}.For(nil)
	}
	h, err := crwebhook.NewHandler(crwebhook.Config{Injector: injector, Capability: nodes})
	if err != nil {
		panic(err)
	}
	srv := webhook.NewServer(webhook.Options{}) // mgr.GetWebhookServer()
	if err := crwebhook.Register(srv, "/mutate-pods", h); err != nil {
		panic(err)
	}

	// What the API server's review of a Pod gets back.
	resp := h.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "1",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Operation: admissionv1.Create,
		Object: runtime.RawExtension{Raw: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},` +
			`"spec":{"containers":[{"name":"app","image":"web","x-future":1}]}}`)},
	}})
	var ops patch.Ops
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		panic(err)
	}
	fmt.Println(resp.Allowed, *resp.PatchType, resp.Result.Message)
	for _, op := range ops {
		fmt.Println(op.Op, op.Path)
	}
	// Output:
	// true JSONPatch native: every node the Pod may land on runs native sidecars and the API server stores the field
	// add /spec/initContainers
	// add /metadata/annotations
}
