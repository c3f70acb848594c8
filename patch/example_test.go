package patch_test

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// A webhook decodes the raw Pod, records typed edits and answers with
// operations against the raw object: the field unknown to the compiled API
// types ("x-newer-field") is never touched.
func ExampleMutation_JSONPatch() {
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
		"spec":{"initContainers":[{"name":"setup","image":"busybox","x-newer-field":true}],
		"containers":[{"name":"app","image":"nginx"}]}}`)
	obj, err := patch.Decode(raw)
	if err != nil {
		panic(err)
	}
	m := obj.Mutation()
	always := corev1.ContainerRestartPolicyAlways
	if err := m.InsertContainer(patch.InitContainers, 0, corev1.Container{
		Name: "proxy", Image: "proxy:1", RestartPolicy: &always,
	}); err != nil {
		panic(err)
	}
	if err := m.SetAnnotation("sidecarkit.io/injected", "proxy"); err != nil {
		panic(err)
	}
	ops, err := m.JSONPatch(obj.Root)
	if err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(ops, "", "  ")
	fmt.Println(string(out))
	// Output:
	// [
	//   {
	//     "op": "add",
	//     "path": "/spec/initContainers/0",
	//     "value": {
	//       "name": "proxy",
	//       "image": "proxy:1",
	//       "restartPolicy": "Always"
	//     }
	//   },
	//   {
	//     "op": "add",
	//     "path": "/metadata/annotations",
	//     "value": {
	//       "sidecarkit.io/injected": "proxy"
	//     }
	//   }
	// ]
}

// Moving a container between lists renders as an RFC 6902 move, so the raw
// element keeps every field, known or not.
func ExampleMutation_MoveContainer() {
	raw := []byte(`{"kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[
		{"name":"proxy","image":"proxy:1","x-newer-field":{"keep":true}},
		{"name":"app","image":"nginx"}]}}`)
	obj, _ := patch.Decode(raw)
	m := obj.Mutation()
	if err := m.MoveContainer(patch.Containers, "proxy", patch.InitContainers, 0); err != nil {
		panic(err)
	}
	if err := m.SetContainerField(patch.InitContainers, "proxy", "restartPolicy", "Always"); err != nil {
		panic(err)
	}
	ops, _ := m.JSONPatch(obj.Root)
	b, _ := json.Marshal(ops)
	fmt.Println(string(b))
	// Output:
	// [{"op":"add","path":"/spec/initContainers","value":[]},{"op":"move","from":"/spec/containers/0","path":"/spec/initContainers/0"},{"op":"add","path":"/spec/initContainers/0/restartPolicy","value":"Always"}]
}

// Diff turns a change made on typed objects into keyed, field-level
// operations: the reordering is one move of a raw element (never a rebuild),
// and the changed image is the only value written.
func ExampleDiff() {
	before := &corev1.PodSpec{InitContainers: []corev1.Container{
		{Name: "setup", Image: "busybox"},
		{Name: "proxy", Image: "proxy:1"},
	}}
	after := before.DeepCopy()
	after.InitContainers[0], after.InitContainers[1] = after.InitContainers[1], after.InitContainers[0]
	after.InitContainers[0].Image = "proxy:2"
	m, err := patch.Diff(before, after)
	if err != nil {
		panic(err)
	}
	ops, _ := m.JSONPatch(patch.PodRoot)
	b, _ := json.Marshal(ops)
	fmt.Println(string(b))
	// Output:
	// [{"op":"add","path":"/spec/initContainers/1/image","value":"proxy:2"},{"op":"move","from":"/spec/initContainers/0","path":"/spec/initContainers/1"}]
}

// Operators patch workload templates with a strategic merge patch, whose
// $setElementOrder directive keeps the sidecar first.
func ExampleMutation_StrategicMerge() {
	raw := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
		"spec":{"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"initContainers":[{"name":"setup","image":"busybox"}],"containers":[{"name":"app","image":"nginx"}]}}}}`)
	obj, _ := patch.Decode(raw)
	m := obj.Mutation()
	always := corev1.ContainerRestartPolicyAlways
	_ = m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "proxy", Image: "proxy:1", RestartPolicy: &always})
	smp, err := m.StrategicMerge(obj.Root)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(smp))
	// Output:
	// {"spec":{"template":{"spec":{"$setElementOrder/initContainers":[{"name":"proxy"},{"name":"setup"}],"initContainers":[{"image":"proxy:1","name":"proxy","restartPolicy":"Always"}]}}}}
}

// An injector that adds the same container and volume to every Pod
// encodes them once, when it starts, and inserts the encodings into each
// Pod's mutation.
func ExampleEncodeVolume() {
	always := corev1.ContainerRestartPolicyAlways
	proxy, err := patch.EncodeContainer(corev1.Container{Name: "proxy", Image: "proxy:1", RestartPolicy: &always,
		VolumeMounts: []corev1.VolumeMount{{Name: "proxy-socket", MountPath: "/var/run/proxy"}}})
	if err != nil {
		panic(err)
	}
	socket, err := patch.EncodeVolume(corev1.Volume{Name: "proxy-socket",
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	if err != nil {
		panic(err)
	}
	for _, raw := range []string{
		`{"kind":"Pod","spec":{"containers":[{"name":"app"}]}}`,
		`{"kind":"Pod","spec":{"containers":[{"name":"web"}],"volumes":[{"name":"data","emptyDir":{}}]}}`,
	} {
		obj, err := patch.Decode([]byte(raw))
		if err != nil {
			panic(err)
		}
		m := obj.Mutation()
		if err := m.InsertEncoded(patch.InitContainers, 0, proxy); err != nil {
			panic(err)
		}
		if err := m.AddEncodedVolume(socket); err != nil {
			panic(err)
		}
		out, err := m.MarshalJSONPatch()
		if err != nil {
			panic(err)
		}
		fmt.Println(string(out))
	}
	// Output:
	// [{"op":"add","path":"/spec/initContainers","value":[{"name":"proxy","image":"proxy:1","restartPolicy":"Always","volumeMounts":[{"name":"proxy-socket","mountPath":"/var/run/proxy"}]}]},{"op":"add","path":"/spec/volumes","value":[{"name":"proxy-socket","emptyDir":{}}]}]
	// [{"op":"add","path":"/spec/initContainers","value":[{"name":"proxy","image":"proxy:1","restartPolicy":"Always","volumeMounts":[{"name":"proxy-socket","mountPath":"/var/run/proxy"}]}]},{"op":"add","path":"/spec/volumes/-","value":{"name":"proxy-socket","emptyDir":{}}}]
}
