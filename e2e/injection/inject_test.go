package injection_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// podShape is a Pod to inject into, and where the sidecar should go.
type podShape struct {
	name       string
	init       []corev1.Container
	containers []corev1.Container
	placement  sidecar.Placement
	// wantInit and wantContainers are the names after a native injection
	// and after a legacy one ("proxy" marks the sidecar).
	nativeInit      []string
	legacyContainer []string
}

func nativeSidecar(name string) corev1.Container {
	c := container(name)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

var shapes = []podShape{{
	name:            "no-init",
	containers:      []corev1.Container{container("app")},
	nativeInit:      []string{"proxy"},
	legacyContainer: []string{"proxy", "app"},
}, {
	name:            "one-init",
	init:            []corev1.Container{container("setup")},
	containers:      []corev1.Container{container("app")},
	nativeInit:      []string{"proxy", "setup"},
	legacyContainer: []string{"proxy", "app"},
}, {
	name:            "three-init-two-apps",
	init:            []corev1.Container{container("setup-1"), container("setup-2"), container("setup-3")},
	containers:      []corev1.Container{container("app"), container("worker")},
	nativeInit:      []string{"proxy", "setup-1", "setup-2", "setup-3"},
	legacyContainer: []string{"proxy", "app", "worker"},
}, {
	name:            "existing-native-sidecar",
	init:            []corev1.Container{nativeSidecar("log-shipper"), container("setup")},
	containers:      []corev1.Container{container("app")},
	nativeInit:      []string{"proxy", "log-shipper", "setup"},
	legacyContainer: []string{"proxy", "app"},
}, {
	name:            "before-named-init",
	init:            []corev1.Container{container("setup-1"), container("setup-2"), container("setup-3")},
	containers:      []corev1.Container{container("app")},
	placement:       sidecar.Placement{Position: sidecar.Before, Name: "setup-2"},
	nativeInit:      []string{"setup-1", "proxy", "setup-2", "setup-3"},
	legacyContainer: []string{"proxy", "app"}, // an init-container anchor means nothing among containers
}, {
	name:            "after-named-native-sidecar",
	init:            []corev1.Container{nativeSidecar("net-proxy"), container("setup")},
	containers:      []corev1.Container{container("app")},
	placement:       sidecar.Placement{Position: sidecar.After, Name: "net-proxy"},
	nativeInit:      []string{"net-proxy", "proxy", "setup"},
	legacyContainer: []string{"proxy", "app"},
}, {
	name:            "after-named-app",
	init:            []corev1.Container{container("setup")},
	containers:      []corev1.Container{container("app"), container("worker")},
	placement:       sidecar.Placement{Position: sidecar.After, Name: "app"},
	nativeInit:      []string{"proxy", "setup"}, // a container anchor means nothing among init containers
	legacyContainer: []string{"app", "proxy", "worker"},
}}

// TestInjectModes injects the proxy sidecar in every forced mode into Pods
// of every shape through a webhook, and checks the stored Pod against the
// library's typed prediction, the order of the containers, and what each
// mode must add.
func TestInjectModes(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	handshake := universal.Planner{Handshake: []string{"/usr/local/bin/sidecarctl", "handshake"}}
	modes := []sidecar.Mode{sidecar.Native, sidecar.Legacy, sidecar.Pinned, sidecar.Universal}
	for _, mode := range modes {
		for _, shape := range shapes {
			mode, shape := mode, shape
			t.Run(fmt.Sprintf("%s/%s", mode, shape.name), func(t *testing.T) {
				t.Parallel()
				if mode != sidecar.Legacy && gateOff(c) {
					t.Skip("the API server drops restartPolicy with SidecarContainers=false: see TestGateOff")
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				ns := namespace(t, c)
				inj := &injector{
					spec:       loadSpec(t, proxySpec, shape.placement),
					capability: capability,
					opts:       sidecar.Options{Mode: mode, Universal: handshake},
				}
				wh := serve(t, c, ns, admissionHandler(inj.admit), cluster.WebhookOptions{})
				pod := testPod(shape.name, shape.init, shape.containers)

				// The library's prediction, from the Pod as sent.
				want, err := sidecar.Inject(pod.ObjectMeta.DeepCopy(), pod.Spec.DeepCopy(), inj.spec, capability, inj.opts)
				if err != nil {
					t.Fatalf("Inject: %v", err)
				}
				predicted := predict(ctx, t, c, pod, want.Mutation)

				if _, err := c.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					t.Fatalf("create pod: %v", err)
				}
				stored, err := c.Client().CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatalf("get pod: %v", err)
				}
				if d := diffPods(predicted, stored); d != "" {
					t.Errorf("stored pod differs from the typed prediction (-predicted +stored):\n%s", d)
				}
				if n := wh.Calls(); n != 1 {
					t.Errorf("webhook called %d times, want 1", n)
				}
				if res := inj.calls(pod.Name); len(res) == 1 && res[0].Mode != mode {
					t.Errorf("webhook injected in mode %s, want %s", res[0].Mode, mode)
				}
				checkMode(t, mode, shape, stored)
			})
		}
	}
}

// checkMode checks what the mode must have done, independently of the
// library's prediction.
func checkMode(t *testing.T, mode sidecar.Mode, shape podShape, stored *corev1.Pod) {
	t.Helper()
	gotInit, gotContainers := names(stored.Spec.InitContainers), names(stored.Spec.Containers)
	wantInit, wantContainers := names(shape.init), names(shape.containers)
	switch mode {
	case sidecar.Native, sidecar.Pinned:
		wantInit = shape.nativeInit
	case sidecar.Legacy:
		wantContainers = shape.legacyContainer
	case sidecar.Universal:
		// The native twin takes the sidecar's place, the legacy twin goes
		// where a legacy sidecar would.
		wantInit = shape.nativeInit
		wantContainers = replace(shape.legacyContainer, "proxy", "proxy-legacy")
	}
	if d := cmp.Diff(wantInit, gotInit); d != "" {
		t.Errorf("init container order (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantContainers, gotContainers); d != "" {
		t.Errorf("container order (-want +got):\n%s", d)
	}

	for i := range stored.Spec.InitContainers {
		ic := &stored.Spec.InitContainers[i]
		if ic.Name != "proxy" {
			continue
		}
		if ic.RestartPolicy == nil || *ic.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			t.Errorf("stored init container proxy has restartPolicy %v, want Always", ic.RestartPolicy)
		}
	}
	pinned := false
	if a := stored.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, r := range term.MatchExpressions {
				if r.Key == compat.NodeLabel {
					pinned = true
				}
			}
		}
	}
	if pinned != (mode == sidecar.Pinned) {
		t.Errorf("node affinity on %s: pinned = %v, want %v", compat.NodeLabel, pinned, mode == sidecar.Pinned)
	}
	for i := range stored.Spec.Containers {
		app := &stored.Spec.Containers[i]
		if app.Name == "proxy" || app.Name == "proxy-legacy" {
			continue
		}
		if n := countMounts(app, "/var/run/proxy"); n != 1 {
			t.Errorf("container %s mounts /var/run/proxy %d times, want once", app.Name, n)
		}
	}
	if _, ok := stored.Annotations[sidecar.Annotation("proxy")]; !ok {
		t.Errorf("stored pod lacks the injection annotation %s", sidecar.Annotation("proxy"))
	}
	if stored.Annotations["example.com/owner"] != "e2e" {
		t.Errorf("stored pod lost the annotation example.com/owner: %v", stored.Annotations)
	}
}

func countMounts(c *corev1.Container, path string) int {
	n := 0
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			n++
		}
	}
	return n
}

func replace(l []string, old, new string) []string {
	out := append([]string(nil), l...)
	for i := range out {
		if out[i] == old {
			out[i] = new
		}
	}
	return out
}
