package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// NodetestImage2 is a second reference to the nodetest image (tagged in
// each node's containerd), so that a sidecar's image can change on a live
// Pod without a registry.
const NodetestImage2 = "sidecarkit.test/nodetest:2"

// TestInPlaceSidecarUpgrade changes the image of a running Pod's sidecar,
// native (a restartable init container) and legacy (a regular container),
// with the patch examples/operator's in-place upgrade sends (inplace.Plan:
// tests of the resourceVersion and of the container's name, the image, the
// new injection record), and measures the time from the patch to the new
// sidecar ready, checking that the app container never restarted and that
// the new sidecar serves (a second "bind" in the Pod's events). On a
// kubelet without native sidecars (v1.27) only the legacy form runs: a
// native sidecar there is an init container that never exits, the Pod
// never becomes Ready, and the upgrader never picks it.
func TestInPlaceSidecarUpgrade(t *testing.T) {
	kubelets, images := prerequisites(t)
	c := cluster.ForTest(t, cluster.Options{})
	ns := c.TestNamespace(t, nil)
	for i, k := range kinds {
		i, k := i, k
		if k.rejects || k.name == "native-alpha" {
			continue // the upgrade of a 1.28 alpha-gate node is not measured
		}
		t.Run(k.name+"-"+k.version, func(t *testing.T) {
			bin, ok := kubelets[k.version]
			if !ok {
				if os.Getenv(EnvRequire) == "1" {
					t.Fatalf("no kubelet %s in $%s", k.version, EnvKubelets)
				}
				t.Skipf("no kubelet %s in $%s", k.version, EnvKubelets)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			n, err := Start(ctx, c, Options{
				Name: "node-" + k.name, Index: i, Kubelet: bin, Version: k.version, FeatureGates: k.gates,
				Images: []string{filepath.Join(images, "pause.tar"), filepath.Join(images, "nodetest.tar")},
				LogDir: os.Getenv(EnvLogs), Logf: t.Logf,
			})
			if err != nil {
				t.Fatalf("start node: %v", err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("last kubelet log lines:\n%s", n.KubeletLog(40))
				}
				sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer scancel()
				if err := n.Stop(sctx); err != nil {
					t.Errorf("stop node: %v", err)
				}
			}()
			if out, err := n.ctr(ctx, "images", "tag", NodetestImage, NodetestImage2); err != nil {
				t.Fatalf("tag %s: %v: %s", NodetestImage2, err, out)
			}
			e := &env{t: t, c: c, n: n, ns: ns, kind: k}
			modes := []sidecar.Mode{sidecar.Native, sidecar.Legacy}
			if !k.native {
				modes = []sidecar.Mode{sidecar.Legacy}
				t.Run("native-never-ready", e.nativeNeverReady)
			}
			for _, m := range modes {
				m := m
				t.Run(string(m), func(t *testing.T) { e.upgradeInPlace(t, m) })
			}
		})
	}
}

// inPlacePatch is the patch inplace.Plan sends for pod's sidecar to
// image: a test of the Pod's resourceVersion and of the container's name
// at its index, the image, and the injection record the new spec writes.
func inPlacePatch(t *testing.T, pod *corev1.Pod, mode sidecar.Mode, image string) []byte {
	t.Helper()
	list, path := pod.Spec.Containers, "containers"
	if mode == sidecar.Native {
		list, path = pod.Spec.InitContainers, "initContainers"
	}
	idx := -1
	for i := range list {
		if list[i].Name == sidecarName {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("no %s in %s", sidecarName, path)
	}
	meta, spec := pod.ObjectMeta.DeepCopy(), pod.Spec.DeepCopy()
	// The image-only test of inplace.Plan: the spec with the Pod's image
	// is what the record says was injected.
	same, err := sidecar.Inject(meta, spec, sidecarSpec(list[idx].Image), compat.Capability{}, sidecar.Options{Mode: mode})
	if err != nil || !same.Mutation.Empty() {
		t.Fatalf("not an image-only change: %v, %d ops", err, same.Mutation.NumOps())
	}
	res, err := sidecar.Inject(meta, spec, sidecarSpec(image), compat.Capability{}, sidecar.Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Mutation.Apply(meta, spec); err != nil {
		t.Fatal(err)
	}
	key := sidecar.Annotation(sidecarName)
	body, err := json.Marshal([]map[string]interface{}{
		{"op": "test", "path": "/metadata/resourceVersion", "value": pod.ResourceVersion},
		{"op": "test", "path": fmt.Sprintf("/spec/%s/%d/name", path, idx), "value": sidecarName},
		{"op": "replace", "path": fmt.Sprintf("/spec/%s/%d/image", path, idx), "value": image},
		{"op": "replace", "path": "/metadata/annotations/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key), "value": meta.Annotations[key]},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func sidecarStatus(p *corev1.Pod, mode sidecar.Mode) *corev1.ContainerStatus {
	l := p.Status.ContainerStatuses
	if mode == sidecar.Native {
		l = p.Status.InitContainerStatuses
	}
	for i := range l {
		if l[i].Name == sidecarName {
			return &l[i]
		}
	}
	return nil
}

func specImage(p *corev1.Pod, mode sidecar.Mode) string {
	l := p.Spec.Containers
	if mode == sidecar.Native {
		l = p.Spec.InitContainers
	}
	for _, c := range l {
		if c.Name == sidecarName {
			return c.Image
		}
	}
	return ""
}

func appRestarts(p *corev1.Pod) int32 {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == "app" {
			return s.RestartCount
		}
	}
	return -1
}

// upgradeInPlace runs rounds of in-place upgrades on one Pod, alternating
// the two image references.
func (e *env) upgradeInPlace(t *testing.T, mode sidecar.Mode) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv(EnvRounds)); err == nil && v > 0 {
		rounds = v
	}
	name := "inplace-" + string(mode)
	e.create(t, e.pod(t, name, mode, false))
	p, _ := e.waitPod(t, name, 90*time.Second, "Ready", ready)
	if evs := e.waitEvent(t, name, "reached", 30*time.Second); len(find(evs, "reached")) != 1 {
		t.Fatalf("app did not reach the sidecar:\n%s", lines(evs))
	}
	var took []time.Duration
	for r := 0; r < rounds; r++ {
		image := NodetestImage2
		if r%2 == 1 {
			image = NodetestImage
		}
		before := sidecarStatus(p, mode)
		if before == nil || before.ContainerID == "" {
			t.Fatalf("no sidecar status: %s", describe(p))
		}
		oldID, oldRestarts, binds, from := before.ContainerID, appRestarts(p), len(find(e.events(t, name), "bind")), specImage(p, mode)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err := e.c.Client().CoreV1().Pods(e.ns).Patch(ctx, name, types.JSONPatchType, inPlacePatch(t, p, mode, image), metav1.PatchOptions{})
		cancel()
		if err != nil {
			t.Fatalf("round %d: patch: %v", r, err)
		}
		var at time.Time
		p, at = e.waitPod(t, name, 60*time.Second, "ready with the new sidecar", func(p *corev1.Pod) bool {
			s := sidecarStatus(p, mode)
			return s != nil && s.ContainerID != oldID && s.Ready && s.State.Running != nil && ready(p)
		})
		took = append(took, at.Sub(start))
		t.Logf("round %d: %s → %s, new sidecar ready after %v", r, from, image, at.Sub(start).Round(time.Millisecond))
		if got := appRestarts(p); got != oldRestarts {
			t.Errorf("round %d: app restarted (%d → %d): %s", r, oldRestarts, got, describe(p))
		}
		// (The container status names the image by the first of its tags:
		// both tags are one image here, so the spec says which was asked.)
		if got := specImage(p, mode); got != image {
			t.Errorf("round %d: sidecar image %q, want %s", r, got, image)
		}
		var evs []event
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if evs = e.events(t, name); len(find(evs, "bind")) > binds {
				break
			}
		}
		if len(find(evs, "bind")) != binds+1 {
			t.Errorf("round %d: %d binds of the sidecar, want %d (the new one serving):\n%s", r, len(find(evs, "bind")), binds+1, lines(evs))
		}
		if rec, has, err := sidecar.ReadRecord(&p.ObjectMeta, sidecarName); err != nil || !has || rec.Mode != mode {
			t.Errorf("round %d: record %+v %v %v", r, rec, has, err)
		}
	}
	t.Logf("INPLACE node=%s kubelet=%s mode=%-6s patch->new sidecar ready %s, app restarts %d",
		e.kind.name, e.kind.version, mode, stats(took), appRestarts(p))
	e.remove(t, name)
}

// nativeNeverReady: on a kubelet without native sidecars, the native form
// is an init container that never exits: the Pod stays Pending in Init,
// never Ready, so the in-place upgrade (Running and Ready Pods only) never
// picks it.
func (e *env) nativeNeverReady(t *testing.T) {
	name := "inplace-native-stripped"
	e.create(t, e.pod(t, name, sidecar.Native, false))
	p, _ := e.waitPod(t, name, 60*time.Second, "running its sidecar as an init container", func(p *corev1.Pod) bool {
		s := sidecarStatus(p, sidecar.Native)
		return s != nil && s.State.Running != nil
	})
	time.Sleep(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	p, err := e.c.Client().CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || ready(p) {
		t.Errorf("a native sidecar on kubelet %s: %s; want Pending in Init", e.kind.version, describe(p))
	}
	t.Logf("kubelet %s, native sidecar: %s (not eligible for an in-place upgrade)", e.kind.version, describe(p))
	e.remove(t, name)
}
