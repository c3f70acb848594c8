package universal_test

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// Where the weakest node strips restartPolicy (kubelet 1.27 or older),
// Auto injects the universal pair when Options.Universal holds a Planner:
// the native twin first among the init containers, the legacy twin among
// the containers, both wrapped by the handshake found in the image.
func ExamplePlanner() {
	obj, _ := patch.Decode([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
"spec":{"initContainers":[{"name":"migrate","image":"migrate:1"}],"containers":[{"name":"app","image":"nginx"}]}}`))
	spec := sidecar.Spec{Container: corev1.Container{
		Name: "proxy", Image: "registry.example/proxy:2",
		Command: []string{"/proxy"}, Args: []string{"--listen=:15001"},
	}}
	planner := universal.Planner{Handshake: []string{"/usr/local/bin/sidecarctl", "handshake"}}
	strips := compat.Capability{Kubelet: compat.KubeletStrips, APIServer: compat.APIServerStores}
	res, err := sidecar.Inject(obj.Meta, obj.Spec, spec, strips, sidecar.Options{Universal: planner})
	if err != nil {
		panic(err)
	}
	_, after := res.Mutation.Result()
	runs := func(c corev1.Container) string {
		if len(c.Command) == 0 {
			return "the entrypoint of " + c.Image
		}
		return strings.Join(append(c.Command, c.Args...), " ")
	}
	fmt.Println("mode:", res.Mode)
	for _, c := range after.InitContainers {
		fmt.Printf("init %s: %s\n", c.Name, runs(c))
	}
	for _, c := range after.Containers {
		fmt.Printf("container %s: %s\n", c.Name, runs(c))
	}
	fmt.Println("native startup probe:", strings.Join(after.InitContainers[0].StartupProbe.Exec.Command, " "))
	// Output:
	// mode: universal
	// init proxy: /usr/local/bin/sidecarctl handshake --role=native --dir=/sidecarkit/handshake -- /proxy --listen=:15001
	// init migrate: the entrypoint of migrate:1
	// container proxy-legacy: /usr/local/bin/sidecarctl handshake --role=legacy --dir=/sidecarkit/handshake -- /proxy --listen=:15001
	// container app: the entrypoint of nginx
	// native startup probe: /usr/local/bin/sidecarctl handshake probe --role=native --dir=/sidecarkit/handshake --type=startup
}
