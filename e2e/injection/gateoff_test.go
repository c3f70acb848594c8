package injection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// apiServerCapability detects the API server's capability as a webhook
// would at start-up: its version and the skew policy's oldest kubelet,
// overridden by the kubernetes_feature_enabled series of its /metrics.
func apiServerCapability(ctx context.Context, t *testing.T, c *cluster.Cluster) compat.Capability {
	t.Helper()
	version := c.Options().KubeVersion
	base := serverCapability(t, c)
	text, err := c.Client().CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	gates, err := compat.ParseFeatureMetrics(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	m, err := compat.FromAPIServerMetrics(gates, version)
	if err != nil {
		t.Fatalf("capability from /metrics: %v", err)
	}
	return base.Override(m)
}

// TestAutoFromAPIServerMetrics runs on both legs: the capability read from
// the API server's own /metrics says whether it stores restartPolicy, and
// Auto injects natively where it does and a legacy sidecar where it drops
// the field (v1.32, SidecarContainers=false), so that the stored Pod is
// correct either way.
func TestAutoFromAPIServerMetrics(t *testing.T) {
	c := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	capability := apiServerCapability(ctx, t, c)
	t.Logf("capability: %s", capability.Explain())

	wantAPI, wantMode, wantCode := compat.APIServerStores, sidecar.Native, compat.CodeAllNative
	if gateOff(c) {
		wantAPI, wantMode, wantCode = compat.APIServerDrops, sidecar.Legacy, compat.CodeAPIServerDrops
	}
	if capability.APIServer != wantAPI {
		t.Fatalf("API server capability %s, want %s", capability.APIServer, wantAPI)
	}

	ns := namespace(t, c)
	inj := &injector{spec: loadSpec(t, proxySpec, sidecarFirst), capability: capability}
	serve(t, c, ns, admissionHandler(inj.admit), cluster.WebhookOptions{})
	pod := testPod("auto", []corev1.Container{container("setup")}, []corev1.Container{container("app")})
	res, err := sidecar.Inject(pod.ObjectMeta.DeepCopy(), pod.Spec.DeepCopy(), inj.spec, capability, inj.opts)
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	if res.Mode != wantMode || res.Code != wantCode {
		t.Errorf("Auto chose %s (%s: %s), want %s (%s)", res.Mode, res.Code, res.Reason, wantMode, wantCode)
	}
	predicted := predict(ctx, t, c, pod, res.Mutation)
	if _, err := c.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	stored, err := c.Client().CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffPods(predicted, stored); d != "" {
		t.Errorf("stored pod differs from the typed prediction (-predicted +stored):\n%s", d)
	}
	// What mutating webhooks add is not attributed to any field manager
	// (observed on v1.32.13 and v1.37.2); TestGateOff depends on it.
	if managedRestartPolicy(stored, "proxy") {
		t.Errorf("managedFields record the restartPolicy the webhook added: %+v", stored.ManagedFields)
	}
	if findings := compat.Diagnose(compat.Facts{Pod: stored, Intended: &predicted.Spec, Capability: capability}); hasError(findings) {
		t.Errorf("Diagnose finds errors in the stored pod: %v", findings)
	}
	inInit := false
	for _, ic := range stored.Spec.InitContainers {
		if ic.Name == "proxy" {
			inInit = true
			if ic.RestartPolicy == nil || *ic.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				t.Errorf("stored native sidecar has restartPolicy %v, want Always", ic.RestartPolicy)
			}
		}
	}
	if inInit != (wantMode == sidecar.Native) {
		t.Errorf("sidecar among init containers: %v; init %v, containers %v", inInit, names(stored.Spec.InitContainers), names(stored.Spec.Containers))
	}
}

// managedRestartPolicy reports whether the pod's managedFields record a
// restartPolicy for the init container named name.
func managedRestartPolicy(pod *corev1.Pod, name string) bool {
	for _, mf := range pod.ManagedFields {
		if mf.FieldsV1 == nil {
			continue
		}
		var fields map[string]any
		if json.Unmarshal(mf.FieldsV1.Raw, &fields) != nil {
			continue
		}
		if lookup(fields, []string{"f:spec", "f:initContainers", `k:{"name":"` + name + `"}`, "f:restartPolicy"}) != nil {
			return true
		}
	}
	return false
}

func hasError(fs []compat.Finding) bool {
	for _, f := range fs {
		if f.Severity == compat.SeverityError {
			return true
		}
	}
	return false
}

// TestGateOff runs on kube-apiserver v1.32.13 with SidecarContainers=false
// (./run.sh --leg 1.32-gate-off). A native sidecar's restartPolicy is
// dropped silently, and compat.Diagnose finds the drop on the stored Pod:
//   - injected client-side (the library's typed Apply, created as is, as
//     `sidecarctl inject | kubectl create` does): from managedFields alone;
//   - injected by a webhook that forces native mode: only with the intended
//     spec, since the API server records no managedFields for what mutating
//     webhooks add (observed on v1.32.13);
//
// and a sidecar with probes gets the Pod rejected, as Diagnose warns before
// the fact.
func TestGateOff(t *testing.T) {
	c := env(t)
	if !gateOff(c) {
		t.Skipf("needs SidecarContainers=false (./run.sh --leg 1.32-gate-off); this cluster runs %s with gates %v",
			c.Options().KubeVersion, c.Options().FeatureGates)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	capability := apiServerCapability(ctx, t, c)
	// A sidecar without probes: the API server stores the Pod, minus the field.
	noProbes := loadSpec(t, `
container:
  name: proxy
  image: registry.invalid/mesh/proxy:1.9
`, sidecarFirst)
	// The injector believes the version (v1.32 stores the field by default)
	// and forces native mode.
	believed := serverCapability(t, c)
	pod := testPod("dropped", []corev1.Container{container("setup")}, []corev1.Container{container("app")})
	intended, err := sidecar.Inject(pod.ObjectMeta.DeepCopy(), pod.Spec.DeepCopy(), noProbes, believed, nativeOpts)
	if err != nil {
		t.Fatal(err)
	}
	intendedPod := pod.DeepCopy()
	if err := intended.Mutation.Apply(&intendedPod.ObjectMeta, &intendedPod.Spec); err != nil {
		t.Fatal(err)
	}
	const path = "spec.initContainers[0].restartPolicy"

	for _, how := range []string{"client-side", "webhook"} {
		how := how
		t.Run(how, func(t *testing.T) {
			ns := namespace(t, c)
			send := intendedPod.DeepCopy()
			if how == "webhook" {
				inj := &injector{spec: noProbes, capability: believed, opts: nativeOpts}
				serve(t, c, ns, admissionHandler(inj.admit), cluster.WebhookOptions{})
				send = pod.DeepCopy()
			}
			if _, err := c.Client().CoreV1().Pods(ns).Create(ctx, send, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create pod: %v", err)
			}
			stored, err := c.Client().CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(stored.Spec.InitContainers); len(got) != 2 || got[0] != "proxy" {
				t.Fatalf("stored init containers %v, want [proxy setup]", got)
			}
			if rp := stored.Spec.InitContainers[0].RestartPolicy; rp != nil {
				t.Fatalf("stored restartPolicy %q: the API server kept the field; is the gate off?", *rp)
			}
			if managed := managedRestartPolicy(stored, "proxy"); managed != (how == "client-side") {
				t.Errorf("managedFields record the proxy container's restartPolicy: %v, want %v: %+v", managed, how == "client-side", stored.ManagedFields)
			}

			for _, fc := range []struct {
				name  string
				facts compat.Facts
				want  bool
			}{
				// The stored Pod alone: managedFields prove a client-sent
				// field; sidecarkit's record annotation stands in for what a
				// webhook adds, which managedFields never record.
				{"stored-pod-only", compat.Facts{Pod: stored}, true},
				{"intended-spec", compat.Facts{Pod: stored, Intended: &intendedPod.Spec, Capability: capability}, true},
			} {
				findings := compat.Diagnose(fc.facts)
				var found *compat.Finding
				for i := range findings {
					if findings[i].Code == compat.CodeFieldDropped && findings[i].Path == path {
						found = &findings[i]
					}
				}
				switch {
				case found == nil && fc.want:
					t.Errorf("%s: Diagnose finds no %s at %s: %v", fc.name, compat.CodeFieldDropped, path, findings)
				case found != nil && !fc.want:
					t.Errorf("%s: Diagnose finds a drop (%s) it has no evidence for", fc.name, found)
				case found == nil:
				default:
					cite := "managedFields"
					if how == "webhook" {
						cite = "sidecar.sidecarkit.io/proxy"
					}
					if fc.name == "stored-pod-only" && !strings.Contains(found.Message, cite) {
						t.Errorf("%s: finding %q does not cite %s", fc.name, found.Message, cite)
					}
					t.Logf("%s: %s", fc.name, found)
				}
			}
		})
	}

	// With probes, the same webhook gets the Pod rejected; Diagnose warns
	// about it from the intended Pod and the detected capability.
	ns2 := namespace(t, c)
	probing := &injector{spec: loadSpec(t, proxySpec, sidecarFirst), capability: believed, opts: nativeOpts}
	serve(t, c, ns2, admissionHandler(probing.admit), cluster.WebhookOptions{})
	res, err := sidecar.Inject(pod.ObjectMeta.DeepCopy(), pod.Spec.DeepCopy(), probing.spec, probing.capability, nativeOpts)
	if err != nil {
		t.Fatal(err)
	}
	probingPod := pod.DeepCopy()
	if err := res.Mutation.Apply(&probingPod.ObjectMeta, &probingPod.Spec); err != nil {
		t.Fatal(err)
	}
	warned := false
	for _, f := range compat.Diagnose(compat.Facts{Pod: probingPod, Capability: capability}) {
		if f.Code == compat.CodeProbeRejectionRisk && strings.HasPrefix(f.Path, "spec.initContainers[0]") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("Diagnose does not warn that the sidecar's probes get the pod rejected")
	}
	_, err = c.Client().CoreV1().Pods(ns2).Create(ctx, pod.DeepCopy(), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.initContainers[0].") || !strings.Contains(err.Error(), "Probe") {
		t.Errorf("create with probes: %v; want 422 for a probe on spec.initContainers[0]", err)
	} else {
		t.Logf("API server: %v", err)
	}
}
