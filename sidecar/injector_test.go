package sidecar_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestInjectorKeepsItsSpec: changing the Spec after NewInjector changes
// nothing the Injector injects.
func TestInjectorKeepsItsSpec(t *testing.T) {
	s := loadSpec(t, "plain")
	in, err := sidecar.NewInjector(s)
	if err != nil {
		t.Fatal(err)
	}
	obj := decode(t, readFile(t, filepath.Join("testdata/inject/pods", "no-init.json")))
	want, err := sidecar.Inject(obj.Meta, obj.Spec, s, capabilities["native"], sidecar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Container.Image = "changed:1"
	if len(s.Container.Args) > 0 {
		s.Container.Args[0] = "changed"
	}
	s.Volumes = append(s.Volumes, corev1.Volume{Name: "changed"})
	checkInjector(t, in, obj, capabilities["native"], sidecar.Options{}, want, nil)
	if got := in.Spec(); got.Container.Image == "changed:1" {
		t.Error("Injector.Spec follows the caller's Spec")
	}
}

// TestInjectorErrors: NewInjector validates the Spec; Inject needs a spec.
func TestInjectorErrors(t *testing.T) {
	if _, err := sidecar.NewInjector(sidecar.Spec{}); err == nil || !strings.Contains(err.Error(), "sidecar.container.name: Required value") {
		t.Errorf("NewInjector(Spec{}) error %v, want the missing name", err)
	}
	in, err := sidecar.NewInjector(loadSpec(t, "plain"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Inject(context.Background(), nil, nil, capabilities["native"], sidecar.Options{}); err == nil {
		t.Error("Inject with a nil spec succeeded")
	}
}

// TestInjectorConcurrent shares one Injector between goroutines that
// inject into different Pods in every mode (run with -race).
func TestInjectorConcurrent(t *testing.T) {
	s := loadSpec(t, "plain")
	in, err := sidecar.NewInjector(s)
	if err != nil {
		t.Fatal(err)
	}
	pods := []string{"no-init", "several-init", "istio-native", "job-never"}
	modes := []sidecar.Mode{sidecar.Native, sidecar.Legacy, sidecar.Pinned}
	type job struct {
		obj  *patch.Object
		mode sidecar.Mode
		want []byte
	}
	var jobs []job
	for _, p := range pods {
		for _, m := range modes {
			obj := decode(t, readFile(t, filepath.Join("testdata/inject/pods", p+".json")))
			res, err := sidecar.Inject(obj.Meta, obj.Spec, s, capabilities["native"], sidecar.Options{Mode: m})
			if err != nil {
				t.Fatal(err)
			}
			want, err := res.Mutation.MarshalJSONPatch(obj.Root)
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, job{obj, m, want})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(jobs))
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range jobs {
				j := jobs[(k+g)%len(jobs)]
				res, err := in.Inject(context.Background(), j.obj.Meta, j.obj.Spec, capabilities["native"], sidecar.Options{Mode: j.mode})
				if err != nil {
					errs <- err
					continue
				}
				got, err := res.Mutation.MarshalJSONPatch(j.obj.Root)
				if err != nil || string(got) != string(j.want) {
					errs <- fmt.Errorf("mode %s: got %s (%v), want %s", j.mode, got, err, j.want)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Name is the Spec's container name.
func TestInjectorName(t *testing.T) {
	in, err := sidecar.NewInjector(sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if in.Name() != "proxy" || in.Spec().Container.Name != "proxy" {
		t.Errorf("Name %q, Spec().Container.Name %q", in.Name(), in.Spec().Container.Name)
	}
}

// Capability judges a pinned Pod without its own pin: among a native node
// labelled for pinning and a node that strips restartPolicy, the pinned Pod
// may land only on the first, but judged as it would schedule unpinned it
// sees both, so a second injection keeps it pinned.
func TestInjectorCapability(t *testing.T) {
	in, err := sidecar.NewInjector(sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1"}})
	if err != nil {
		t.Fatal(err)
	}
	node := func(name, version string, labels map[string]string) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: version}}}
	}
	cl := compat.Cluster{APIServerVersion: "v1.31.2", Nodes: []corev1.Node{
		node("new", "v1.31.2", map[string]string{compat.NodeLabel: "native"}),
		node("old", "v1.27.9", nil),
	}}
	pod := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"a"}]}}`)
	obj, err := patch.Decode(pod)
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.Capability(cl, obj)
	if err != nil || c.Kubelet != compat.KubeletStrips {
		t.Fatalf("Capability = %v, %v; want strips", c, err)
	}
	res, err := in.InjectObject(context.Background(), obj, c, sidecar.Options{AllowPinned: true})
	if err != nil || res.Mode != sidecar.Pinned {
		t.Fatalf("InjectObject = %v, %v; want pinned", res.Mode, err)
	}
	ops, err := res.Mutation.JSONPatch()
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := applyOps(string(pod), ops)
	if err != nil {
		t.Fatal(err)
	}
	obj, err = patch.Decode(pinned)
	if err != nil {
		t.Fatal(err)
	}
	if own, _ := cl.For(obj.Spec); own.Kubelet != compat.KubeletNative {
		t.Fatalf("the pinned Pod judged with its pin = %v; the test needs it native", own)
	}
	if c, err := in.Capability(cl, obj); err != nil || c.Kubelet != compat.KubeletStrips {
		t.Errorf("Capability of the pinned Pod = %v, %v; want strips (judged without its own pin)", c, err)
	}
	again, err := in.InjectObject(context.Background(), obj, c, sidecar.Options{AllowPinned: true})
	if err != nil || !again.Mutation.Empty() {
		t.Errorf("second injection: %v, empty %v", err, again.Mutation.Empty())
	}
	// No object is an error, not a capability judged from nothing.
	if c, err := in.Capability(cl, nil); err == nil || err.Error() != "sidecar: capability: nil object" {
		t.Errorf("Capability(nil) = %v, %v; want sidecar: capability: nil object", c, err)
	}
}
