package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/golden"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	nativeCap = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	dropsCap  = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerDrops}
)

const specYAML = `
container:
  name: proxy
  image: registry.example/proxy:2
  ports: [{name: proxy, containerPort: 15001}]
  volumeMounts: [{name: proxy-socket, mountPath: /var/run/proxy}]
volumes:
- name: proxy-socket
  emptyDir: {}
appMounts:
- {name: proxy-socket, mountPath: /var/run/proxy}
appEnv:
- {name: PROXY_SOCKET, value: /var/run/proxy/proxy.sock}
`

func testSpec(t testing.TB) sidecar.Spec {
	t.Helper()
	s, err := sidecar.LoadSpec([]byte(specYAML))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A Pod with fields the compiled API types do not know: hostnameOverride
// (1.34) at the spec level, and made-up fields on a container, on the
// metadata and at the top level.
const podJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"},"x-meta-future":1},
"spec":{"hostnameOverride":"web-primary",
"initContainers":[{"name":"migrate","image":"migrate:1","x-future":{"a":[1,2]}}],
"containers":[{"name":"app","image":"nginx","x-future":true,"env":[{"name":"A","value":"1"}]}]},
"x-top":"kept"}`

const deploymentJSON = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop"},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`

type req struct {
	uid, op, sub, ns string
	kind             metav1.GroupVersionKind
	object           string
	dryRun           bool
}

var (
	podKind        = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	deploymentKind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
)

// review builds an AdmissionReview v1 request the way the API server does.
func review(t testing.TB, r req) []byte {
	t.Helper()
	if r.uid == "" {
		r.uid = "0f6d7a44-9d2e-4c1b-9c59-1d0d4a2c1e11"
	}
	if r.op == "" {
		r.op = "CREATE"
	}
	if r.ns == "" {
		r.ns = "shop"
	}
	if r.kind == (metav1.GroupVersionKind{}) {
		r.kind = podKind
	}
	if r.object == "" {
		r.object = podJSON
	}
	resource := strings.ToLower(r.kind.Kind) + "s"
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:         "",
			Kind:        r.kind,
			Resource:    metav1.GroupVersionResource{Group: r.kind.Group, Version: r.kind.Version, Resource: resource},
			SubResource: r.sub,
			Namespace:   r.ns,
			Operation:   admissionv1.Operation(r.op),
			DryRun:      &r.dryRun,
		},
	}
	ar.Request.UID = typesUID(r.uid)
	ar.Request.RequestKind = &ar.Request.Kind
	ar.Request.Object.Raw = []byte(r.object)
	if r.op == "UPDATE" {
		ar.Request.OldObject.Raw = []byte(r.object)
	}
	b, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newWebhook(t testing.TB, c admission.Config) *admission.Webhook {
	t.Helper()
	if c.Spec.Container.Name == "" {
		c.Spec = testSpec(t)
	}
	i, err := admission.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func staticCap(c compat.Capability) func(context.Context, *admission.Request) (compat.Capability, error) {
	return func(context.Context, *admission.Request) (compat.Capability, error) { return c, nil }
}

// decodeResponse checks the envelope of a response review and returns its
// response and patch.
func decodeResponse(t testing.TB, body []byte, uid string) (*admissionv1.AdmissionResponse, patch.Ops) {
	t.Helper()
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil {
		t.Fatalf("response does not decode: %v\n%s", err, body)
	}
	if ar.APIVersion != "admission.k8s.io/v1" || ar.Kind != "AdmissionReview" || ar.Response == nil {
		t.Fatalf("not an AdmissionReview v1 response: %s", body)
	}
	if string(ar.Response.UID) != uid {
		t.Errorf("uid %q, want %q", ar.Response.UID, uid)
	}
	var ops patch.Ops
	if ar.Response.Patch != nil {
		if ar.Response.PatchType == nil || *ar.Response.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Errorf("patch without patchType JSONPatch")
		}
		if err := json.Unmarshal(ar.Response.Patch, &ops); err != nil {
			t.Fatalf("patch does not decode: %v", err)
		}
	} else if ar.Response.PatchType != nil {
		t.Errorf("patchType without a patch")
	}
	return ar.Response, ops
}

func TestReviewGolden(t *testing.T) {
	foreign := strings.Replace(podJSON, `{"name":"app","image":"nginx"`, `{"name":"proxy","image":"other"},{"name":"app","image":"nginx"`, 1)
	optOut := strings.Replace(podJSON, `"labels":{"app":"web"}`, `"labels":{"app":"web"},"annotations":{"sidecar.example/inject":"false"}`, 1)
	decide := func(meta *metav1.ObjectMeta, _ *corev1.PodSpec) sidecar.Decision {
		if meta != nil && meta.Annotations["sidecar.example/inject"] == "false" {
			return sidecar.Decision{Inject: false, Reason: "annotation sidecar.example/inject is false"}
		}
		return sidecar.Decision{Inject: true}
	}
	for _, tc := range []struct {
		name    string
		reason  string
		config  admission.Config
		req     req
		allowed bool
		patched bool
		skipped sidecar.Skip
		mode    sidecar.Mode
	}{
		{name: "pod-native", reason: "every node runs native sidecars: an init container, first",
			config: admission.Config{Capability: staticCap(nativeCap)}, allowed: true, patched: true, mode: sidecar.Native},
		{name: "pod-legacy", reason: "the API server drops restartPolicy: a regular container",
			config: admission.Config{Capability: staticCap(dropsCap)}, allowed: true, patched: true, mode: sidecar.Legacy},
		{name: "pod-unknown-capability", reason: "no capability source: Auto takes the Legacy fallback",
			config: admission.Config{}, allowed: true, patched: true, mode: sidecar.Legacy},
		{name: "pod-dry-run", reason: "dry runs are mutated: the webhook has no side effects",
			config: admission.Config{Capability: staticCap(nativeCap)}, req: req{dryRun: true}, allowed: true, patched: true, mode: sidecar.Native},
		{name: "pod-update", reason: "only CREATE is mutated",
			config: admission.Config{Capability: staticCap(nativeCap)}, req: req{op: "UPDATE"}, allowed: true, skipped: admission.SkipOperation},
		{name: "pod-ephemeral", reason: "subresources are not mutated",
			config: admission.Config{Capability: staticCap(nativeCap)}, req: req{sub: "ephemeralcontainers"}, allowed: true, skipped: admission.SkipSubResource},
		{name: "service", reason: "a kind without a pod spec is allowed unchanged",
			config: admission.Config{}, req: req{kind: metav1.GroupVersionKind{Version: "v1", Kind: "Service"}, object: `{"kind":"Service"}`}, allowed: true, skipped: admission.SkipKind},
		{name: "deployment-off", reason: "workloads are not mutated by default",
			config: admission.Config{Capability: staticCap(nativeCap)}, req: req{kind: deploymentKind, object: deploymentJSON}, allowed: true, skipped: admission.SkipKind},
		{name: "deployment", reason: "with Workloads, the pod template is mutated",
			config: admission.Config{Capability: staticCap(nativeCap), Workloads: true}, req: req{kind: deploymentKind, object: deploymentJSON}, allowed: true, patched: true, mode: sidecar.Native},
		{name: "excluded-namespace", reason: "ExcludeNamespaces is a safety net behind the namespaceSelector",
			config: admission.Config{ExcludeNamespaces: []string{"kube-system"}}, req: req{ns: "kube-system"}, allowed: true, skipped: admission.SkipNamespace},
		{name: "declined", reason: "the Decide hook opts the Pod out",
			config: admission.Config{Capability: staticCap(nativeCap), Options: sidecar.Options{Decide: decide}}, req: req{object: optOut}, allowed: true, skipped: sidecar.SkipDeclined},
		{name: "foreign-container", reason: "a container of the sidecar's name that was not injected: denied with the field path",
			config: admission.Config{Capability: staticCap(nativeCap)}, req: req{object: foreign}, allowed: false},
		{name: "foreign-container-allow", reason: "AllowOnError admits the Pod unchanged, with a warning",
			config: admission.Config{Capability: staticCap(nativeCap), AllowOnError: true}, req: req{object: foreign}, allowed: true, skipped: admission.SkipError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := newWebhook(t, tc.config)
			r := tc.req
			r.uid = "uid-" + tc.name
			body, out, err := i.Review(context.Background(), review(t, r))
			if err != nil {
				t.Fatalf("Review: %v", err)
			}
			resp, ops := decodeResponse(t, body, r.uid)
			if resp.Allowed != tc.allowed || out.Allowed != tc.allowed {
				t.Errorf("allowed %v (outcome %v), want %v", resp.Allowed, out.Allowed, tc.allowed)
			}
			if (len(ops) > 0) != tc.patched || out.Ops != len(ops) {
				t.Errorf("%d ops (outcome %d), want patched=%v", len(ops), out.Ops, tc.patched)
			}
			if out.Skipped != tc.skipped || out.Mode != tc.mode {
				t.Errorf("outcome skipped %q mode %q, want %q %q", out.Skipped, out.Mode, tc.skipped, tc.mode)
			}
			if !tc.allowed {
				if resp.Result == nil || resp.Result.Code != http.StatusUnprocessableEntity || resp.Result.Reason != metav1.StatusReasonInvalid {
					t.Errorf("denial without code 422 reason Invalid: %+v", resp.Result)
				}
				if out.Err == nil {
					t.Error("denied without Outcome.Err")
				}
			}
			if out.DryRun != r.dryRun || out.Namespace != (map[bool]string{true: r.ns, false: "shop"})[r.ns != ""] {
				t.Errorf("outcome request fields: %+v", out)
			}
			golden.Check(t, *update, filepath.Join("testdata", "review", tc.name+".golden"), goldenText(t, body, ops))
			if len(ops) > 0 {
				obj := r.object
				if obj == "" {
					obj = podJSON
				}
				checkApplies(t, i, r, []byte(obj), ops)
			}
		})
	}
}

// goldenText is the response review, indented, and its decoded patch.
func goldenText(t testing.TB, body []byte, ops patch.Ops) []byte {
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	b.WriteString("\n--- patch\n")
	p, err := json.MarshalIndent(ops, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b.Write(p)
	b.WriteByte('\n')
	return b.Bytes()
}

// checkApplies proves that the patch changes only what it names (no
// unknown field lost, see patchtest.Verify), and that the patched object,
// reviewed again as under reinvocationPolicy IfNeeded, gets no patch.
func checkApplies(t *testing.T, i *admission.Webhook, r req, obj []byte, ops patch.Ops) {
	t.Helper()
	if err := patchtest.Verify(obj, ops); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	after := applyOps(t, obj, ops)
	for _, unknown := range []string{`"hostnameOverride":"web-primary"`, `"x-future":{"a":[1,2]}`, `"x-future":true`, `"x-meta-future":1`, `"x-top":"kept"`} {
		if bytes.Contains(obj, []byte(unknown)) && !bytes.Contains(after, []byte(unknown)) {
			t.Errorf("unknown field %s lost:\n%s", unknown, after)
		}
	}
	r.object = string(after)
	r.uid += "-again"
	body, out, err := i.Review(context.Background(), review(t, r))
	if err != nil {
		t.Fatalf("reinvocation: %v", err)
	}
	if _, again := decodeResponse(t, body, r.uid); len(again) > 0 || out.Skipped != sidecar.SkipAlreadyInjected {
		t.Errorf("reinvocation: skipped %q, %d ops, want AlreadyInjected and none: %s", out.Skipped, len(again), body)
	}
}

func TestReviewErrors(t *testing.T) {
	good := string(review(t, req{}))
	failing := func(context.Context, *admission.Request) (compat.Capability, error) {
		return compat.Capability{}, errors.New("node informer not synced")
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		config admission.Config
		ctx    context.Context
		body   string
		status int
		want   string
	}{
		{name: "empty", body: "", status: 400, want: "admission: empty body"},
		{name: "not json", body: "{", status: 400, want: "admission: malformed AdmissionReview"},
		{name: "array", body: "[]", status: 400, want: "admission: malformed AdmissionReview"},
		{name: "v1beta1", body: strings.Replace(good, "admission.k8s.io/v1", "admission.k8s.io/v1beta1", 1), status: 400, want: `apiVersion "admission.k8s.io/v1beta1" kind "AdmissionReview"; want admission.k8s.io/v1 AdmissionReview`},
		{name: "no kind", body: `{"apiVersion":"admission.k8s.io/v1","request":{"uid":"x"}}`, status: 400, want: `kind ""`},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, status: 400, want: "has no request"},
		{name: "no uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}`, status: 400, want: "request.uid is empty"},
		{name: "no object", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE"}}`, status: 400, want: "request.object is missing"},
		{name: "null object", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":null}}`, status: 400, want: "request.object is missing"},
		{name: "object of another kind", body: string(review(t, req{object: deploymentJSON})), status: 400, want: `admission: request.object: patch: decode Pod: the document's kind is "Deployment"`},
		{name: "object wrong type", body: string(review(t, req{object: `{"spec":{"containers":{}}}`})), status: 400, want: "admission: request.object: patch: decode Pod: json: cannot unmarshal object"},
		{name: "pod without spec", body: string(review(t, req{object: `{"metadata":{"name":"p"}}`})), status: 400, want: `patch: no pod spec at spec of Pod "p"`},
		{name: "capability fails", config: admission.Config{Capability: failing}, body: good, status: 500, want: "admission: capability: node informer not synced"},
		{name: "context canceled", ctx: canceled, body: good, status: 500, want: "context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := newWebhook(t, tc.config)
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			body, _, err := i.Review(ctx, []byte(tc.body))
			if err == nil {
				t.Fatalf("no error; response %s", body)
			}
			var e *admission.Error
			if !errors.As(err, &e) || e.Status != tc.status {
				t.Fatalf("error %v (%T), want *Error with status %d", err, err, tc.status)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			cat := map[int]error{400: admission.ErrBadRequest, 500: admission.ErrInternal}[tc.status]
			if !errors.Is(err, cat) {
				t.Errorf("errors.Is(%v, %v) is false", err, cat)
			}
			if body != nil {
				t.Errorf("a body with an error: %s", body)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    admission.Config
		want string
	}{
		{name: "no spec", c: admission.Config{}, want: "admission: sidecar: [sidecar.container.name: Required value"},
		{name: "universal without planner", c: admission.Config{Spec: testSpec(t), Options: sidecar.Options{Mode: sidecar.Universal}}, want: "admission: the universal mode needs Options.Universal"},
		{name: "universal fallback without planner", c: admission.Config{Spec: testSpec(t), Options: sidecar.Options{Fallback: sidecar.Universal}}, want: "admission: the universal mode needs Options.Universal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admission.New(tc.c)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want prefix %q", err, tc.want)
			}
		})
	}
}

// The capability source sees the request, with the namespace the API
// server gives even when the object has none (generateName Pods).
func TestCapabilitySeesRequest(t *testing.T) {
	var got admission.Request
	i := newWebhook(t, admission.Config{Capability: func(_ context.Context, r *admission.Request) (compat.Capability, error) {
		got = *r
		return nativeCap, nil
	}})
	obj := `{"metadata":{"generateName":"web-"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`
	if _, _, err := i.Review(context.Background(), review(t, req{uid: "u1", ns: "team-a", object: obj, dryRun: true})); err != nil {
		t.Fatal(err)
	}
	if got.UID != "u1" || got.Namespace != "team-a" || !got.DryRun || got.Operation != "CREATE" || got.Kind != podKind {
		t.Errorf("request %+v", got)
	}
	if obj, err := got.Object(); err != nil || obj == nil || obj.Root != patch.PodRoot || obj.Meta.GenerateName != "web-" {
		t.Errorf("request's Object() = %+v, %v", obj, err)
	}
}

func TestWarningsBounded(t *testing.T) {
	long := strings.Repeat("é", admission.MaxWarningLength+10)
	ws := []string{"line\nbreak", long}
	for k := 0; k < admission.MaxWarnings+5; k++ {
		ws = append(ws, fmt.Sprintf("w%d", k))
	}
	got := admission.BoundWarnings(ws)
	if len(got) != admission.MaxWarnings {
		t.Fatalf("%d warnings, want %d", len(got), admission.MaxWarnings)
	}
	if got[0] != "line break" {
		t.Errorf("control character kept: %q", got[0])
	}
	if got[1] != strings.Repeat("é", admission.MaxWarningLength) {
		t.Errorf("long warning not cut to %d runes: %d", admission.MaxWarningLength, len([]rune(got[1])))
	}
	ok := []string{"a", "b"}
	if g := admission.BoundWarnings(ok); &g[0] != &ok[0] {
		t.Error("clean warnings were copied")
	}
}

func applyOps(t testing.TB, obj []byte, ops patch.Ops) []byte {
	t.Helper()
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	after, err := p.Apply(obj)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return after
}

func typesUID(s string) types.UID { return types.UID(s) }

// TestSchedulingSpecWithoutOwnPin: on the reinvocation of a pinned
// injection, the capability source judges the nodes without our pin, so
// that it does not see an all-native cluster and unpin the Pod.
func TestSchedulingSpecWithoutOwnPin(t *testing.T) {
	var got admission.Request
	strips := compat.Capability{Kubelet: compat.KubeletStrips, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerStores}
	i := newWebhook(t, admission.Config{
		Options: sidecar.Options{AllowPinned: true},
		Capability: func(_ context.Context, r *admission.Request) (compat.Capability, error) {
			got = *r
			return strips, nil
		}})
	obj := `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`
	resp, out, err := i.Review(context.Background(), review(t, req{uid: "u1", object: obj}))
	if err != nil || out.Mode != sidecar.Pinned {
		t.Fatalf("first review: mode %s, %v", out.Mode, err)
	}
	if got.SchedulingSpec == nil || got.SchedulingSpec.Affinity != nil {
		t.Fatalf("first review: scheduling spec %+v, want the unpinned spec", got.SchedulingSpec)
	}
	var ar struct {
		Response struct{ Patch []byte } `json:"response"`
	}
	if err := json.Unmarshal(resp, &ar); err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(ar.Response.Patch)
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := p.Apply([]byte(obj))
	if err != nil {
		t.Fatal(err)
	}
	if _, out, err = i.Review(context.Background(), review(t, req{uid: "u2", object: string(pinned)})); err != nil || out.Skipped != sidecar.SkipAlreadyInjected {
		t.Fatalf("reinvocation: skipped %q, %v; want already injected", out.Skipped, err)
	}
	if obj, err := got.Object(); err != nil || obj.Spec.Affinity == nil {
		t.Fatal("the reinvoked object is not pinned")
	}
	if a := got.SchedulingSpec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil &&
		len(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) > 0 &&
		len(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions) > 0 {
		t.Errorf("reinvocation: the scheduling spec still carries the pin: %+v", a)
	}
}

// TestPatchBufferReused: Review renders each patch into a buffer it reuses
// for the next review (and for other goroutines'): a response never shares
// memory with it. Responses returned earlier stay as they were while the
// same webhook answers other reviews, one after another and at once, and
// each is the response of a webhook that answers nothing else.
func TestPatchBufferReused(t *testing.T) {
	bodies := [][]byte{review(t, req{object: benchPod()}), review(t, req{}), review(t, req{uid: "a-second-uid", object: benchPod()})}
	want := make([][]byte, len(bodies))
	for i, b := range bodies {
		resp, _, err := newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}).Review(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = resp
	}
	wh := newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})
	var kept [][]byte
	for round := 0; round < 3; round++ {
		for i, b := range bodies {
			resp, _, err := wh.Review(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp, want[i]) {
				t.Fatalf("round %d, review %d: response differs from a fresh webhook's", round, i)
			}
			kept = append(kept, resp)
		}
	}
	for k, resp := range kept {
		if !bytes.Equal(resp, want[k%len(bodies)]) {
			t.Errorf("response %d changed after later reviews", k)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(bodies))
	for g := 0; g < 8; g++ {
		g := g
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 20; r++ {
				i := (g + r) % len(bodies)
				resp, _, err := wh.Review(context.Background(), bodies[i])
				if err == nil && !bytes.Equal(resp, want[i]) {
					err = fmt.Errorf("goroutine %d, review %d: response differs", g, i)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
