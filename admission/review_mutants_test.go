package admission_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// withName sets request.name of a review built by review().
func withName(t *testing.T, body []byte, name string) []byte {
	t.Helper()
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil {
		t.Fatal(err)
	}
	ar.Request.Name = name
	b, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The capability source sees the request's identity, the decoded object
// and the spec to judge the nodes by; with a record of ours that does not
// read, that is the object's own spec (the injection then reports the
// record).
func TestReviewCapabilityRequest(t *testing.T) {
	// Pod-level fields, which SchedulingSpec must carry.
	placed := strings.Replace(podJSON, `"spec":{`, `"spec":{"nodeSelector":{"disk":"ssd"},"tolerations":[{"key":"k","operator":"Exists"}],"priorityClassName":"high",`, 1)
	corrupt := strings.Replace(placed, `"labels":{"app":"web"}`, `"labels":{"app":"web"},"annotations":{"`+"sidecar.sidecarkit.io/"+`proxy":"{not json"}`, 1)
	for _, tc := range []struct{ name, object string }{{"plain", placed}, {"corrupt record", corrupt}} {
		var got *admission.Request
		i := newWebhook(t, admission.Config{Capability: func(_ context.Context, r *admission.Request) (compat.Capability, error) {
			got = r
			return nativeCap, nil
		}})
		body := withName(t, review(t, req{uid: "u1", object: tc.object, dryRun: true}), "web")
		if _, _, err := i.Review(context.Background(), body); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got == nil {
			t.Fatalf("%s: the capability source was not called", tc.name)
		}
		if got.UID != "u1" || got.Kind != podKind || got.Namespace != "shop" || got.Name != "web" || got.Operation != "CREATE" || !got.DryRun {
			t.Errorf("%s: request %+v", tc.name, got)
		}
		obj, err := got.Object()
		if err != nil || obj == nil || obj.Spec == nil {
			t.Fatalf("%s: Object() = %v, %v", tc.name, obj, err)
		}
		if len(obj.Spec.Containers) == 0 || obj.Spec.Containers[0].Image == "" || obj.Meta.Labels["app"] != "web" {
			t.Errorf("%s: Object() is not decoded in full: %+v", tc.name, obj)
		}
		want := *obj.Spec
		want.Containers, want.InitContainers, want.EphemeralContainers, want.Volumes = nil, nil, nil, nil
		if want.NodeSelector["disk"] != "ssd" || len(want.Tolerations) != 1 || want.PriorityClassName != "high" {
			t.Fatalf("%s: the test Pod lacks its pod-level fields: %+v", tc.name, want)
		}
		if got.SchedulingSpec == nil || !reflect.DeepEqual(*got.SchedulingSpec, want) {
			t.Errorf("%s: scheduling spec %+v, want the object's spec without its containers and volumes", tc.name, got.SchedulingSpec)
		}
	}
}

// A review whose context ends is not answered: HTTP 500, never a denial
// of the Pod, whether the context ended before the review, during the
// capability lookup or during the injection.
func TestReviewContextEnds(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	for _, tc := range []struct {
		name string
		ctx  func() context.Context
		cfg  func(cancel context.CancelFunc) admission.Config
		is   error
		msg  string
	}{
		{name: "canceled before", ctx: func() context.Context { return canceled },
			cfg: func(context.CancelFunc) admission.Config { return admission.Config{Capability: staticCap(nativeCap)} },
			is:  context.Canceled, msg: "admission: context canceled"},
		{name: "deadline passed", ctx: func() context.Context { return expired },
			cfg: func(context.CancelFunc) admission.Config { return admission.Config{} },
			is:  context.DeadlineExceeded, msg: "admission: context deadline exceeded"},
		{name: "during the injection",
			cfg: func(cancel context.CancelFunc) admission.Config {
				return admission.Config{Capability: staticCap(nativeCap), Options: sidecar.Options{
					Decide: func(*metav1.ObjectMeta, *corev1.PodSpec) sidecar.Decision {
						cancel() // the client goes away while the sidecar is injected
						return sidecar.Decision{Inject: true}
					}}}
			},
			is: context.Canceled, msg: "admission: sidecar: inject: context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			i := newWebhook(t, tc.cfg(cancel))
			body, out, err := i.Review(ctx, review(t, req{}))
			var e *admission.Error
			if !errors.As(err, &e) || e.Status != http.StatusInternalServerError || !errors.Is(err, admission.ErrInternal) || !errors.Is(err, tc.is) || body != nil {
				t.Fatalf("%v (%d bytes answered), want an internal error wrapping %v and no answer", err, len(body), tc.is)
			}
			if err.Error() != tc.msg {
				t.Errorf("error %q, want %q", err, tc.msg)
			}
			if out.Allowed || out.Err != nil || out.UID == "" {
				t.Errorf("outcome %+v, want the request's identity and no answer", out)
			}
		})
	}
}

// A reinvocation that finds the sidecar injected names no mode: nothing
// was injected.
func TestReviewAlreadyInjectedOutcome(t *testing.T) {
	i := newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})
	body, out, err := i.Review(context.Background(), review(t, req{}))
	if err != nil || out.Mode != sidecar.Native {
		t.Fatalf("first review: mode %q, %v", out.Mode, err)
	}
	_, ops := decodeResponse(t, body, "0f6d7a44-9d2e-4c1b-9c59-1d0d4a2c1e11")
	after := applyOps(t, []byte(podJSON), ops)
	_, out, err = i.Review(context.Background(), review(t, req{object: string(after)}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Skipped != sidecar.SkipAlreadyInjected || out.Mode != sidecar.Auto || out.Code != "" || out.Ops != 0 {
		t.Errorf("reinvocation: skipped %q, mode %q, code %q, %d ops; want AlreadyInjected with no mode, code or ops", out.Skipped, out.Mode, out.Code, out.Ops)
	}
}

// Under AllowOnError the error becomes a warning, bounded like every
// warning: the API server drops warnings that are too long or carry
// control characters.
func TestReviewAllowOnErrorWarningBounded(t *testing.T) {
	i := newWebhook(t, admission.Config{Capability: staticCap(nativeCap), AllowOnError: true})
	eph := strings.TrimSuffix(strings.Repeat(`{"name":"proxy","image":"x"},`, 50), ",")
	obj := strings.Replace(podJSON, `"spec":{`, `"spec":{"ephemeralContainers":[`+eph+`],`, 1)
	body, out, err := i.Review(context.Background(), review(t, req{object: obj}))
	if err != nil {
		t.Fatal(err)
	}
	resp, ops := decodeResponse(t, body, "0f6d7a44-9d2e-4c1b-9c59-1d0d4a2c1e11")
	if !resp.Allowed || len(ops) != 0 || out.Skipped != admission.SkipError || out.Err == nil || utf8.RuneCountInString(out.Err.Error()) <= admission.MaxWarningLength {
		t.Fatalf("allowed %v, %d ops, skipped %q, err %v; want a Pod admitted unchanged after an error longer than a warning", resp.Allowed, len(ops), out.Skipped, out.Err)
	}
	if len(resp.Warnings) != 1 || len(out.Warnings) != 1 || !strings.HasPrefix(out.Warnings[0].Message, resp.Warnings[0]) ||
		out.Warnings[0].Code != compat.CodeSidecarMissing || out.Warnings[0].Severity != compat.SeverityWarning {
		t.Fatalf("warnings %q, outcome %+v: want one, the same, coded sidecar-missing", resp.Warnings, out.Warnings)
	}
	w := resp.Warnings[0]
	if utf8.RuneCountInString(w) != admission.MaxWarningLength || !strings.HasPrefix(w, `sidecar "proxy" not injected: sidecar: inject: `) {
		t.Errorf("warning of %d runes: %q", utf8.RuneCountInString(w), w)
	}
}
