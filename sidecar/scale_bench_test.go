package sidecar_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/cputime"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// scaleSizes are the numbers of application containers the scaling
// benchmarks inject into.
var scaleSizes = []int{10, 100, 1000, 10000, 50000}

// scaleCapability is a cluster that runs native sidecars everywhere.
var scaleCapability = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}

// scaleSpec is a sidecar with one volume, one mount and two variables for
// every application container: each container of the Pod gets three ops.
func scaleSpec() sidecar.Spec {
	return sidecar.Spec{
		Container: corev1.Container{
			Name:         "proxy",
			Image:        "registry.example/proxy:2",
			Ports:        []corev1.ContainerPort{{Name: "proxy", ContainerPort: 15001}},
			VolumeMounts: []corev1.VolumeMount{{Name: "proxy-socket", MountPath: "/var/run/proxy"}},
		},
		Volumes:   []corev1.Volume{{Name: "proxy-socket", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		AppMounts: []corev1.VolumeMount{{Name: "proxy-socket", MountPath: "/var/run/proxy"}},
		AppEnv: []corev1.EnvVar{
			{Name: "PROXY_SOCKET", Value: "/var/run/proxy/proxy.sock"},
			{Name: "PROXY_ADMIN", Value: "127.0.0.1:15000"},
		},
	}
}

// scalePod is a Pod of n application containers, as small as the API
// server takes them (short names, an image), so that the largest stays
// near the object size limit; one init container and one volume of its
// own. Every tenth container has an env variable and a mount already, so
// that the sidecar's edits append to existing lists as well as create
// them.
func scalePod(n int) (*metav1.ObjectMeta, *corev1.PodSpec) {
	meta := &metav1.ObjectMeta{Name: "wide", Namespace: "load", Annotations: map[string]string{"team": "load"}}
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "init"}},
		Containers:     make([]corev1.Container, n),
		Volumes:        []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		c.Name, c.Image = "c"+strconv.Itoa(i), "app"
		if i%10 == 0 {
			c.Env = []corev1.EnvVar{{Name: "ID", Value: strconv.Itoa(i)}}
			c.VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}
	}
	return meta, spec
}

// scaleOps is the op count of the injection into scalePod(n): the
// sidecar, the volume, three ops per application container and the
// record annotation.
func scaleOps(n int) int { return 3*n + 3 }

// injectScale is the measured operation: a prepared Injector's Inject and
// the encoding of its patch.
func injectScale(in *sidecar.Injector, meta *metav1.ObjectMeta, spec *corev1.PodSpec) (*patch.Mutation, []byte, error) {
	res, err := in.Inject(context.Background(), meta, spec, scaleCapability, sidecar.Options{})
	if err != nil {
		return nil, nil, err
	}
	b, err := res.Mutation.MarshalJSONPatch(patch.PodRoot)
	return res.Mutation, b, err
}

// BenchmarkInjectScale measures Injector.Inject + MarshalJSONPatch on Pods
// of 10 to 50,000 application containers. ns/container is the time per
// application container: flat when the cost is linear in the Pod.
func BenchmarkInjectScale(b *testing.B) {
	in, err := sidecar.NewInjector(scaleSpec())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			meta, spec := scalePod(n)
			m, p, err := injectScale(in, meta, spec)
			if err != nil {
				b.Fatal(err)
			}
			if m.NumOps() != scaleOps(n) || len(p) == 0 {
				b.Fatalf("%d ops (%d bytes), want %d", m.NumOps(), len(p), scaleOps(n))
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuOK := cputime.Process()
			for i := 0; i < b.N; i++ {
				if _, _, err := injectScale(in, meta, spec); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, _ := cputime.Process()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/container")
			if cpuOK {
				// CPU time of the process, GC included: what the
				// injection costs, without the time spent waiting for a
				// CPU on a shared machine.
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/container")
			}
		})
	}
}

// perContainer returns the allocations and bytes allocated per
// application container of one injection into scalePod(n). Both are
// deterministic up to map growth, unlike time.
func perContainer(t *testing.T, in *sidecar.Injector, n int) (allocs, bytes float64) {
	t.Helper()
	meta, spec := scalePod(n)
	run := func() {
		m, _, err := injectScale(in, meta, spec)
		if err != nil || m.NumOps() != scaleOps(n) {
			t.Fatalf("%d containers: %v ops, error %v; want %d ops", n, m.NumOps(), err, scaleOps(n))
		}
	}
	allocs = testing.AllocsPerRun(1, run)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	return allocs / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// TestInjectScalesLinearly guards against a return to costs that grow
// faster than the Pod without timing anything: the allocations and bytes
// per application container of an injection into 50,000 containers (10,000
// with -short) stay within a small factor of those into 1,000. Work that
// copies or rebuilds a list, an index or the op list per container grows
// them with the Pod. (A scan that allocates nothing is beyond this test;
// TestLookupIndices in package patch checks that lookups use the index.)
func TestInjectScalesLinearly(t *testing.T) {
	in, err := sidecar.NewInjector(scaleSpec())
	if err != nil {
		t.Fatal(err)
	}
	large := 50000
	if testing.Short() {
		large = 10000
	}
	a1, b1 := perContainer(t, in, 1000)
	a2, b2 := perContainer(t, in, large)
	t.Logf("per container: %.1f allocs, %.0f B at 1,000; %.1f allocs, %.0f B at %d", a1, b1, a2, b2, large)
	if a2 > 1.5*a1 || b2 > 2*b1 {
		t.Errorf("per container: %.1f allocs and %.0f B at %d containers, %.1f and %.0f at 1,000: the cost grows faster than the Pod", a2, b2, large, a1, b1)
	}
}

// BenchmarkInjectForgedRecordScale injects into an injected Pod of n
// application containers whose record claims n stale mountPaths and n
// stale env names (as a forged record may: it is as large as the request
// allows). The record is never walked per container, so ns/container stays
// flat.
func BenchmarkInjectForgedRecordScale(b *testing.B) {
	in, err := sidecar.NewInjector(scaleSpec())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			meta, spec := scalePod(n)
			res, err := in.Inject(context.Background(), meta, spec, scaleCapability, sidecar.Options{})
			if err != nil {
				b.Fatal(err)
			}
			meta, spec = res.Mutation.Result()
			var rec sidecar.Record
			if err := json.Unmarshal([]byte(meta.Annotations[sidecar.Annotation("proxy")]), &rec); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < n; i++ {
				rec.AppMounts["/stale/"+strconv.Itoa(i)] = "0123456789abcdef"
				rec.AppEnv["STALE_"+strconv.Itoa(i)] = "0123456789abcdef"
			}
			forged, _ := json.Marshal(rec)
			meta.Annotations[sidecar.Annotation("proxy")] = string(forged)
			res, err = in.Inject(context.Background(), meta, spec, scaleCapability, sidecar.Options{})
			if err != nil || res.Mutation.NumOps() != 1 {
				b.Fatalf("err %v, %d ops; want only the record rewritten", err, res.Mutation.NumOps())
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := in.Inject(context.Background(), meta, spec, scaleCapability, sidecar.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/container")
		})
	}
}
