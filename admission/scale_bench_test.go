package admission_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/internal/cputime"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// scaleSizes are the numbers of application containers the scaling
// benchmarks review.
var scaleSizes = []int{10, 100, 1000, 10000, 50000}

// scaleSpecYAML is a sidecar with one volume, one mount and two variables
// for every application container: each container of the Pod gets three
// ops.
const scaleSpecYAML = `
container:
  name: proxy
  image: registry.example/proxy:2
  ports: [{name: proxy, containerPort: 15001}]
  volumeMounts: [{name: proxy-socket, mountPath: /var/run/proxy}]
volumes:
- name: proxy-socket
  emptyDir: {}
appMounts:
- {name: proxy-socket, mountPath: /var/run/proxy}
appEnv:
- {name: PROXY_SOCKET, value: /var/run/proxy/proxy.sock}
- {name: PROXY_ADMIN, value: "127.0.0.1:15000"}
`

// scalePodJSON is a Pod of n application containers, as small as the API
// server takes them (short names, an image), so that the largest stays
// near the object size limit; one init container and one volume of its
// own. Every tenth container has an env variable and a mount already.
func scalePodJSON(n int) string {
	var b strings.Builder
	b.Grow(64*n + 512)
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"wide","namespace":"shop","annotations":{"team":"load"}},"spec":{`)
	b.WriteString(`"initContainers":[{"name":"init","image":"init"}],"volumes":[{"name":"data","emptyDir":{}}],"containers":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":"c` + strconv.Itoa(i) + `","image":"app"`)
		if i%10 == 0 {
			b.WriteString(`,"env":[{"name":"ID","value":"` + strconv.Itoa(i) + `"}],"volumeMounts":[{"name":"data","mountPath":"/data"}]`)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}}`)
	return b.String()
}

// scaleInjector is a Webhook of the scaling sidecar for a native cluster,
// with a Decide hook, which sees the Pod's spec: it decodes Pods in full.
func scaleInjector(t testing.TB) *admission.Webhook {
	t.Helper()
	s, err := sidecar.LoadSpec([]byte(scaleSpecYAML))
	if err != nil {
		t.Fatal(err)
	}
	decide := func(*metav1.ObjectMeta, *corev1.PodSpec) sidecar.Decision { return sidecar.Decision{Inject: true} }
	return newWebhook(t, admission.Config{Spec: s, Capability: staticCap(nativeCap), Options: sidecar.Options{Decide: decide}})
}

// scaleLeanInjector is scaleInjector without hooks (native mode forced):
// it decodes Pods leanly.
func scaleLeanInjector(t testing.TB) *admission.Webhook {
	t.Helper()
	s, err := sidecar.LoadSpec([]byte(scaleSpecYAML))
	if err != nil {
		t.Fatal(err)
	}
	return newWebhook(t, admission.Config{Spec: s, Options: sidecar.Options{Mode: sidecar.Native}})
}

// BenchmarkReviewScale measures the whole admission path with the full
// decode, AdmissionReview bytes in to response bytes out, on Pods of 10 to
// 50,000 application containers. ns/container is the time per application container: flat
// when the cost is linear in the Pod.
func BenchmarkReviewScale(b *testing.B) {
	benchmarkScale(b, scaleInjector(b))
}

// BenchmarkReviewScaleLean is BenchmarkReviewScale for a Webhook without a
// Decide hook, which decodes the Pods leanly.
func BenchmarkReviewScaleLean(b *testing.B) {
	benchmarkScale(b, scaleLeanInjector(b))
}

func benchmarkScale(b *testing.B, i *admission.Webhook) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			body := review(b, req{object: scalePodJSON(n)})
			_, out, err := i.Review(context.Background(), body)
			if err != nil || out.Ops != 3*n+3 {
				b.Fatalf("%d ops, error %v; want %d ops", out.Ops, err, 3*n+3)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuOK := cputime.Process()
			for k := 0; k < b.N; k++ {
				if _, _, err := i.Review(context.Background(), body); err != nil {
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

// bytesContainer is a realistic application container of about 1 KB:
// image, args, ports, env, resources, mounts, probes and security context.
func bytesContainer(i int) string {
	n := strconv.Itoa(i)
	return `{"name":"app-` + n + `","image":"registry.example/team/app-` + n + `:1.2.3","args":["--port=8080","--verbose"],` +
		`"ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],` +
		`"env":[{"name":"A","value":"value-a-` + n + `"},{"name":"B","value":"value-b"},{"name":"C","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],` +
		`"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"256Mi"}},` +
		`"volumeMounts":[{"name":"data","mountPath":"/data"}],` +
		`"livenessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":10},` +
		`"readinessProbe":{"httpGet":{"path":"/ready","port":8080},"periodSeconds":5},` +
		`"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent",` +
		`"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":true},"x-vendor":{"trace":true}}`
}

// bytesPodJSON is a Pod of n bytesContainers (about n KB).
func bytesPodJSON(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","labels":{"app":"web"}},"spec":{"volumes":[{"name":"data","emptyDir":{}}],"containers":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(bytesContainer(i))
	}
	b.WriteString(`],"restartPolicy":"Always","tolerations":[{"key":"k","operator":"Exists"}]}}`)
	return b.String()
}

// BenchmarkReviewBytes measures the whole admission path on Pods of about
// 1 KB to 1 MB (1 to 1,000 containers of 1 KB each): ns/byte (and
// cpu-ns/byte, the process's CPU time) is flat when the cost is linear in
// the bytes received. typed: a Webhook with a Decide hook (the full
// decode); lean: without one.
func BenchmarkReviewBytes(b *testing.B) {
	for _, w := range []struct {
		name string
		i    *admission.Webhook
	}{{"typed", scaleInjector(b)}, {"lean", scaleLeanInjector(b)}} {
		for _, n := range []int{1, 10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/containers=%d", w.name, n), func(b *testing.B) {
				body := review(b, req{object: bytesPodJSON(n)})
				if _, out, err := w.i.Review(context.Background(), body); err != nil || out.Ops != 3*n+3 {
					b.Fatalf("%d ops, error %v; want %d ops", out.Ops, err, 3*n+3)
				}
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				b.ResetTimer()
				cpu0, cpuOK := cputime.Process()
				for k := 0; k < b.N; k++ {
					if _, _, err := w.i.Review(context.Background(), body); err != nil {
						b.Fatal(err)
					}
				}
				cpu1, _ := cputime.Process()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(body)), "ns/byte")
				if cpuOK {
					b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/float64(len(body)), "cpu-ns/byte")
				}
			})
		}
	}
}

// reviewPerContainer returns the allocations and bytes allocated per
// application container of one review of scalePodJSON(n).
func reviewPerContainer(t *testing.T, i *admission.Webhook, n int) (allocs, bytes float64) {
	t.Helper()
	body := review(t, req{object: scalePodJSON(n)})
	run := func() {
		if _, out, err := i.Review(context.Background(), body); err != nil || out.Ops != 3*n+3 {
			t.Fatalf("%d containers: %d ops, error %v; want %d ops", n, out.Ops, err, 3*n+3)
		}
	}
	allocs = testing.AllocsPerRun(1, run)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	run()
	runtime.ReadMemStats(&after)
	return allocs / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// TestReviewScalesLinearly is sidecar's TestInjectScalesLinearly for the
// whole admission path: the allocations and bytes per application
// container of a review of 50,000 containers (10,000 with -short) stay
// within a small factor of those of 1,000, without timing anything.
func TestReviewScalesLinearly(t *testing.T) {
	i := scaleInjector(t)
	large := 50000
	if testing.Short() {
		large = 10000
	}
	a1, b1 := reviewPerContainer(t, i, 1000)
	a2, b2 := reviewPerContainer(t, i, large)
	t.Logf("per container: %.1f allocs, %.0f B at 1,000; %.1f allocs, %.0f B at %d", a1, b1, a2, b2, large)
	if a2 > 1.5*a1 || b2 > 2*b1 {
		t.Errorf("per container: %.1f allocs and %.0f B at %d containers, %.1f and %.0f at 1,000: the cost grows faster than the Pod", a2, b2, large, a1, b1)
	}
}
