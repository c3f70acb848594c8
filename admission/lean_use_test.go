package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestLeanDecodeUsed: which webhooks decode a Pod leanly. The lean decode
// checks only the structure of what it skips (a container's image of the
// wrong type, say), where the full decode refuses the object, so the
// answer to such a Pod tells the paths apart: lean for a webhook without a
// Decide hook or universal planner (a Capability hook included), for a
// Pod this sidecar has not injected; the full decode otherwise.
func TestLeanDecodeUsed(t *testing.T) {
	mistyped := strings.Replace(podJSON, `"image":"nginx"`, `"image":1`, 1)
	injected := strings.Replace(mistyped, `"labels":{"app":"web"}`, `"labels":{"app":"web"},"annotations":{"`+sidecar.Annotation("proxy")+`":"{}"}`, 1)
	decide := sidecar.Options{Decide: func(*metav1.ObjectMeta, *corev1.PodSpec) sidecar.Decision { return sidecar.Decision{Inject: true} }}
	for _, tc := range []struct {
		name   string
		c      admission.Config
		object string
		lean   bool
	}{
		{"no hooks", admission.Config{}, mistyped, true},
		{"capability hook", admission.Config{Capability: placementCapability}, mistyped, true},
		{"decide hook", admission.Config{Options: decide}, mistyped, false},
		{"injected before", admission.Config{}, injected, false},
	} {
		w := newWebhook(t, tc.c)
		body := review(t, req{uid: "u1", object: tc.object})
		// The object decoded while the review is read (the API server's
		// order), and after it (the operation comes last).
		opLast := bytes.Replace(body, []byte(`"operation":"CREATE",`), nil, 1)
		opLast = append(opLast[:bytes.LastIndex(opLast, []byte("}}"))], []byte(`,"operation":"CREATE"}}`)...)
		if bytes.Equal(opLast, body) || !bytes.HasSuffix(opLast, []byte(`"operation":"CREATE"}}`)) || bytes.Count(opLast, []byte(`"operation"`)) != 1 {
			t.Fatalf("no operation to move to the end of %s", body)
		}
		for _, b := range [][]byte{body, opLast} {
			_, _, err := w.Review(context.Background(), b)
			if lean := err == nil; lean != tc.lean {
				t.Errorf("%s: decoded leanly %v, want %v (error %v)", tc.name, lean, tc.lean, err)
			}
		}
	}
}

// TestLeanLookAlike: a Pod carrying, without our record, a container under
// the sidecar's name that equals what the injection adds is answered the
// same by the lean and the full decode (the lean decode reads a container
// of the sidecar's name in full).
func TestLeanLookAlike(t *testing.T) {
	w := newWebhook(t, admission.Config{Options: sidecar.Options{Mode: sidecar.Native}})
	typed, _ := admission.Typed(w)
	pod := injectedPod(t, w)
	var doc map[string]interface{}
	if err := json.Unmarshal(pod, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["metadata"].(map[string]interface{}), "annotations")
	lookAlike, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	body := review(t, req{uid: "u2", object: string(lookAlike)})
	got, gotOut, gotErr := w.Review(context.Background(), body)
	want, wantOut, wantErr := typed.Review(context.Background(), body)
	if !bytes.Equal(got, want) || (gotErr == nil) != (wantErr == nil) || gotOut.Skipped != wantOut.Skipped || gotOut.Mode != wantOut.Mode {
		t.Errorf("lean %s %+v %v\ntyped %s %+v %v", got, gotOut, gotErr, want, wantOut, wantErr)
	}
}

// TestLeanKindRepeated: a request whose kind is repeated after the object
// (the last one wins) is answered for the last kind, although the object
// was decoded as a Pod while the review was read; and a Pod whose
// operation comes after the object is answered as one whose operation
// comes before it.
func TestLeanKindRepeated(t *testing.T) {
	w := newWebhook(t, admission.Config{Options: sidecar.Options{Mode: sidecar.Native}, Workloads: true})
	typed, _ := admission.Typed(w)
	const kindless = `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`
	for _, request := range []string{
		`"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":` + kindless + `,"kind":{"group":"apps","version":"v1","kind":"Deployment"}`,
		`"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":` + kindless + `,"kind":{"group":"","version":"v1","kind":"Pod"}`,
		`"kind":{"group":"","version":"v1","kind":"Pod"},"object":` + kindless + `,"operation":"CREATE"`,
	} {
		body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` + request + `}}`)
		got, gotOut, gotErr := w.Review(context.Background(), body)
		want, wantOut, wantErr := typed.Review(context.Background(), body)
		if !bytes.Equal(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || fmt.Sprint(gotOut.Err) != fmt.Sprint(wantOut.Err) || gotOut.Kind != wantOut.Kind {
			t.Errorf("%s:\nlean %s %+v %v\ntyped %s %+v %v", request, got, gotOut, gotErr, want, wantOut, wantErr)
		}
		if gotErr == nil && gotOut.Err == nil && gotOut.Ops == 0 {
			t.Errorf("%s: nothing injected (%+v)", request, gotOut)
		}
	}
}

// TestEnvelopeEscapedKind: a request.kind whose strings carry escapes is
// read as encoding/json reads it (the fast path takes plain strings only),
// with or without a plain member beside them.
func TestEnvelopeEscapedKind(t *testing.T) {
	w := newWebhook(t, admission.Config{Options: sidecar.Options{Mode: sidecar.Native}})
	body := review(t, req{uid: "u1", object: podJSON})
	for _, kind := range []string{`{"group":"","version":"v1","kind":"P\u006fd"}`, `{"version":"v\u0031","kind":"P\u006fd"}`} {
		escaped := bytes.Replace(body, []byte(`"kind":{"group":"","version":"v1","kind":"Pod"}`), []byte(`"kind":`+kind), 1)
		if !bytes.Contains(escaped, []byte(`P\u006fd`)) {
			t.Fatalf("no request.kind to escape in %s", body)
		}
		_, out, err := w.Review(context.Background(), escaped)
		if err != nil || out.Mode != sidecar.Native {
			t.Errorf("escaped kind %s: %+v, %v; want a native injection", kind, out, err)
		}
	}
}

// TestWarningPath: a warning about a field carries its path in the
// response ("path: message").
func TestWarningPath(t *testing.T) {
	w := newWebhook(t, admission.Config{Options: sidecar.Options{Mode: sidecar.Native}})
	pod := injectedPod(t, w)
	// The sidecar edited after the injection: the next review restores it.
	edited := bytes.Replace(pod, []byte(`"image":"registry.example/proxy:2"`), []byte(`"image":"evil"`), 1)
	if bytes.Equal(edited, pod) {
		t.Fatalf("no sidecar image to edit in %s", pod)
	}
	resp, _, err := w.Review(context.Background(), review(t, req{uid: "u2", object: string(edited)}))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Response struct{ Warnings []string } `json:"response"`
	}
	if err := json.Unmarshal(resp, &got); err != nil {
		t.Fatal(err)
	}
	for _, w := range got.Response.Warnings {
		if strings.HasPrefix(w, "spec.initContainers[0]: ") && strings.Contains(w, "restored") {
			return
		}
	}
	t.Errorf("warnings %q, want one about spec.initContainers[0] being restored", got.Response.Warnings)
}

// injectedPod is podJSON with w's answer to it applied.
func injectedPod(t *testing.T, w *admission.Webhook) []byte {
	t.Helper()
	out, _, err := w.Review(context.Background(), review(t, req{uid: "u1", object: podJSON}))
	if err != nil {
		t.Fatal(err)
	}
	var ar struct {
		Response struct{ Patch []byte } `json:"response"`
	}
	if err := json.Unmarshal(out, &ar); err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(ar.Response.Patch)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := p.Apply([]byte(podJSON))
	if err != nil {
		t.Fatal(err)
	}
	return pod
}
