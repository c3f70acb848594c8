package injection_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// adder is a second, foreign webhook: it appends the container "added"
// unless the Pod has it (so it is idempotent, as reinvoked webhooks must be).
func adderAdmit(req *admissionv1.AdmissionRequest) ([]byte, error) {
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return nil, err
	}
	if adderNeeded(&pod) {
		return json.Marshal(patch.Ops{addOp("/spec/containers/-", container("added"))})
	}
	return nil, nil
}

func adderNeeded(pod *corev1.Pod) bool {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "added" {
			return false
		}
	}
	return true
}

// TestReinvocation registers our webhook and a foreign one that adds a
// container, both with reinvocationPolicy IfNeeded, in both orders (the API
// server calls mutating webhooks in the order of their configurations'
// names): the stored Pod has the sidecar and the added container exactly
// once, equals the library's prediction, and our webhook has converged.
func TestReinvocation(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	mode := sidecar.Native
	if gateOff(c) {
		mode = sidecar.Legacy
	}
	for _, oursFirst := range []bool{true, false} {
		oursFirst := oursFirst
		name := "adder-first"
		if oursFirst {
			name = "sidecarkit-first"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ns := namespace(t, c)
			inj := &injector{spec: loadSpec(t, proxySpec, sidecarFirst), capability: capability, opts: sidecar.Options{Mode: mode}}
			oursName, adderName := "b-"+ns+".e2e.sidecarkit.io", "a-"+ns+".e2e.sidecarkit.io"
			if oursFirst {
				oursName, adderName = adderName, oursName
			}
			ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
			ours := serve(t, c, ns, admissionHandler(inj.admit), cluster.WebhookOptions{Name: oursName, ReinvocationPolicy: ifNeeded})
			adder := serve(t, c, ns, admissionHandler(adderAdmit), cluster.WebhookOptions{Name: adderName, ReinvocationPolicy: ifNeeded})

			pod := testPod("reinvoked", []corev1.Container{container("setup")}, []corev1.Container{container("app")})
			if _, err := c.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create pod: %v", err)
			}
			stored, err := c.Client().CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}

			// The prediction: the two webhooks applied with the library's
			// typed Apply in the API server's order, then once more each
			// (the reinvocation round; both are idempotent).
			want := pod.DeepCopy()
			var rounds []string
			for round := 0; round < 2; round++ {
				steps := []string{"adder", "sidecarkit"}
				if oursFirst {
					steps = []string{"sidecarkit", "adder"}
				}
				for _, s := range steps {
					if s == "adder" {
						if adderNeeded(want) {
							want.Spec.Containers = append(want.Spec.Containers, container("added"))
							rounds = append(rounds, fmt.Sprintf("%d:adder added", round))
						}
						continue
					}
					res, err := sidecar.Inject(&want.ObjectMeta, &want.Spec, inj.spec, capability, inj.opts)
					if err != nil {
						t.Fatalf("Inject (round %d): %v", round, err)
					}
					if !res.Mutation.Empty() {
						if err := res.Mutation.Apply(&want.ObjectMeta, &want.Spec); err != nil {
							t.Fatal(err)
						}
						rounds = append(rounds, fmt.Sprintf("%d:sidecarkit changed", round))
					} else {
						rounds = append(rounds, fmt.Sprintf("%d:sidecarkit %s", round, res.Skipped))
					}
				}
			}
			t.Logf("prediction: %v; webhook calls: sidecarkit %d, adder %d", rounds, ours.Calls(), adder.Calls())
			if d := diffPods(dryRun(ctx, t, c, want), stored); d != "" {
				t.Errorf("stored pod differs from the prediction (-predicted +stored):\n%s", d)
			}

			// No duplicates, whatever the prediction says.
			counts := map[string]int{}
			for _, n := range append(names(stored.Spec.InitContainers), names(stored.Spec.Containers)...) {
				counts[n]++
			}
			sidecarList := stored.Spec.InitContainers
			if mode == sidecar.Legacy {
				sidecarList = stored.Spec.Containers
			}
			if counts["proxy"] != 1 || counts["added"] != 1 || len(names(sidecarList)) == 0 {
				t.Errorf("containers %v / %v: want proxy and added exactly once", names(stored.Spec.InitContainers), names(stored.Spec.Containers))
			}
			vols := map[string]int{}
			for _, v := range stored.Spec.Volumes {
				vols[v.Name]++
			}
			for n, k := range vols {
				if k > 1 {
					t.Errorf("volume %s stored %d times", n, k)
				}
			}
			for _, ct := range stored.Spec.Containers {
				env, mounts := map[string]int{}, map[string]int{}
				for _, e := range ct.Env {
					env[e.Name]++
				}
				for _, m := range ct.VolumeMounts {
					mounts[m.MountPath]++
				}
				for n, k := range env {
					if k > 1 {
						t.Errorf("container %s: env %s %d times", ct.Name, n, k)
					}
				}
				for n, k := range mounts {
					if k > 1 {
						t.Errorf("container %s: mountPath %s %d times", ct.Name, n, k)
					}
				}
			}

			// Converged: our webhook would change nothing more.
			res, err := sidecar.Inject(&stored.ObjectMeta, &stored.Spec, inj.spec, capability, inj.opts)
			if err != nil {
				t.Fatalf("Inject on the stored pod: %v", err)
			}
			if !res.Mutation.Empty() {
				ops, _ := res.Mutation.JSONPatch(patch.PodRoot)
				t.Errorf("sidecarkit has not converged: one more call would patch %s", mustJSON(ops))
			}
			calls := inj.calls(pod.Name)
			if n := len(calls); n < 1 || n > 2 {
				t.Errorf("sidecarkit called %d times for the pod, want 1 or 2", n)
			}
			if n := ours.Calls(); n != len(calls) {
				t.Errorf("webhook counted %d calls, injector %d", n, len(calls))
			}

			// Every application container gets the sidecar's mount, also
			// one another webhook added after ours ran: the reinvocation
			// sees it lacks them and adds them.
			for _, ct := range stored.Spec.Containers {
				if ct.Name == "proxy" {
					continue
				}
				if countMounts(&ct, "/var/run/proxy") != 1 {
					t.Errorf("container %s lacks the sidecar's appMount /var/run/proxy", ct.Name)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
