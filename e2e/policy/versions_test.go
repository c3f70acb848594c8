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
// whole admission chain and defaulting, no etcd write) through the
// compiled policies with the same through the library's webhook
// (admission.Handler, in process, over HTTPS) and with neither, on the
// same API server. Run it with
//
//	./run.sh -- -run '^$' -bench BenchmarkAdmission -benchtime 200x ./policy
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
	none := benchNamespace(b, c, "none")
	pol := benchNamespace(b, c, "policy")
	set, err := policy.Compile(s, policy.Options{Mode: sidecar.Native, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	install(b, c, set, map[string]string{"e2e.sidecarkit.io/policy-test": "bench-policy"})
	waitActive(b, c, pol, s.Container.Name)
	wh := benchNamespace(b, c, "webhook")
	hook, err := admission.New(admission.Config{Spec: s, Options: sidecar.Options{Mode: sidecar.Native}})
	if err != nil {
		b.Fatal(err)
	}
	w, err := c.ServeWebhook(ctx, &admission.Handler{Webhook: hook}, cluster.WebhookOptions{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": wh}},
		ProbeNamespace:    wh,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Close(context.Background()) })
	for _, path := range []struct{ name, ns string }{{"none", none}, {"policy", pol}, {"webhook", wh}} {
		b.Run(path.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				p, err := createRaw(ctx, c, path.ns, pod, true)
				if err != nil {
					b.Fatal(err)
				}
				if injected := hasContainer(p, s.Container.Name); injected != (path.name != "none") {
					b.Fatalf("%s: injected %v", path.name, injected)
				}
			}
		})
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
