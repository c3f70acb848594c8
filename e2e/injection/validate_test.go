package injection_test

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestPreflightAgreesWithAPIServer checks sidecarkit's pre-flight validation
// against the API server's: for each deliberately invalid injection the
// library refuses with the same field paths and error types (the causes'
// reasons) that the API server reports when a webhook sends it the
// unvalidated patch. Two verdicts of the library are checked: that of
// sidecar.ValidatePod on the patched spec, and that of sidecar.Inject.
func TestPreflightAgreesWithAPIServer(t *testing.T) {
	c := env(t)
	if gateOff(c) {
		t.Skip("the API server drops restartPolicy with SidecarContainers=false, which changes its verdicts: see TestGateOff")
	}
	capability := serverCapability(t, c)
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/check"}}}, PeriodSeconds: 1}
	withProbe := func(c corev1.Container) corev1.Container { c.ReadinessProbe = probe; return c }

	tests := []struct {
		name string
		pod  *corev1.Pod
		// sidecar is what Inject is asked to inject.
		sidecar sidecar.Spec
		// unvalidated are the ops a webhook without pre-flight validation
		// sends; nil sends Inject's own patch (which must then exist).
		unvalidated []patch.Op
		// inject is Inject's verdict when it differs from the API server's
		// by design; nil means it must agree. injectAccepts: Inject lets
		// the patch through.
		inject        []cause
		injectAccepts bool
		reason        string
	}{{
		name:    "name-clash",
		pod:     testPod("name-clash", nil, []corev1.Container{container("app")}),
		sidecar: sidecar.Spec{Container: corev1.Container{Name: "app", Image: "registry.invalid/proxy:v1"}},
		unvalidated: []patch.Op{addOp("/spec/initContainers", []corev1.Container{{
			Name: "app", Image: "registry.invalid/proxy:v1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
		}})},
		inject: []cause{{Field: "spec.containers[0].name", Type: string(field.ErrorTypeForbidden)}},
		reason: "Inject refuses to overwrite a container it did not inject and names that container; " +
			"the API server names the second of the two (the inserted init container)",
	}, {
		name: "missing-volume",
		pod:  testPod("missing-volume", []corev1.Container{container("setup")}, []corev1.Container{container("app")}),
		sidecar: sidecar.Spec{Container: corev1.Container{
			Name: "proxy", Image: "registry.invalid/proxy:v1",
			VolumeMounts: []corev1.VolumeMount{{Name: "certs", MountPath: "/etc/certs"}},
		}},
		unvalidated: []patch.Op{addOp("/spec/initContainers/0", corev1.Container{
			Name: "proxy", Image: "registry.invalid/proxy:v1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways),
			VolumeMounts: []corev1.VolumeMount{{Name: "certs", MountPath: "/etc/certs"}},
		})},
	}, {
		name:    "probe-on-plain-init-container",
		pod:     testPod("probe-plain-init", []corev1.Container{container("setup")}, []corev1.Container{container("app")}),
		sidecar: loadSpec(t, proxySpec, sidecarFirst),
		unvalidated: []patch.Op{addOp("/spec/initContainers/0", corev1.Container{
			Name: "proxy", Image: "registry.invalid/proxy:v1", StartupProbe: probe,
		})},
		injectAccepts: true,
		reason: "the patch of a webhook that forgets restartPolicy (or of an API server that drops it); " +
			"Inject always sets restartPolicy Always on a native sidecar, so only ValidatePod can be compared",
	}, {
		name:          "probe-on-existing-init-container-shifted",
		pod:           testPod("probe-shifted", []corev1.Container{withProbe(container("setup"))}, []corev1.Container{container("app")}),
		sidecar:       loadSpec(t, proxySpec, sidecarFirst),
		injectAccepts: true,
		reason: "the Pod's own init container is invalid; Inject validates only what it touches and lets " +
			"its patch through; ValidatePod on the result reports the index the insertion shifted it to",
	}}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if tc.reason != "" {
				t.Log(tc.reason)
			}

			res, injectErr := sidecar.Inject(tc.pod.ObjectMeta.DeepCopy(), tc.pod.Spec.DeepCopy(), tc.sidecar, capability, nativeOpts)
			ops := tc.unvalidated
			if ops == nil {
				if injectErr != nil {
					t.Fatalf("Inject: %v", injectErr)
				}
				var err error
				if ops, err = res.Mutation.JSONPatch(patch.PodRoot); err != nil {
					t.Fatal(err)
				}
			}

			// The API server's verdict on the patch, sent by a webhook.
			ns := namespace(t, c)
			opsJSON, err := json.Marshal(patch.Ops(ops))
			if err != nil {
				t.Fatal(err)
			}
			serve(t, c, ns, admissionHandler(func(*admissionv1.AdmissionRequest) ([]byte, error) { return opsJSON, nil }), cluster.WebhookOptions{})
			_, err = c.Client().CoreV1().Pods(ns).Create(ctx, tc.pod, metav1.CreateOptions{})
			var status apierrors.APIStatus
			if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
				t.Fatalf("create: %v; want 422 Invalid", err)
			}
			var server []cause
			for _, c := range status.Status().Details.Causes {
				server = append(server, cause{Field: c.Field, Type: string(c.Type)})
			}
			sortCauses(server)
			t.Logf("API server: %v", err)

			// ValidatePod on the patched spec.
			patched := applyOps(t, tc.pod, ops)
			validateErr := sidecar.ValidatePod(&patched.Spec).ToAggregate()
			if d := cmp.Diff(server, libraryCauses(validateErr)); d != "" {
				t.Errorf("ValidatePod and the API server disagree (-apiserver +library):\n%s\nValidatePod: %v", d, validateErr)
			}

			// Inject's own verdict.
			switch {
			case tc.injectAccepts:
				if injectErr != nil {
					t.Errorf("Inject refuses (%v); the case expects it to accept", injectErr)
				}
			case injectErr == nil:
				t.Errorf("Inject accepts the injection the API server refuses")
			default:
				want := server
				if tc.inject != nil {
					want = tc.inject
				}
				if d := cmp.Diff(want, libraryCauses(injectErr)); d != "" {
					t.Errorf("Inject's refusal (-want +got):\n%s\nInject: %v", d, injectErr)
				}
			}
		})
	}
}

// applyOps applies RFC 6902 ops to pod with evanphx/json-patch, as the API
// server does, and decodes the result.
func applyOps(t *testing.T, pod *corev1.Pod, ops []patch.Op) *corev1.Pod {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	opsJSON, err := json.Marshal(patch.Ops(ops))
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(opsJSON)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply %s: %v", opsJSON, err)
	}
	return mustPod(t, out)
}

// cause is a field error's path and type, as the API server reports it in
// a Status cause (field.ErrorType is the cause's reason).
type cause struct {
	Field string
	Type  string
}

// libraryCauses returns the field errors in a library error.
func libraryCauses(err error) []cause {
	var errs []error
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		errs = agg.Errors()
	} else {
		errs = []error{err}
	}
	var out []cause
	for _, e := range errs {
		var fe *field.Error
		if errors.As(e, &fe) {
			out = append(out, cause{Field: fe.Field, Type: string(fe.Type)})
		}
	}
	sortCauses(out)
	return out
}

func sortCauses(cs []cause) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Field != cs[j].Field {
			return cs[i].Field < cs[j].Field
		}
		return cs[i].Type < cs[j].Type
	})
}

func addOp(path string, value any) patch.Op {
	b, err := json.Marshal(value)
	if err != nil {
		panic(err) // test data
	}
	return patch.Op{Op: "add", Path: path, Value: b}
}
