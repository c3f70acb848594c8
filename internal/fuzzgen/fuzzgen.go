// Package fuzzgen turns fuzz input into random, valid typed Pods and raw Pod
// JSON carrying fields unknown to the API types, and tracks those fields by
// element identity. Only tests use it.
package fuzzgen

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Source turns fuzz input into choices; it returns zeros once the input
// is used up, so every input is a valid program.
type Source struct{ b []byte }

// New returns a Source reading data.
func New(data []byte) *Source { return &Source{b: data} }

func (s *Source) Byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *Source) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(s.Byte()) % n
}

func (s *Source) Bool() bool { return s.Byte()&1 == 1 }

var Images = []string{"nginx", "busybox", "registry.example/app:1", "proxy:2"}

// Spec builds a random but valid typed PodSpec: unique container names
// across the lists, mounts of existing volumes, valid ports.
func Spec(s *Source) *corev1.PodSpec {
	spec := &corev1.PodSpec{}
	nVol := s.Intn(4)
	for i := 0; i < nVol; i++ {
		v := corev1.Volume{Name: "vol" + strconv.Itoa(i)}
		if s.Bool() {
			v.EmptyDir = &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		} else {
			v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm" + strconv.Itoa(i)}}
		}
		spec.Volumes = append(spec.Volumes, v)
	}
	nInit := s.Intn(4)
	for i := 0; i < nInit; i++ {
		c := Container(s, "init"+strconv.Itoa(i), spec.Volumes)
		if s.Bool() {
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		} else {
			c.ReadinessProbe, c.LivenessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil
		}
		spec.InitContainers = append(spec.InitContainers, c)
	}
	nC := 1 + s.Intn(4)
	for i := 0; i < nC; i++ {
		spec.Containers = append(spec.Containers, Container(s, "app"+strconv.Itoa(i), spec.Volumes))
	}
	if s.Bool() {
		spec.RestartPolicy = corev1.RestartPolicyNever
	}
	if s.Bool() {
		spec.NodeSelector = map[string]string{"disk": "ssd", "zone/x~y": "a"}
	}
	if s.Bool() {
		spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}, {Key: "j", Value: "v", Effect: corev1.TaintEffectNoSchedule}}
	}
	if s.Bool() {
		spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}},
		}}}
	}
	return spec
}

func Container(s *Source, name string, vols []corev1.Volume) corev1.Container {
	c := corev1.Container{Name: name, Image: Images[s.Intn(len(Images))]}
	if s.Bool() {
		c.Command = []string{"/bin/" + name}
		c.Args = []string{"--v=" + strconv.Itoa(s.Intn(3))}
	}
	for i, n := 0, s.Intn(4); i < n; i++ {
		c.Env = append(c.Env, corev1.EnvVar{Name: "E" + strconv.Itoa(i), Value: strconv.Itoa(s.Intn(9))})
	}
	for i, n := 0, s.Intn(3); i < n && i < len(vols); i++ {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vols[i].Name, MountPath: "/mnt/" + vols[i].Name, ReadOnly: s.Bool()})
	}
	for i, n := 0, s.Intn(3); i < n; i++ {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: "p" + strconv.Itoa(i), ContainerPort: int32(8000 + i)})
	}
	if s.Bool() {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(strconv.Itoa(1+s.Intn(9)) + "00m")}
	}
	if s.Bool() {
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt(8080)}}, PeriodSeconds: int32(1 + s.Intn(5))}
	}
	if s.Bool() {
		c.SecurityContext = &corev1.SecurityContext{RunAsNonRoot: boolPtr(true)}
	}
	return c
}

func boolPtr(b bool) *bool { return &b }

// PlantUnknown encodes spec inside a Pod and adds a member "x-u<n>": n to
// every JSON object that has at least one member, at every level, plus some
// to metadata and status. An object the typed form writes empty ("{}") may
// be absent from a real document, and the library may set such an object
// whole (see patch.Diff): it gets none.
func PlantUnknown(spec *corev1.PodSpec, meta *metav1.ObjectMeta) []byte {
	pod := corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, Spec: *spec}
	if meta != nil {
		pod.ObjectMeta = *meta
	}
	b, _ := json.Marshal(&pod)
	var v interface{}
	_ = json.Unmarshal(b, &v)
	n := 0
	var walk func(key string, v interface{})
	walk = func(key string, v interface{}) {
		switch x := v.(type) {
		case map[string]interface{}:
			if mapKeys[key] {
				return // a Go map: every key is data, none is unknown
			}
			for _, k := range sortedKeys(x) {
				walk(k, x[k])
			}
			if len(x) > 0 {
				n++
				x["x-u"+strconv.Itoa(n)] = n
			}
		case []interface{}:
			for _, e := range x {
				walk("", e)
			}
		}
	}
	walk("", v)
	out, _ := json.Marshal(v)
	return out
}

// mapKeys are the members whose values are Go maps in the API types.
var mapKeys = map[string]bool{"labels": true, "annotations": true, "nodeSelector": true, "requests": true, "limits": true, "overhead": true}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// UnknownByIdentity maps every "x-u" member of doc to the identity of the
// object holding it: a path in which array elements are named by their
// "mountPath", "containerPort" or "name" member (and containers of both
// lists share one namespace), or by their index otherwise.
func UnknownByIdentity(doc []byte) (map[string]string, error) {
	var v interface{}
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(path string, v interface{})
	walk = func(path string, v interface{}) {
		switch x := v.(type) {
		case map[string]interface{}:
			for _, k := range sortedKeys(x) {
				if strings.HasPrefix(k, "x-u") {
					out[k] = path
					continue
				}
				seg := k
				if k == "initContainers" || k == "containers" {
					seg = "<containers>"
				}
				walk(path+"/"+seg, x[k])
			}
		case []interface{}:
			for i, e := range x {
				walk(path+"["+elemKey(e, i)+"]", e)
			}
		}
	}
	walk("", v)
	return out, nil
}

func elemKey(e interface{}, i int) string {
	if m, ok := e.(map[string]interface{}); ok {
		// The merge keys first: a volumeMount is its mountPath and a port
		// its containerPort (both also have a name), the rest their name.
		for _, k := range []string{"mountPath", "containerPort", "name"} {
			if v, ok := m[k]; ok {
				return fmt.Sprint(v)
			}
		}
	}
	return strconv.Itoa(i)
}

// Identities returns the identity paths of every object and array element in
// doc (same scheme as UnknownByIdentity).
func Identities(doc []byte) map[string]bool {
	var v interface{}
	_ = json.Unmarshal(doc, &v)
	out := map[string]bool{}
	var walk func(path string, v interface{})
	walk = func(path string, v interface{}) {
		out[path] = true
		switch x := v.(type) {
		case map[string]interface{}:
			for k, e := range x {
				seg := k
				if k == "initContainers" || k == "containers" {
					seg = "<containers>"
				}
				walk(path+"/"+seg, e)
			}
		case []interface{}:
			for i, e := range x {
				walk(path+"["+elemKey(e, i)+"]", e)
			}
		}
	}
	walk("", v)
	return out
}

// Lost returns the unknown members of before that are missing from after,
// or held by an element of another identity, among those whose element
// still exists in alive (the typed form of the expected result, encoded).
// Each entry says where the member was and where it is now.
func Lost(before, after, alive []byte) ([]string, error) {
	was, err := UnknownByIdentity(before)
	if err != nil {
		return nil, err
	}
	now, err := UnknownByIdentity(after)
	if err != nil {
		return nil, err
	}
	live := Identities(alive)
	var lost []string
	for _, key := range sortedStrings(was) {
		path := was[key]
		if live[path] && now[key] != path {
			lost = append(lost, fmt.Sprintf("%s of %s is now at %q", key, path, now[key]))
		}
	}
	return lost, nil
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
