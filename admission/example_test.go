package admission_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Review answers an AdmissionReview: the sidecar goes first among the init
// containers of a Pod on a cluster whose nodes all run native sidecars.
func ExampleWebhook_Review() {
	spec, _ := sidecar.LoadSpec([]byte(`{"name":"proxy","image":"registry.example/proxy:2"}`))
	i, err := admission.New(admission.Config{
		Spec: spec,
		Capability: func(context.Context, *admission.Request) (compat.Capability, error) {
			return compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
		"uid":"705ab4f5","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"shop","operation":"CREATE",
		"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`)
	resp, out, err := i.Review(context.Background(), body)
	if err != nil {
		panic(err)
	}
	var ar admissionv1.AdmissionReview
	_ = json.Unmarshal(resp, &ar)
	fmt.Println("mode:", out.Mode, "uid:", ar.Response.UID, "allowed:", ar.Response.Allowed, "patchType:", *ar.Response.PatchType)
	var ops []struct{ Op, Path string }
	_ = json.Unmarshal(ar.Response.Patch, &ops)
	for _, op := range ops {
		fmt.Println(op.Op, op.Path)
	}
	// Output:
	// mode: native uid: 705ab4f5 allowed: true patchType: JSONPatch
	// add /spec/initContainers
	// add /metadata/annotations
}

// Handler serves the Webhook over HTTPS; Observe is where logs and metrics
// go.
func ExampleHandler() {
	spec, _ := sidecar.LoadSpec([]byte(`{"name":"proxy","image":"registry.example/proxy:2"}`))
	i, err := admission.New(admission.Config{Spec: spec, ExcludeNamespaces: []string{"kube-system"}})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate", &admission.Handler{
		Webhook: i,
		Observe: func(r *http.Request, status int, o admission.Outcome, err error) {
			fmt.Println(status, o.UID, o.Mode, o.Skipped, err)
		},
	})
	srv := &http.Server{Addr: ":8443", Handler: mux}
	_ = srv // srv.ListenAndServeTLS("tls.crt", "tls.key")
}
