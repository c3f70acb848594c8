// Package resources checks sidecar.PodResources against
// k8s.io/component-helpers/resource, the code the scheduler, kubelet
// admission and ResourceQuota use.
package resources

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"

	"k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	helpers "k8s.io/component-helpers/resource"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

var names = []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, "hugepages-2Mi", v1.ResourceEphemeralStorage, "example.com/gpu"}

// source turns bytes into choices.
type source struct{ b []byte }

func (s *source) intn(n int) int {
	if len(s.b) == 0 || n <= 1 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return int(c) % n
}

func (s *source) list() v1.ResourceList {
	l := v1.ResourceList{}
	for _, n := range names {
		if s.intn(3) == 0 {
			continue
		}
		q := resource.MustParse(fmt.Sprintf("%d", 1+s.intn(2000)))
		if n == v1.ResourceCPU {
			q = resource.MustParse(fmt.Sprintf("%dm", 1+s.intn(4000)))
		}
		l[n] = q
	}
	return l
}

func (s *source) pod() *v1.Pod {
	pod := &v1.Pod{}
	always := v1.ContainerRestartPolicyAlways
	for i, n := 0, s.intn(5); i < n; i++ {
		c := v1.Container{Name: fmt.Sprintf("init%d", i), Resources: v1.ResourceRequirements{Requests: s.list(), Limits: s.list()}}
		if s.intn(2) == 0 {
			c.RestartPolicy = &always
		}
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, c)
	}
	for i, n := 0, 1+s.intn(4); i < n; i++ {
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: fmt.Sprintf("c%d", i), Resources: v1.ResourceRequirements{Requests: s.list(), Limits: s.list()}})
	}
	if s.intn(3) == 0 {
		pod.Spec.Resources = &v1.ResourceRequirements{Requests: s.list(), Limits: s.list()}
	}
	if s.intn(3) == 0 {
		pod.Spec.Overhead = s.list()
	}
	return pod
}

// check compares sidecar.PodResources (computed on the JSON of the pod, as
// a webhook sees it) with component-helpers' PodRequests and PodLimits.
func check(t *testing.T, pod *v1.Pod) {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	var spec v1.PodSpec
	if err := json.Unmarshal(raw, &struct {
		Spec *v1.PodSpec `json:"spec"`
	}{&spec}); err != nil {
		t.Fatal(err)
	}
	got := sidecar.PodResources(&spec, pod.Spec.Resources)
	wantReq := helpers.PodRequests(pod, helpers.PodResourcesOptions{})
	wantLim := helpers.PodLimits(pod, helpers.PodResourcesOptions{})
	if !equal(got.Requests, wantReq) || !equal(got.Limits, wantLim) {
		t.Fatalf("pod %s\nrequests: got %v want %v\nlimits:   got %v want %v", raw, got.Requests, wantReq, got.Limits, wantLim)
	}
}

func equal(a, b v1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

// TestAgainstComponentHelpers checks 5000 random pods.
func TestAgainstComponentHelpers(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		b := make([]byte, 200)
		r.Read(b)
		check(t, (&source{b: b}).pod())
	}
}

// FuzzPodResources explores further with `go test -fuzz`.
func FuzzPodResources(f *testing.F) {
	f.Add([]byte{3, 1, 2, 0, 5, 7, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, (&source{b: data}).pod())
	})
}
