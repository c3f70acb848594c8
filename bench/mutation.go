package bench

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// The names the mutation uses.
const (
	SidecarName = "proxy"
	VolumeName  = "proxy-socket"
	MountPath   = "/var/run/proxy"
)

// Spec returns the sidecar the benchmarks inject: a proxy with ports,
// probes, resources, env and a security context, an emptyDir volume it
// shares with every application container.
func Spec() sidecar.Spec {
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(15021)}},
			PeriodSeconds: 2, FailureThreshold: 30,
		}
	}
	no := false
	uid := int64(1337)
	return sidecar.Spec{
		Container: corev1.Container{
			Name:  SidecarName,
			Image: "registry.example/mesh/proxy:1.26.3",
			Args:  []string{"proxy", "sidecar", "--concurrency=2", "--log-level=warning"},
			Ports: []corev1.ContainerPort{{Name: "proxy-admin", ContainerPort: 15000, Protocol: corev1.ProtocolTCP}, {Name: "proxy-health", ContainerPort: 15021, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
			},
			VolumeMounts:    []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath}},
			ReadinessProbe:  probe("/healthz/ready"),
			StartupProbe:    probe("/healthz/started"),
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, RunAsUser: &uid, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		},
		Volumes:   []corev1.Volume{{Name: VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}},
		AppMounts: []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath}},
	}
}

// Capability is a cluster whose API server and nodes all run native
// sidecars, so that Inject (mode Auto) chooses Native.
func Capability() compat.Capability {
	return compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
}

// planRecord is the record annotation Inject writes for Spec in native
// mode: it depends only on the spec and the mode (the record holds digests
// of what it adds, the same for every application container), so a peer
// webhook computes it once.
var planRecord = func() string {
	meta := &metav1.ObjectMeta{}
	res, err := sidecar.Inject(meta, &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}}}, Spec(), Capability(), sidecar.Options{})
	if err != nil {
		return "error: " + err.Error()
	}
	after, _ := res.Mutation.Result()
	return after.Annotations[sidecar.Annotation(SidecarName)]
}()

// requestedRecord is planRecord for the mode set in Options instead of
// chosen from the capability (AdmissionLean): only its reason differs.
var requestedRecord = func() string {
	meta := &metav1.ObjectMeta{}
	res, err := sidecar.Inject(meta, &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}}}, Spec(), compat.Capability{}, sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		return "error: " + err.Error()
	}
	after, _ := res.Mutation.Result()
	return after.Annotations[sidecar.Annotation(SidecarName)]
}()

// record returns the annotation value Inject writes for spec, built the way
// a peer webhook builds its status annotation.
func record(*corev1.PodSpec) string { return planRecord }

// mutateTyped makes the mutation on a typed Pod in place, the way a webhook
// that edits the typed object does.
func mutateTyped(meta *metav1.ObjectMeta, spec *corev1.PodSpec, s *sidecar.Spec) {
	c := *s.Container.DeepCopy()
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	spec.InitContainers = append([]corev1.Container{c}, spec.InitContainers...)
	for i := range s.Volumes {
		spec.Volumes = append(spec.Volumes, *s.Volumes[i].DeepCopy())
	}
	for i := range spec.Containers {
		spec.Containers[i].VolumeMounts = append(spec.Containers[i].VolumeMounts, s.AppMounts...)
	}
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[sidecar.Annotation(SidecarName)] = record(spec)
}
