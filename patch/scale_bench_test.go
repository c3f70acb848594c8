package patch_test

import (
	"fmt"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// scaleSizes are the list lengths of the scaling benchmarks.
var scaleSizes = []int{100, 1000, 10000}

// widePod is a Pod of n containers, each named c<i>, with one env
// variable.
func widePod(n int) (*metav1.ObjectMeta, *corev1.PodSpec) {
	spec := &corev1.PodSpec{Containers: make([]corev1.Container, n)}
	for i := range spec.Containers {
		spec.Containers[i] = corev1.Container{Name: "c" + strconv.Itoa(i), Image: "app", Env: []corev1.EnvVar{{Name: "ID", Value: strconv.Itoa(i)}}}
	}
	return &metav1.ObjectMeta{Name: "wide"}, spec
}

// wideMutation adds a sidecar, a volume and, to every container, a mount
// and a variable: 2n+2 ops.
func wideMutation(b *testing.B, meta *metav1.ObjectMeta, spec *corev1.PodSpec) *patch.Mutation {
	m := patch.New(meta, spec)
	if err := m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "proxy", Image: "proxy"}); err != nil {
		b.Fatal(err)
	}
	if err := m.AddVolume(corev1.Volume{Name: "sock"}); err != nil {
		b.Fatal(err)
	}
	for i := range spec.Containers {
		name := spec.Containers[i].Name
		if err := m.AddVolumeMount(patch.Containers, name, corev1.VolumeMount{Name: "sock", MountPath: "/sock"}); err != nil {
			b.Fatal(err)
		}
		if err := m.AddEnv(patch.Containers, name, corev1.EnvVar{Name: "SOCK", Value: "/sock"}); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// BenchmarkMutationScale measures, on Pods of 100 to 10,000 containers,
// the edits of an injection (Edits), their replay on a typed spec (Apply),
// the typed result (Result), the strategic merge patch (StrategicMerge),
// and Diff of a spec whose containers and each container's env are
// reversed (DiffReversed: every element but one moves). ns/container is
// flat when the cost is linear.
func BenchmarkMutationScale(b *testing.B) {
	for _, n := range scaleSizes {
		meta, spec := widePod(n)
		run := func(name string, f func(b *testing.B)) {
			b.Run(fmt.Sprintf("%s/containers=%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				f(b)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/container")
			})
		}
		run("Edits", func(b *testing.B) {
			if m := wideMutation(b, meta, spec); m.NumOps() != 2*n+2 {
				b.Fatalf("%d ops, want %d", m.NumOps(), 2*n+2)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				wideMutation(b, meta, spec)
			}
		})
		m := wideMutation(b, meta, spec)
		run("Apply", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s := *spec
				if err := m.Apply(meta.DeepCopy(), &s); err != nil || len(s.InitContainers) != 1 {
					b.Fatal(err, len(s.InitContainers))
				}
			}
		})
		run("Result", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, s := m.Result(); len(s.Containers) != n {
					b.Fatal(len(s.Containers))
				}
			}
		})
		run("StrategicMerge", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if p, err := m.StrategicMerge(patch.PodRoot); err != nil || len(p) < n {
					b.Fatal(err, len(p))
				}
			}
		})
		reversed := spec.DeepCopy()
		for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
			reversed.Containers[i], reversed.Containers[j] = reversed.Containers[j], reversed.Containers[i]
		}
		run("DiffReversed", func(b *testing.B) {
			d, err := patch.Diff(spec, reversed)
			if err != nil || d.NumOps() != n-1 {
				b.Fatalf("%v ops, error %v; want %d", d.NumOps(), err, n-1)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := patch.Diff(spec, reversed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
