package admission_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

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

// Handler serves the Webhook over HTTPS (here an httptest server stands
// in for the API server's call); Observe is where logs and metrics go. With
// no Capability hook, the capability is unknown and Auto falls back to
// legacy; kube-system is excluded.
func ExampleHandler() {
	spec, _ := sidecar.LoadSpec([]byte(`{"name":"proxy","image":"registry.example/proxy:2"}`))
	wh, err := admission.New(admission.Config{Spec: spec, ExcludeNamespaces: []string{"kube-system"}})
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var observed []string
	mux := http.NewServeMux()
	mux.Handle("/mutate", &admission.Handler{
		Webhook: wh,
		// Called once the response is written, for every request.
		Observe: func(r *http.Request, status int, o admission.Outcome, err error) {
			mu.Lock()
			defer mu.Unlock()
			observed = append(observed, fmt.Sprintf("observed: %d %s mode=%s skipped=%q ops=%d err=%v", status, o.UID, o.Mode, o.Skipped, o.Ops, err))
		},
	})
	srv := httptest.NewServer(mux) // in production: http.Server{...}.ListenAndServeTLS
	for _, ns := range []string{"shop", "kube-system"} {
		body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
			"uid":"uid-` + ns + `","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"` + ns + `","operation":"CREATE",
			"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`
		resp, err := http.Post(srv.URL+"/mutate?timeout=10s", "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		var ar admissionv1.AdmissionReview
		_ = json.NewDecoder(resp.Body).Decode(&ar)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, ar.Response.UID, "allowed:", ar.Response.Allowed, "patch:", len(ar.Response.Patch) > 0)
	}
	srv.Close() // waits for the handlers, and so for Observe
	fmt.Println(strings.Join(observed, "\n"))
	// Output:
	// 200 uid-shop allowed: true patch: true
	// 200 uid-kube-system allowed: true patch: false
	// observed: 200 uid-shop mode=legacy skipped="" ops=3 err=<nil>
	// observed: 200 uid-kube-system mode=auto skipped="Namespace" ops=0 err=<nil>
}
