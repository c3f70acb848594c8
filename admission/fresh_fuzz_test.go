package admission_test

import (
	"bytes"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// freshSpecs are the Specs FuzzFresh and TestFreshTaken inject: the test
// Spec (app mounts and env), with mounts only, with neither, placed last,
// placed before a container no generated Pod has (a warning: the general
// path), and one whose sidecar mounts a volume the Pod must provide.
func freshSpecs(t testing.TB) []sidecar.Spec {
	full := testSpec(t)
	mountsOnly, bare, last, before, shared := testSpec(t), testSpec(t), testSpec(t), testSpec(t), testSpec(t)
	mountsOnly.AppEnv = nil
	bare.AppEnv, bare.AppMounts = nil, nil
	last.Placement = sidecar.Placement{Position: sidecar.Last}
	before.Placement = sidecar.Placement{Position: sidecar.Before, Name: "migrate"}
	shared.Container.VolumeMounts = append(shared.Container.VolumeMounts, corev1.VolumeMount{Name: "shared-data", MountPath: "/shared"})
	return []sidecar.Spec{full, mountsOnly, bare, last, before, shared}
}

// FuzzFresh is the differential test of the fresh path (sidecar's
// appendFresh, which renders the injection into a Pod holding nothing of
// the sidecar without a Mutation): for every review, a Webhook answers
// byte for byte as its copy that always takes the general path
// (InjectObject and its Mutation), with the same Outcome. The Pods are
// FuzzLeanReview's (random, with unknown fields, edited the ways that
// matter to the injection), reviewed leanly or typed, under each Spec of
// freshSpecs and each mode.
func FuzzFresh(f *testing.F) {
	f.Add([]byte("pod"), uint32(0), []byte(nil))
	f.Add([]byte("another pod"), uint32(1<<10), []byte(nil))
	f.Add([]byte{0xa5, 0x3c, 0x00, 0xff, 0x10}, uint32(2|4|1<<10|1<<13), []byte(nil))
	f.Add([]byte("x"), uint32(8|16|32|1<<10), []byte(nil))
	f.Add([]byte("y"), uint32(64|128|1<<10|1<<12), []byte(nil))
	f.Add([]byte("w"), uint32(16|1<<10|2<<12), []byte(nil))
	f.Add([]byte("v"), uint32(32|1<<10|3<<12), []byte(nil))
	f.Add([]byte("u"), uint32(1<<14|1<<10|4<<12), []byte(nil))
	f.Add([]byte("t"), uint32(1<<15|1<<10|5<<12), []byte(nil))
	f.Add([]byte("s"), uint32(1<<16|1<<10), []byte(nil))
	f.Add([]byte("r"), uint32(1<<17|1<<10|1<<19), []byte(nil))
	f.Add([]byte("q"), uint32(256|1<<10), []byte(nil))
	f.Add([]byte("p"), uint32(512|1<<10|1<<19), []byte(nil))
	f.Add([]byte(nil), uint32(1<<10), []byte(podJSON))
	f.Add([]byte(nil), uint32(1<<10|4<<12), []byte(podJSON))
	f.Add([]byte(nil), uint32(1<<10|5<<12), []byte(`{"kind":"Pod","spec":{"volumes":[{"name":"shared-data","emptyDir":{}}],"containers":[{"name":"a"}]}}`))
	f.Add([]byte(nil), uint32(1<<10), []byte(`{"spec":{"containers":[{"name":"a"}]}}`))
	f.Add([]byte(nil), uint32(1<<10), []byte(`{"metadata":{"annotations":{"x":"y"}},"spec":{"containers":[{"name":"a","volumeMounts":[],"env":null}],"volumes":[]}}`))
	f.Add([]byte(nil), uint32(1<<10), []byte(`{"metadata":{"annotations":null},"spec":{"initContainers":[{"name":"i"}],"containers":[{"name":"a"},{"name":"b","volumeMounts":[{"name":"v","mountPath":"/v"}]}]}}`))
	f.Add([]byte(nil), uint32(1<<10), []byte(`{"metadata":{},"spec":{"containers":[{"name":"a"},{"name":"a"}]}}`))
	f.Add([]byte(nil), uint32(1<<10), []byte(`{"spec":{"containers":[{"name":"a"}],"ephemeralContainers":[{"name":"proxy"}]}}`))
	hooks := webhookPairs(f, freshSpecs(f))
	f.Fuzz(func(t *testing.T, data []byte, knobs uint32, object []byte) {
		obj := fuzzObject(t, data, knobs, object, "proxy")
		w := hooks[int(knobs>>12&7)%len(hooks)][int(knobs>>10)%4][int(knobs>>19&1)]
		body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"0f6d7a44","kind":{"group":"","version":"v1","kind":"Pod"},` +
			`"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","namespace":"shop","object":` + string(obj) + `}}`)
		sameAnswer(t, "fresh", "general", answerOf(w, body), answerOf(admission.General(w), body), obj)
	})
}

// TestFreshTaken checks which Pods the fresh path answers (so that
// FuzzFresh compares it with the general path, not the general path with
// itself) and which it leaves to the general path, one condition at a
// time.
func TestFreshTaken(t *testing.T) {
	specs := freshSpecs(t)
	full, last, before, shared := specs[0], specs[3], specs[4], specs[5]
	pod := func(spec string) string { return `{"kind":"Pod","metadata":{"name":"p"},"spec":` + spec + `}` }
	for _, tc := range []struct {
		name   string
		spec   sidecar.Spec
		mode   sidecar.Mode
		c      compat.Capability
		object string
		want   bool
	}{
		{"fresh", full, sidecar.Native, compat.Capability{}, podJSON, true},
		{"auto, native nodes", full, sidecar.Auto, nativeCap, podJSON, true},
		{"auto, unknown nodes: legacy", full, sidecar.Auto, compat.Capability{}, podJSON, false},
		{"legacy", full, sidecar.Legacy, compat.Capability{}, podJSON, false},
		{"pinned", full, sidecar.Pinned, compat.Capability{}, podJSON, false},
		{"no metadata", full, sidecar.Native, compat.Capability{}, `{"spec":{"containers":[{"name":"a"}]}}`, true},
		{"placed last", last, sidecar.Native, compat.Capability{}, podJSON, true},
		{"placed before a missing container", before, sidecar.Native, compat.Capability{}, pod(`{"containers":[{"name":"a"}]}`), false},
		{"placed before a container", before, sidecar.Native, compat.Capability{}, podJSON, true},
		{"a needed volume", shared, sidecar.Native, compat.Capability{}, pod(`{"volumes":[{"name":"shared-data","emptyDir":{}}],"containers":[{"name":"a"}]}`), true},
		{"a needed volume missing", shared, sidecar.Native, compat.Capability{}, podJSON, false},
		{"record", full, sidecar.Native, compat.Capability{}, `{"metadata":{"annotations":{"sidecar.sidecarkit.io/proxy":"{}"}},"spec":{"containers":[{"name":"a"}]}}`, false},
		{"sidecar's name taken", full, sidecar.Native, compat.Capability{}, pod(`{"containers":[{"name":"proxy"}]}`), false},
		{"sidecar's name taken by an init container", full, sidecar.Native, compat.Capability{}, pod(`{"initContainers":[{"name":"proxy"}],"containers":[{"name":"a"}]}`), false},
		{"sidecar's name taken by an ephemeral container", full, sidecar.Native, compat.Capability{}, pod(`{"containers":[{"name":"a"}],"ephemeralContainers":[{"name":"proxy"}]}`), false},
		{"two containers of a name", full, sidecar.Native, compat.Capability{}, pod(`{"containers":[{"name":"a"},{"name":"a"}]}`), false},
		{"an init container of an app's name", full, sidecar.Native, compat.Capability{}, pod(`{"initContainers":[{"name":"a"}],"containers":[{"name":"a"}]}`), false},
		{"volume of the sidecar's name", full, sidecar.Native, compat.Capability{}, pod(`{"volumes":[{"name":"proxy-socket","emptyDir":{}}],"containers":[{"name":"a"}]}`), false},
		{"token volume", full, sidecar.Native, compat.Capability{}, pod(`{"volumes":[{"name":"kube-api-access-x","projected":{"sources":[]}}],"containers":[{"name":"a"}]}`), false},
		{"hostNetwork", full, sidecar.Native, compat.Capability{}, pod(`{"hostNetwork":true,"containers":[{"name":"a"}]}`), false},
		{"a mount at the app mount's path", full, sidecar.Native, compat.Capability{}, pod(`{"containers":[{"name":"a","volumeMounts":[{"name":"x","mountPath":"/var/run/proxy"}]}]}`), false},
		{"the app env set", full, sidecar.Native, compat.Capability{}, pod(`{"containers":[{"name":"a","env":[{"name":"PROXY_SOCKET","value":"x"}]}]}`), false},
		{"many containers", full, sidecar.Native, compat.Capability{}, pod(`{"containers":[` + manyContainers(40) + `]}`), true},
		{"many containers, two of a name", full, sidecar.Native, compat.Capability{}, pod(`{"containers":[` + manyContainers(40) + `,{"name":"c7"}]}`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWebhook(t, admission.Config{Spec: tc.spec, Options: sidecar.Options{Mode: tc.mode}})
			got, err := admission.FreshTaken(w, []byte(tc.object), tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("fresh path taken: %v, want %v", got, tc.want)
			}
			// The copy FuzzFresh compares with never takes it.
			if got, err := admission.FreshTaken(admission.General(w), []byte(tc.object), tc.c); err != nil || got {
				t.Errorf("General's copy: fresh path taken: %v, %v", got, err)
			}
		})
	}
}

func manyContainers(n int) string {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"c%d"}`, i)
	}
	return b.String()
}
