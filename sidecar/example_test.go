package sidecar_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

const examplePod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},
"spec":{"initContainers":[{"name":"migrate","image":"migrate:1"}],
"containers":[{"name":"app","image":"nginx"}]}}`

func exampleSpec() sidecar.Spec {
	s, err := sidecar.LoadSpec([]byte(`
name: proxy
image: registry.example/proxy:2
ports: [{name: proxy, containerPort: 15001}]
`))
	if err != nil {
		panic(err)
	}
	return s
}

func printOps(m *patch.Mutation, root patch.Root) {
	ops, err := m.JSONPatch(root)
	if err != nil {
		panic(err)
	}
	for _, op := range ops {
		v := string(op.Value)
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		fmt.Println(strings.TrimSpace(op.Op + " " + op.Path + " " + v))
	}
}

// On a cluster whose nodes all run native sidecars, Auto injects the sidecar
// as the first init container, so that it starts before "migrate".
func ExampleInject() {
	obj, _ := patch.Decode([]byte(examplePod))
	c := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	res, err := sidecar.Inject(obj.Meta, obj.Spec, exampleSpec(), c, sidecar.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println("mode:", res.Mode)
	printOps(res.Mutation, obj.Root)
	// Output:
	// mode: native
	// add /spec/initContainers/0 {"name":"proxy","image":"registry.example/proxy:2","ports...
	// add /metadata/annotations {"sidecar.sidecarkit.io/proxy":"{\"v\":2,\"mode\":\"nativ...
}

// When the API server drops restartPolicy on init containers (the
// SidecarContainers gate is off), Auto injects a regular container. Placed
// first, it would become what kubectl logs and exec pick, so the Pod gets
// kubectl.kubernetes.io/default-container naming its application.
func ExampleInject_legacy() {
	obj, _ := patch.Decode([]byte(examplePod))
	c := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerDrops}
	res, _ := sidecar.Inject(obj.Meta, obj.Spec, exampleSpec(), c, sidecar.Options{})
	fmt.Println("mode:", res.Mode)
	printOps(res.Mutation, obj.Root)
	// Output:
	// mode: legacy
	// add /spec/containers/0 {"name":"proxy","image":"registry.example/proxy:2","ports...
	// add /metadata/annotations {"kubectl.kubernetes.io/default-container":"app"}
	// add /metadata/annotations/sidecar.sidecarkit.io~1proxy "{\"v\":2,\"mode\":\"legacy\",\"reason\":\"apiserver-drop...
}

// Where some nodes reject native sidecars, Pinned injects natively and keeps
// the Pod on nodes labelled native-capable.
func ExampleInject_pinned() {
	obj, _ := patch.Decode([]byte(examplePod))
	res, _ := sidecar.Inject(obj.Meta, obj.Spec, exampleSpec(), compat.Capability{}, sidecar.Options{Mode: sidecar.Pinned})
	printOps(res.Mutation, obj.Root)
	// Output:
	// add /spec/initContainers/0 {"name":"proxy","image":"registry.example/proxy:2","ports...
	// add /spec/affinity {"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringEx...
	// add /metadata/annotations {"sidecar.sidecarkit.io/proxy":"{\"v\":2,\"mode\":\"pinne...
}

// Injecting into a Pod that already has the same sidecar changes nothing,
// as a webhook with reinvocationPolicy IfNeeded needs.
func ExampleInject_idempotent() {
	obj, _ := patch.Decode([]byte(examplePod))
	c := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	first, _ := sidecar.Inject(obj.Meta, obj.Spec, exampleSpec(), c, sidecar.Options{})
	meta, spec := first.Mutation.Result()
	again, _ := sidecar.Inject(meta, spec, exampleSpec(), c, sidecar.Options{})
	fmt.Println(again.Skipped, again.Mutation.Empty())
	// Output:
	// AlreadyInjected true
}

// Uninject removes exactly what Inject added.
func ExampleUninject() {
	obj, _ := patch.Decode([]byte(examplePod))
	res, _ := sidecar.Inject(obj.Meta, obj.Spec, exampleSpec(), compat.Capability{}, sidecar.Options{Mode: sidecar.Native})
	meta, spec := res.Mutation.Result()
	m, err := sidecar.Uninject(meta, spec, "proxy")
	if err != nil {
		panic(err)
	}
	printOps(m, patch.PodRoot)
	// Output:
	// remove /spec/initContainers/0
	// remove /metadata/annotations/sidecar.sidecarkit.io~1proxy
}

// Migrate turns a hand-written legacy sidecar into a native one with an
// RFC 6902 move, which keeps every raw field of the container.
func ExampleMigrate() {
	obj, _ := patch.Decode([]byte(`{"kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[
		{"name":"app","image":"nginx"},{"name":"log-shipper","image":"shipper:1","x-newer-field":1}]}}`))
	m, err := sidecar.Migrate(obj.Meta, obj.Spec, "log-shipper", sidecar.Native, sidecar.Placement{})
	if err != nil {
		panic(err)
	}
	ops, _ := m.JSONPatch(obj.Root)
	b, _ := json.Marshal(ops)
	fmt.Println(string(b))
	// Output:
	// [{"op":"add","path":"/spec/initContainers","value":[]},{"op":"move","from":"/spec/containers/1","path":"/spec/initContainers/0"},{"op":"add","path":"/spec/initContainers/0/restartPolicy","value":"Always"}]
}

// PodResources shows what a native sidecar costs: it adds to the steady
// state and to every init container that starts after it.
func ExamplePodResources() {
	always := corev1.ContainerRestartPolicyAlways
	req := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQuantity(cpu)}}
	}
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "proxy", RestartPolicy: &always, Resources: req("100m")},
			{Name: "migrate", Resources: req("2")},
		},
		Containers: []corev1.Container{{Name: "app", Resources: req("500m")}},
	}
	r := sidecar.PodResources(spec, nil)
	cpu := r.Requests[corev1.ResourceCPU]
	fmt.Println(cpu.String())
	// Output:
	// 2100m
}

// A webhook prepares the Spec once with NewInjector and injects it into
// every Pod it admits; MarshalJSONPatch gives the patch bytes of the
// admission response.
func ExampleInjector() {
	in, err := sidecar.NewInjector(exampleSpec())
	if err != nil {
		panic(err)
	}
	c := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	for _, pod := range []string{examplePod, `{"kind":"Pod","metadata":{"name":"batch"},"spec":{"containers":[{"name":"job","image":"busybox"}]}}`} {
		obj, _ := patch.Decode([]byte(pod))
		res, err := in.Inject(context.Background(), obj.Meta, obj.Spec, c, sidecar.Options{})
		if err != nil {
			panic(err)
		}
		p, _ := res.Mutation.MarshalJSONPatch(obj.Root)
		var ops []struct{ Op, Path string }
		_ = json.Unmarshal(p, &ops)
		fmt.Println(obj.Name+":", ops)
	}
	// Output:
	// web: [{add /spec/initContainers/0} {add /metadata/annotations}]
	// batch: [{add /spec/initContainers} {add /metadata/annotations}]
}

// The mode Auto chooses where some node a Pod may land on runs a kubelet
// older than 1.28 (it ignores restartPolicy on init containers), under
// three mode policies.
func ExampleRecommend() {
	api, _ := compat.ParseAPIServerVersion("v1.31.2")
	old, _ := compat.ParseKubeletVersion("v1.27.16")
	c := api.Override(old)
	for _, o := range []sidecar.Options{{}, {AllowPinned: true}, {Mode: sidecar.Native}} {
		r, err := sidecar.Recommend(c, o)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s (code %q, %d warnings)\n", r.Mode, r.Code, len(r.Warnings))
	}
	// Output:
	// legacy (code "node-strips", 0 warnings)
	// pinned (code "node-strips", 1 warnings)
	// native (code "", 1 warnings)
}

// An operator injects into a workload's pod template and patches the live
// object: the Result's Mutation renders for the Deployment (its pod spec
// is at /spec/template/spec), with the resourceVersion it read as the
// precondition.
func ExampleInjector_InjectObject() {
	in, err := sidecar.NewInjector(exampleSpec())
	if err != nil {
		panic(err)
	}
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","resourceVersion":"7"},
"spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`
	obj, err := patch.DecodeAs([]byte(deploy), "Deployment")
	if err != nil {
		panic(err)
	}
	c, _ := in.Capability(compat.Cluster{APIServerVersion: "v1.33.1"}, obj) // no Node objects: the kubelets are Unknown
	res, err := in.InjectObject(context.Background(), obj, c, sidecar.Options{Fallback: sidecar.Legacy})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Mode, res.Code)
	ops, _ := res.Mutation.JSONPatch(patch.ResourceVersion(obj.ResourceVersion))
	for _, op := range ops {
		if op.Op == "test" {
			fmt.Println(op.Op, op.Path, string(op.Value))
			continue
		}
		fmt.Println(op.Op, op.Path)
	}
	// Output:
	// legacy kubelet-unknown
	// test /metadata/resourceVersion "7"
	// add /spec/template/spec/containers/0
	// add /spec/template/metadata/annotations
	// add /spec/template/metadata/annotations/sidecar.sidecarkit.io~1proxy
}
