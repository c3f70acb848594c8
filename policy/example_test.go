package policy_test

import (
	"fmt"

	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Compile a plain container into the policies that inject it natively
// into Pods, and list the objects to apply.
func ExampleCompile() {
	s, err := sidecar.LoadSpec([]byte(`
name: proxy
image: registry.example/mesh/proxy:1.9
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := policy.Compile(s, policy.Options{Mode: sidecar.Native, ExcludeNamespaces: []string{"kube-system"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	objs, err := set.Objects()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range objs {
		gvk := o.GetObjectKind().GroupVersionKind()
		fmt.Println(gvk.GroupVersion(), gvk.Kind)
	}
	fmt.Println(set.Mutating[0].Name, set.Mutating[0].Spec.ReinvocationPolicy)
	_, err = policy.Compile(s, policy.Options{Mode: sidecar.Universal})
	fmt.Println(err == policy.ErrUniversal)
	// Output:
	// admissionregistration.k8s.io/v1 MutatingAdmissionPolicy
	// admissionregistration.k8s.io/v1 MutatingAdmissionPolicyBinding
	// admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy
	// admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding
	// sidecarkit-proxy IfNeeded
	// true
}
