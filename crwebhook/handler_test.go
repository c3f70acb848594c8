package crwebhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	sidecaradmission "github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadSpec(t testing.TB) sidecar.Spec {
	t.Helper()
	s, err := sidecar.LoadSpec(readFile(t, "testdata/sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newInjector(t testing.TB) *sidecar.Injector {
	t.Helper()
	in, err := sidecar.NewInjector(loadSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// capability returns the capability of an API server and kubelets of the
// given versions.
func capability(t testing.TB, apiserver, kubelet string) compat.Capability {
	t.Helper()
	a, err := compat.ParseAPIServerVersion(apiserver)
	if err != nil {
		t.Fatal(err)
	}
	k, err := compat.ParseKubeletVersion(kubelet)
	if err != nil {
		t.Fatal(err)
	}
	return a.Override(k)
}

// keep adds the pointers ptrs, unchanged by the patch, to m.
func keep(m map[string]string, ptrs ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for _, p := range ptrs {
		out[p] = p
	}
	return out
}

func fixed(c compat.Capability) crwebhook.CapabilityFunc {
	return func(context.Context, *corev1.PodSpec) (compat.Capability, error) { return c, nil }
}

func newHandler(t testing.TB, c crwebhook.Config) *crwebhook.Handler {
	t.Helper()
	if c.Injector == nil {
		c.Injector = newInjector(t)
	}
	h, err := crwebhook.NewHandler(c)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func request(op admissionv1.Operation, group, kind string, raw []byte) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("42"),
		Kind:      metav1.GroupVersionKind{Group: group, Version: "v1", Kind: kind},
		Namespace: "shop",
		Operation: op,
		Object:    runtime.RawExtension{Raw: raw},
	}}
}

// patchOf returns the JSON patch of a response as controller-runtime's
// webhook server sends it (after Response.Complete).
func patchOf(t testing.TB, resp admission.Response, req admission.Request) []byte {
	t.Helper()
	if err := resp.Complete(req); err != nil {
		t.Fatal(err)
	}
	if len(resp.Patch) > 0 && (resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch) {
		t.Fatalf("patch type %v, want JSONPatch", resp.PatchType)
	}
	return resp.Patch
}

func apply(t testing.TB, doc, p []byte) []byte {
	t.Helper()
	dp, err := jsonpatch.DecodePatch(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dp.Apply(doc)
	if err != nil {
		t.Fatalf("apply %s: %v", p, err)
	}
	return out
}

// lookup returns the value at a JSON pointer of doc, re-encoded.
func lookup(t testing.TB, doc []byte, pointer string) (string, bool) {
	t.Helper()
	var v interface{}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		switch x := v.(type) {
		case map[string]interface{}:
			var ok bool
			if v, ok = x[tok]; !ok {
				return "", false
			}
		case []interface{}:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// TestHandle runs the handler on raw Pods and Deployments carrying fields
// that k8s.io/api v0.28 (this module's oldest) does not know, and checks
// every answer; a patch is applied with evanphx/json-patch and checked by
// patchtest.Verify, which fails on any unknown field lost.
func TestHandle(t *testing.T) {
	pod := readFile(t, "testdata/pod.json")
	deploy := readFile(t, "testdata/deployment.json")
	native := capability(t, "v1.33.1", "v1.33.1")
	legacy := capability(t, "v1.33.1", "v1.27.9")

	// The Pod as admitted earlier: natively injected, and injected as a
	// legacy container (for the migration).
	first := request(admissionv1.Create, "", "Pod", pod)
	injected := apply(t, pod, patchOf(t, newHandler(t, crwebhook.Config{Capability: fixed(native)}).Handle(context.Background(), first), first))
	legacyPod := apply(t, pod, patchOf(t, newHandler(t, crwebhook.Config{Capability: fixed(legacy)}).Handle(context.Background(), first), first))
	if v, _ := lookup(t, legacyPod, "/spec/containers/0/name"); v != `"proxy"` {
		t.Fatalf("legacy Pod: containers[0].name = %s, want the proxy", v)
	}
	foreign := bytes.Replace(pod, []byte(`"name": "app"`), []byte(`"name": "proxy"`), 1)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	failing := func(context.Context, *corev1.PodSpec) (compat.Capability, error) {
		return compat.Capability{}, errors.New("list nodes: forbidden")
	}

	// Fields unknown to k8s.io/api v0.28 that every patch must keep.
	podKept := []string{
		"/metadata/x-future-metadata",
		"/spec/hostnameOverride",
		"/spec/resources",
		"/spec/tolerations/0/x-future-toleration",
	}
	deployKept := keep(nil,
		"/metadata/x-future-metadata",
		"/spec/x-future-strategy-field",
		"/spec/template/spec/hostnameOverride",
		"/spec/template/spec/resources",
		"/spec/template/spec/containers/0/lifecycle/stopSignal",
		"/spec/template/spec/containers/0/securityContext/appArmorProfile",
		"/spec/template/spec/containers/0/env/0/x-future-source",
	)

	tests := []struct {
		name    string
		cfg     crwebhook.Config
		ctx     context.Context
		req     admission.Request
		allowed bool
		code    int32             // Result.Code; 0: not checked
		message string            // in Result.Message
		ops     []string          // in the patch; nil: no patch
		kept    map[string]string // pointer before the patch -> pointer after, same value
		warning string            // in some warning
		check   func(t *testing.T, out []byte)
	}{
		{
			name: "pod, native nodes", cfg: crwebhook.Config{Capability: fixed(native)},
			req: first, allowed: true, message: "native",
			ops: []string{`{"op":"add","path":"/spec/initContainers/0",`, `"restartPolicy":"Always"`},
			kept: keep(map[string]string{
				"/spec/initContainers/0/restartPolicyRules": "/spec/initContainers/1/restartPolicyRules",
				"/spec/containers/0/lifecycle/stopSignal":   "/spec/containers/0/lifecycle/stopSignal",
				"/spec/containers/0/securityContext":        "/spec/containers/0/securityContext",
				"/spec/containers/0/env/0/x-future-source":  "/spec/containers/0/env/0/x-future-source",
			}, podKept...),
		},
		{
			name: "pod, old nodes: legacy", cfg: crwebhook.Config{Capability: fixed(legacy)},
			req: first, allowed: true, message: "legacy",
			ops: []string{`{"op":"add","path":"/spec/containers/0",`},
			kept: keep(map[string]string{
				"/spec/initContainers/0/restartPolicyRules": "/spec/initContainers/0/restartPolicyRules",
				"/spec/containers/0/lifecycle/stopSignal":   "/spec/containers/1/lifecycle/stopSignal",
				"/spec/containers/0/env/0/x-future-source":  "/spec/containers/1/env/0/x-future-source",
			}, podKept...),
		},
		{
			name: "pod, no capability source: fallback", cfg: crwebhook.Config{},
			req: first, allowed: true, message: "legacy",
			ops: []string{`{"op":"add","path":"/spec/containers/0",`}, kept: keep(nil, podKept...),
		},
		{
			name: "migration keeps the move", cfg: crwebhook.Config{Capability: fixed(native)},
			req: request(admissionv1.Create, "", "Pod", legacyPod), allowed: true, message: "native",
			ops: []string{`{"op":"move","from":"/spec/containers/0","path":"/spec/initContainers/0"}`},
			kept: keep(map[string]string{
				"/spec/containers/1/lifecycle/stopSignal":   "/spec/containers/0/lifecycle/stopSignal",
				"/spec/initContainers/0/restartPolicyRules": "/spec/initContainers/1/restartPolicyRules",
			}, podKept...),
			check: func(t *testing.T, out []byte) {
				if v, _ := lookup(t, out, "/spec/initContainers/0/restartPolicy"); v != `"Always"` {
					t.Errorf("moved sidecar restartPolicy = %s, want Always", v)
				}
				if v, _ := lookup(t, out, "/spec/containers/0/name"); v != `"app"` {
					t.Errorf("containers[0] = %s, want app", v)
				}
			},
		},
		{
			name: "already injected", cfg: crwebhook.Config{Capability: fixed(native)},
			req: request(admissionv1.Create, "", "Pod", injected), allowed: true, message: string(sidecar.SkipAlreadyInjected),
		},
		{
			name: "deployment with Workloads", cfg: crwebhook.Config{Capability: fixed(native), Workloads: true},
			req: request(admissionv1.Create, "apps", "Deployment", deploy), allowed: true, message: "native",
			ops:  []string{`{"op":"add","path":"/spec/template/spec/initContainers",`},
			kept: deployKept,
		},
		{
			name: "deployment without Workloads", cfg: crwebhook.Config{Capability: fixed(native)},
			req: request(admissionv1.Create, "apps", "Deployment", deploy), allowed: true, message: "apps/v1/Deployment is not mutated",
		},
		{
			name: "a Deployment of another group", cfg: crwebhook.Config{Capability: fixed(native), Workloads: true},
			req: request(admissionv1.Create, "example.com", "Deployment", deploy), allowed: true, message: "not mutated",
		},
		{
			name: "update", cfg: crwebhook.Config{Capability: fixed(native)},
			req: request(admissionv1.Update, "", "Pod", pod), allowed: true, message: "UPDATE is not mutated",
		},
		{
			name: "subresource", cfg: crwebhook.Config{Capability: fixed(native)},
			req: func() admission.Request {
				r := request(admissionv1.Create, "", "Pod", pod)
				r.SubResource = "ephemeralcontainers"
				return r
			}(),
			allowed: true, message: "subresource",
		},
		{
			name: "declined by Decide", cfg: crwebhook.Config{Capability: fixed(native), Options: sidecar.Options{
				Decide: func(*metav1.ObjectMeta, *corev1.PodSpec) sidecar.Decision {
					return sidecar.Decision{Reason: "opted out"}
				},
			}},
			req: first, allowed: true, message: "opted out",
		},
		{
			name: "a container of the sidecar's name: denied", cfg: crwebhook.Config{Capability: fixed(native)},
			req: request(admissionv1.Create, "", "Pod", foreign), allowed: false, code: http.StatusUnprocessableEntity, message: "spec.containers[0]",
		},
		{
			name: "malformed object", cfg: crwebhook.Config{Capability: fixed(native)},
			req: request(admissionv1.Create, "", "Pod", []byte(`{"kind":"Pod","spec":`)), allowed: false, code: http.StatusBadRequest, message: "request.object",
		},
		{
			name: "object of another kind than the request's", cfg: crwebhook.Config{Capability: fixed(native), Workloads: true},
			req: request(admissionv1.Create, "apps", "Deployment", pod), allowed: false, code: http.StatusBadRequest, message: "request.object",
		},
		{
			name: "no object", cfg: crwebhook.Config{Capability: fixed(native)},
			req: request(admissionv1.Create, "", "Pod", nil), allowed: false, code: http.StatusBadRequest, message: "missing",
		},
		{
			name: "capability source fails", cfg: crwebhook.Config{Capability: failing},
			req: first, allowed: false, code: http.StatusInternalServerError, message: "list nodes: forbidden",
		},
		{
			name: "capability source fails, partial allowed", cfg: crwebhook.Config{Capability: failing, AllowPartialCapability: true},
			req: first, allowed: true, message: "legacy", warning: "capability partly unknown: list nodes: forbidden",
			ops: []string{`{"op":"add","path":"/spec/containers/0",`}, kept: keep(nil, podKept...),
		},
		{
			name: "context ended", cfg: crwebhook.Config{Capability: fixed(native)}, ctx: canceled,
			req: first, allowed: false, code: http.StatusInternalServerError, message: "context canceled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			resp := newHandler(t, tt.cfg).Handle(ctx, tt.req)
			p := patchOf(t, resp, tt.req)
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v, want %v (result %+v)", resp.Allowed, tt.allowed, resp.Result)
			}
			if tt.code != 0 && resp.Result.Code != tt.code {
				t.Errorf("code = %d, want %d (%s)", resp.Result.Code, tt.code, resp.Result.Message)
			}
			if !strings.Contains(resp.Result.Message, tt.message) {
				t.Errorf("message = %q, want it to contain %q", resp.Result.Message, tt.message)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(resp.Warnings, "\n"), tt.warning) {
				t.Errorf("warnings = %q, want one containing %q", resp.Warnings, tt.warning)
			}
			if tt.ops == nil {
				if len(p) > 0 || resp.PatchType != nil || len(resp.Patches) > 0 {
					t.Fatalf("patch = %s, want none", p)
				}
				return
			}
			for _, op := range tt.ops {
				if !bytes.Contains(p, []byte(op)) {
					t.Errorf("patch = %s, want it to contain %s", p, op)
				}
			}
			var ops patch.Ops
			if err := json.Unmarshal(p, &ops); err != nil {
				t.Fatal(err)
			}
			raw := tt.req.Object.Raw
			if err := patchtest.Verify(raw, ops); err != nil {
				t.Errorf("patchtest.Verify: %v", err)
			}
			out := apply(t, raw, p)
			for before, after := range tt.kept {
				want, ok := lookup(t, raw, before)
				if !ok {
					t.Fatalf("test input lacks %s", before)
				}
				if got, _ := lookup(t, out, after); got != want {
					t.Errorf("%s = %s after the patch, want %s (%s before)", after, got, want, before)
				}
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}

// TestSchedulingSpec: a Pod pinned by an earlier injection is judged
// without its own pin, so the capability source sees the nodes the Pod
// could land on had it not been pinned.
func TestSchedulingSpec(t *testing.T) {
	pod := readFile(t, "testdata/pod.json")
	req := request(admissionv1.Create, "", "Pod", pod)
	pin := newHandler(t, crwebhook.Config{
		Capability: fixed(capability(t, "v1.33.1", "v1.27.9")),
		Options:    sidecar.Options{Mode: sidecar.Pinned},
	})
	pinned := apply(t, pod, patchOf(t, pin.Handle(context.Background(), req), req))
	if !bytes.Contains(pinned, []byte(compat.NodeLabel)) {
		t.Fatalf("pinned Pod carries no requirement on %s: %s", compat.NodeLabel, pinned)
	}
	var seen *corev1.PodSpec
	h := newHandler(t, crwebhook.Config{
		Capability: func(_ context.Context, spec *corev1.PodSpec) (compat.Capability, error) {
			seen = spec.DeepCopy()
			return capability(t, "v1.33.1", "v1.27.9"), nil
		},
		Options: sidecar.Options{AllowPinned: true},
	})
	again := request(admissionv1.Create, "", "Pod", pinned)
	resp := h.Handle(context.Background(), again)
	if !resp.Allowed {
		t.Fatalf("response = %+v", resp.Result)
	}
	if seen == nil {
		t.Fatal("capability source not asked")
	}
	if a := seen.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		t.Errorf("capability source saw the Pod's own pin: %+v", a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	}
}

// TestWarningsBounded: a Pod whose every container already sets the
// sidecar's environment variable gets a warning per container; the
// response carries at most sidecarkit/admission.MaxWarnings.
func TestWarningsBounded(t *testing.T) {
	var cs []string
	for i := 0; i < 3*sidecaradmission.MaxWarnings; i++ {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":"i","env":[{"name":"DATABASE_SOCKET","value":"own"}]}`, i))
	}
	pod := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[` + strings.Join(cs, ",") + `]}}`)
	req := request(admissionv1.Create, "", "Pod", pod)
	h := newHandler(t, crwebhook.Config{Capability: fixed(capability(t, "v1.33.1", "v1.33.1"))})
	resp := h.Handle(context.Background(), req)
	if !resp.Allowed || len(resp.Patch) == 0 {
		t.Fatalf("response = %+v", resp.Result)
	}
	if n := len(resp.Warnings); n == 0 || n > sidecaradmission.MaxWarnings {
		t.Errorf("%d warnings, want 1..%d", n, sidecaradmission.MaxWarnings)
	}
	for _, w := range resp.Warnings {
		if n := len([]rune(w)); n > sidecaradmission.MaxWarningLength {
			t.Errorf("warning of %d runes: %q", n, w)
		}
	}
}

// TestDenialBounded: a denial that quotes a long name is cut to
// sidecarkit/admission.MaxMessageBytes.
func TestDenialBounded(t *testing.T) {
	long := strings.Repeat("x", 4000)
	pod := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"volumes":[{"name":"proxy-socket","hostPath":{"path":"/` + long + `"}}],"containers":[{"name":"app","image":"i"}]}}`)
	req := request(admissionv1.Create, "", "Pod", pod)
	resp := newHandler(t, crwebhook.Config{Capability: fixed(capability(t, "v1.33.1", "v1.33.1"))}).Handle(context.Background(), req)
	if resp.Allowed {
		t.Fatalf("allowed a Pod whose volume proxy-socket has another source: %s", resp.Patch)
	}
	if n := len(resp.Result.Message); n > sidecaradmission.MaxMessageBytes {
		t.Errorf("message of %d bytes", n)
	}
	if !strings.Contains(resp.Result.Message, "spec.volumes[0]") {
		t.Errorf("message = %.200q, want the field path", resp.Result.Message)
	}
}

func TestNewHandler(t *testing.T) {
	if _, err := crwebhook.NewHandler(crwebhook.Config{}); err == nil {
		t.Error("no injector: no error")
	}
	_, err := crwebhook.NewHandler(crwebhook.Config{Injector: newInjector(t), Options: sidecar.Options{Mode: sidecar.Universal}})
	if err == nil || !strings.Contains(err.Error(), "Options.Universal") {
		t.Errorf("universal without a planner: err = %v", err)
	}
}
