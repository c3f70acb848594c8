package policy_test

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	admissionregistrationv1beta1 "k8s.io/api/admissionregistration/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestPolicyV1beta1 runs the v1beta1 output (for API servers 1.34 and
// 1.35) on a cluster of its own started with
// --runtime-config=admissionregistration.k8s.io/v1beta1=true, the API the
// beta needs enabled (the MutatingAdmissionPolicy gate is GA and on in
// 1.37): the sidecar is injected as the v1 policy injects it.
func TestPolicyV1beta1(t *testing.T) {
	env(t) // skips where v1 is not served (the v1.32 leg: no v1beta1 either)
	c := cluster.ForTest(t, cluster.Options{ExtraAPIServerFlags: []string{"--runtime-config=admissionregistration.k8s.io/v1beta1=true"}})
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s := loadSpec(t, sidecar.Placement{})
	set := compile(t, s, policy.Options{Mode: sidecar.Native, Version: policy.V1beta1, Name: "beta"})
	objs, err := set.Objects()
	if err != nil {
		t.Fatal(err)
	}
	ns, sel := policyNamespace(t, c, "v1beta1")
	ar := c.Client().AdmissionregistrationV1beta1()
	for _, o := range objs {
		switch o := o.(type) {
		case *admissionregistrationv1beta1.MutatingAdmissionPolicy:
			_, err = ar.MutatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
		case *admissionregistrationv1beta1.MutatingAdmissionPolicyBinding:
			o.Spec.MatchResources = &admissionregistrationv1beta1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: sel}}
			_, err = ar.MutatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
		case *admissionregistrationv1.ValidatingAdmissionPolicy:
			_, err = c.Client().AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, o, metav1.CreateOptions{})
		case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
			o.Spec.MatchResources = &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: sel}}
			_, err = c.Client().AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("unexpected object %T", o)
		}
		if err != nil {
			t.Fatalf("create %T: %v", o, err)
		}
	}
	waitActive(t, c, ns, s.Container.Name)
	shape := shapes[1] // one-init
	body := shape.body(t)
	stored, err := createRaw(ctx, c, ns, body, false)
	if err != nil {
		t.Fatalf("create pod: %v", err)
	}
	if d := diffPods(predict(ctx, t, c, body, s, sidecar.Native), stored); d != "" {
		t.Errorf("stored pod differs from the library's injection (-library +policy):\n%s", d)
	}
}

// BenchmarkAdmission compares the latency of a Pod create (dry run: the
// whole admission chain and defaulting, no etcd write) in four namespaces
// of the same API server: bound to the compiled mutating policy alone, to
// the mutating and the validating policy, served by the library's webhook
// (admission.Handler in process, over HTTPS, reinvocation IfNeeded), and
// bound to nothing. Each iteration creates one Pod in each, in turn, so
// that the load of a shared machine falls on all four alike; the metrics
// are milliseconds per create. Run it with
//
//	./run.sh -- -run '^$' -bench BenchmarkAdmission -benchtime 300x ./policy
func BenchmarkAdmission(b *testing.B) {
	c := env(b)
	s, err := sidecar.LoadSpec([]byte(proxySpec))
	if err != nil {
		b.Fatal(err)
	}
	pod := mustJSON(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
			InitContainers: []corev1.Container{container("setup")},
			Containers:     []corev1.Container{container("app"), container("worker")}},
	})
	ctx := context.Background()
	set, err := policy.Compile(s, policy.Options{Mode: sidecar.Native, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	both := benchNamespace(b, c, "policy")
	install(b, c, set, map[string]string{"e2e.sidecarkit.io/policy-test": "bench-policy"})
	waitActive(b, c, both, s.Container.Name)
	mutOnly := &policy.Set{Version: set.Version, Mutating: set.Mutating, MutatingBindings: set.MutatingBindings}
	for i := range mutOnly.Mutating {
		m, mb := set.Mutating[i].DeepCopy(), set.MutatingBindings[i].DeepCopy()
		m.Name, mb.Name, mb.Spec.PolicyName = "bench-mutating-only", "bench-mutating-only-binding", "bench-mutating-only"
		mutOnly.Mutating[i], mutOnly.MutatingBindings[i] = m, mb
	}
	mut := benchNamespace(b, c, "mutating-only")
	install(b, c, mutOnly, map[string]string{"e2e.sidecarkit.io/policy-test": "bench-mutating-only"})
	wh := benchNamespace(b, c, "webhook")
	hook, err := admission.New(admission.Config{Spec: s, Options: sidecar.Options{Mode: sidecar.Native}})
	if err != nil {
		b.Fatal(err)
	}
	w, err := c.ServeWebhook(ctx, &admission.Handler{Webhook: hook}, cluster.WebhookOptions{
		NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": wh}},
		ProbeNamespace:     wh,
		ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Close(context.Background()) })
	none := benchNamespace(b, c, "none")
	paths := []struct {
		name, ns string
		inject   bool
		total    time.Duration
	}{{"none", none, false, 0}, {"policy-mutating", mut, true, 0}, {"policy+guard", both, true, 0}, {"webhook", wh, true, 0}}
	// Warm up (and wait for the mutating-only binding) outside the timing.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		p, err := createRaw(ctx, c, mut, pod, true)
		if err == nil && hasContainer(p, s.Container.Name) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("mutating-only policy not active: %v", err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range paths {
			start := time.Now()
			p, err := createRaw(ctx, c, paths[k].ns, pod, true)
			paths[k].total += time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if hasContainer(p, s.Container.Name) != paths[k].inject {
				b.Fatalf("%s: injected %v", paths[k].name, !paths[k].inject)
			}
		}
	}
	b.StopTimer()
	for _, p := range paths {
		b.ReportMetric(float64(p.total.Microseconds())/1000/float64(b.N), p.name+"-ms/op")
	}
}

func benchNamespace(b *testing.B, c *cluster.Cluster, name string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := c.CreateNamespace(ctx, "bench-"+name, map[string]string{"e2e.sidecarkit.io/policy-test": "bench-" + name})
	if err != nil {
		b.Fatal(err)
	}
	return ns
}
