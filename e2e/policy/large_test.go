package policy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestPolicyLargePods: the policy's CEL is linear in the Pod (a walk over
// the containers per appMounts and appEnv entry) and stays within the API
// server's CEL cost budget up to 1,500 containers (the maximal review of
// e2e/hostile); the Pod (dry run: mutating and validating policies) equals
// the library's injection.
func TestPolicyLargePods(t *testing.T) {
	c := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s := loadSpec(t, sidecar.Placement{})
	ns, sel := policyNamespace(t, c, "large")
	install(t, c, compile(t, s, policy.Options{Mode: sidecar.Native, Name: "large"}), sel)
	waitActive(t, c, ns, s.Container.Name)
	for _, n := range []int{100, 400, 1500} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("large-%d", n)},
			Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false)}}
		for i := 0; i < n; i++ {
			pod.Spec.Containers = append(pod.Spec.Containers, container(fmt.Sprintf("app-%d", i)))
		}
		body := mustJSON(pod)
		stored, err := createRaw(ctx, c, ns, body, true)
		if err != nil {
			t.Errorf("%d containers: %v", n, excerpt(err.Error()))
			continue
		}
		if d := diffPods(predict(ctx, t, c, body, s, sidecar.Native), stored); d != "" {
			t.Errorf("%d containers: stored pod differs from the library's injection", n)
		}
		if !hasContainer(stored, s.Container.Name) || len(stored.Spec.Containers[n-1].Env) != 1 {
			t.Errorf("%d containers: not injected into every container", n)
		}
	}
}

func excerpt(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return strings.TrimSpace(s)
}
