package sidecar

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The API server's defaults (docs/defaults.md), one row per default: each
// element is defaulted as the API server stores it, a value already set
// is kept, and defaulting twice changes nothing more.

func i32(v int32) *int32   { return &v }
func i64(v int64) *int64   { return &v }
func str(s string) *string { return &s }
func boolp(b bool) *bool   { return &b }

// qty parses s and stores it as the API server does (its canonical form),
// so that cmp compares quantities by value and text.
func qty(s string) resource.Quantity {
	q := resource.MustParse(s)
	_ = q.String()
	return q
}

func TestDefaultContainer(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	httpGet := func(path string, scheme corev1.URIScheme) *corev1.HTTPGetAction {
		return &corev1.HTTPGetAction{Path: path, Scheme: scheme, Port: intstr.FromInt(8080)}
	}
	probe := func(h *corev1.HTTPGetAction, timeout, period, success, failure int32) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: h},
			TimeoutSeconds: timeout, PeriodSeconds: period, SuccessThreshold: success, FailureThreshold: failure}
	}
	grpc := func(service *string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090, Service: service}},
			TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
	}
	fieldEnv := func(name, apiVersion string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: apiVersion, FieldPath: "metadata.name"}}}
	}
	base := func() corev1.Container {
		return corev1.Container{Name: "c", Image: "i", TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile}
	}
	with := func(f func(c *corev1.Container)) corev1.Container {
		c := base()
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name        string
		in, want    corev1.Container
		hostNetwork bool
	}{
		{"termination message", corev1.Container{Name: "c", Image: "i"}, base(), false},
		{"termination message set", corev1.Container{Name: "c", Image: "i", TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError},
			corev1.Container{Name: "c", Image: "i", TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError}, false},
		{"ports", with(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: udp}, {ContainerPort: 81, HostPort: 9081}}
		}), with(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: tcp}, {ContainerPort: 53, Protocol: udp}, {ContainerPort: 81, HostPort: 9081, Protocol: tcp}}
		}), false},
		{"ports under hostNetwork", with(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 81, HostPort: 9081}}
		}), with(func(c *corev1.Container) {
			c.Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80, Protocol: tcp}, {ContainerPort: 81, HostPort: 9081, Protocol: tcp}}
		}), true},
		{"env", with(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "A", Value: "a"}, fieldEnv("B", ""), fieldEnv("C", "v2")}
		}), with(func(c *corev1.Container) {
			c.Env = []corev1.EnvVar{{Name: "A", Value: "a"}, fieldEnv("B", "v1"), fieldEnv("C", "v2")}
		}), false},
		{"resources", with(func(c *corev1.Container) {
			c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("128Mi"), "cpu": resource.MustParse("0.0001")}}
		}), with(func(c *corev1.Container) {
			c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": qty("128Mi"), "cpu": qty("1m")},
				Requests: corev1.ResourceList{"memory": qty("128Mi"), "cpu": qty("1m")}}
		}), false},
		{"probes", with(func(c *corev1.Container) {
			c.LivenessProbe = probe(httpGet("", ""), 0, 0, 0, 0)
			c.ReadinessProbe = probe(httpGet("/ready", corev1.URISchemeHTTPS), 5, 20, 2, 6)
			c.StartupProbe = grpc(nil)
		}), with(func(c *corev1.Container) {
			c.LivenessProbe = probe(httpGet("/", corev1.URISchemeHTTP), 1, 10, 1, 3)
			c.ReadinessProbe = probe(httpGet("/ready", corev1.URISchemeHTTPS), 5, 20, 2, 6)
			c.StartupProbe = grpc(str(""))
		}), false},
		{"readiness and startup probes alone", with(func(c *corev1.Container) {
			c.ReadinessProbe = probe(httpGet("", ""), 0, 0, 0, 0)
			c.StartupProbe = grpc(str("health"))
			c.StartupProbe.TimeoutSeconds, c.StartupProbe.PeriodSeconds, c.StartupProbe.SuccessThreshold, c.StartupProbe.FailureThreshold = 0, 0, 0, 0
		}), with(func(c *corev1.Container) {
			c.ReadinessProbe = probe(httpGet("/", corev1.URISchemeHTTP), 1, 10, 1, 3)
			c.StartupProbe = grpc(str("health"))
		}), false},
		{"lifecycle", with(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: httpGet("", "")}, PreStop: &corev1.LifecycleHandler{HTTPGet: httpGet("/drain", "")}}
		}), with(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{HTTPGet: httpGet("/", corev1.URISchemeHTTP)}, PreStop: &corev1.LifecycleHandler{HTTPGet: httpGet("/drain", corev1.URISchemeHTTP)}}
		}), false},
		{"preStop alone", with(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: httpGet("", "")}}
		}), with(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: httpGet("/", corev1.URISchemeHTTP)}}
		}), false},
		{"exec handlers", with(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}), with(func(c *corev1.Container) {
			c.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := *tc.in.DeepCopy()
			defaultContainer(&got, podDefaults{hostNetwork: tc.hostNetwork})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("defaultContainer (-want +got):\n%s", diff)
			}
			again := *got.DeepCopy()
			defaultContainer(&again, podDefaults{hostNetwork: tc.hostNetwork})
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("defaulting twice changes more (-once +twice):\n%s", diff)
			}
		})
	}
}

func TestDefaultResources(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want corev1.ResourceRequirements
	}{
		{"none", corev1.ResourceRequirements{}, corev1.ResourceRequirements{}},
		{"requests only, rounded up", corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("100u")}},
			corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": qty("1m")}}},
		{"limits become requests", corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": resource.MustParse("1500u"), "memory": resource.MustParse("1Gi")}},
			corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": qty("2m"), "memory": qty("1Gi")}, Requests: corev1.ResourceList{"cpu": qty("2m"), "memory": qty("1Gi")}}},
		{"a request is kept", corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": resource.MustParse("2"), "memory": resource.MustParse("1Gi")},
			Requests: corev1.ResourceList{"cpu": resource.MustParse("500m")}},
			corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": qty("2"), "memory": qty("1Gi")}, Requests: corev1.ResourceList{"cpu": qty("500m"), "memory": qty("1Gi")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := *tc.in.DeepCopy()
			defaultResources(&got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("defaultResources (-want +got):\n%s", diff)
			}
			// A derived request is a copy: changing the limit leaves it.
			if l, ok := got.Limits["cpu"]; ok {
				r := got.Requests["cpu"]
				l.Add(resource.MustParse("1"))
				got.Limits["cpu"] = l
				if !r.Equal(got.Requests["cpu"]) {
					t.Errorf("the request follows the limit: %v", got.Requests["cpu"])
				}
			}
		})
	}
}

func TestDefaultVolume(t *testing.T) {
	mode := i32(0o644)
	vol := func(s corev1.VolumeSource) corev1.Volume { return corev1.Volume{Name: "v", VolumeSource: s} }
	items := func(apiVersion string) []corev1.DownwardAPIVolumeFile {
		return []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{APIVersion: apiVersion, FieldPath: "metadata.name"}},
			{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}}
	}
	unset := corev1.HostPathUnset
	dir := corev1.HostPathDirectory
	rw, ro := corev1.AzureDataDiskCachingReadWrite, corev1.AzureDataDiskCachingReadOnly
	shared, managed := corev1.AzureSharedBlobDisk, corev1.AzureManagedDisk
	fs, block := corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock
	// The claim's resources are set member by member: their type changed
	// in k8s.io/api v0.29 (these tests also run against a current one).
	claim := func(m *corev1.PersistentVolumeMode, storage string) *corev1.EphemeralVolumeSource {
		e := &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{VolumeMode: m}}}
		e.VolumeClaimTemplate.Spec.Resources.Requests = corev1.ResourceList{"storage": resource.MustParse(storage)}
		e.VolumeClaimTemplate.Spec.Resources.Limits = corev1.ResourceList{"storage": resource.MustParse(storage)}
		return e
	}
	claimWant := func(m *corev1.PersistentVolumeMode, storage string) *corev1.EphemeralVolumeSource {
		e := &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{Spec: corev1.PersistentVolumeClaimSpec{VolumeMode: m}}}
		e.VolumeClaimTemplate.Spec.Resources.Requests = corev1.ResourceList{"storage": qty(storage)}
		e.VolumeClaimTemplate.Spec.Resources.Limits = corev1.ResourceList{"storage": qty(storage)}
		return e
	}
	for _, tc := range []struct {
		name     string
		in, want corev1.Volume
	}{
		{"no source", vol(corev1.VolumeSource{}), vol(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}})},
		{"emptyDir", vol(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: "Memory"}}), vol(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: "Memory"}})},
		{"hostPath", vol(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}), vol(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: &unset}})},
		{"hostPath with a type", vol(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: &dir}}), vol(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: &dir}})},
		{"secret", vol(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}), vol(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: mode}})},
		{"secret with a mode", vol(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: i32(0o400)}}), vol(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: i32(0o400)}})},
		{"configMap", vol(corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}), vol(corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{DefaultMode: mode}})},
		{"downwardAPI", vol(corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: items("")}}), vol(corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: items("v1"), DefaultMode: mode}})},
		{"downwardAPI with an apiVersion", vol(corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: items("v2")}}), vol(corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: items("v2"), DefaultMode: mode}})},
		{"projected", vol(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "other", ExpirationSeconds: i64(600)}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: items("")}},
			{ConfigMap: &corev1.ConfigMapProjection{}},
		}}}), vol(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: mode, Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: i64(3600)}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "other", ExpirationSeconds: i64(600)}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: items("v1")}},
			{ConfigMap: &corev1.ConfigMapProjection{}},
		}}})},
		{"iscsi", vol(corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "t"}}), vol(corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "t", ISCSIInterface: "default"}})},
		{"iscsi with an interface", vol(corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{ISCSIInterface: "tcp"}}), vol(corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{ISCSIInterface: "tcp"}})},
		{"rbd", vol(corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{RBDImage: "img"}}),
			vol(corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{RBDImage: "img", RBDPool: "rbd", RadosUser: "admin", Keyring: "/etc/ceph/keyring"}})},
		{"rbd set", vol(corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{RBDPool: "p", RadosUser: "u", Keyring: "/k"}}),
			vol(corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{RBDPool: "p", RadosUser: "u", Keyring: "/k"}})},
		{"azureDisk", vol(corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d"}}),
			vol(corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", CachingMode: &rw, FSType: str("ext4"), ReadOnly: boolp(false), Kind: &shared}})},
		{"azureDisk set", vol(corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{CachingMode: &ro, FSType: str("xfs"), ReadOnly: boolp(true), Kind: &managed}}),
			vol(corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{CachingMode: &ro, FSType: str("xfs"), ReadOnly: boolp(true), Kind: &managed}})},
		{"scaleIO", vol(corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{System: "s"}}),
			vol(corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{System: "s", StorageMode: "ThinProvisioned", FSType: "xfs"}})},
		{"scaleIO set", vol(corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{StorageMode: "ThickProvisioned", FSType: "ext4"}}),
			vol(corev1.VolumeSource{ScaleIO: &corev1.ScaleIOVolumeSource{StorageMode: "ThickProvisioned", FSType: "ext4"}})},
		{"ephemeral", vol(corev1.VolumeSource{Ephemeral: claim(nil, "1500m")}), vol(corev1.VolumeSource{Ephemeral: claimWant(&fs, "1500m")})},
		{"ephemeral rounded", vol(corev1.VolumeSource{Ephemeral: claim(&block, "100u")}), vol(corev1.VolumeSource{Ephemeral: claimWant(&block, "1m")})},
		{"ephemeral without a template", vol(corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}), vol(corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := *tc.in.DeepCopy()
			defaultVolume(&got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("defaultVolume (-want +got):\n%s", diff)
			}
			// What is defaulted is what the API server stores: the stored
			// form is the same volume, with the same digest and target.
			if !sameVolume(&tc.in, &tc.want) || volumeDigest(&tc.in) != volumeDigest(&tc.want) {
				t.Errorf("the volume and its stored form differ (same %v)", sameVolume(&tc.in, &tc.want))
			}
			if target := volumeTarget(&tc.in); !cmp.Equal(target, tc.want) {
				t.Errorf("volumeTarget (-want +got):\n%s", cmp.Diff(tc.want, target))
			}
		})
	}
}

func TestDefaultEnv(t *testing.T) {
	ref := func(apiVersion string) corev1.EnvVar {
		return corev1.EnvVar{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: apiVersion, FieldPath: "metadata.name"}}}
	}
	key := corev1.EnvVar{Name: "K", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}}
	for _, tc := range []struct {
		name     string
		in, want corev1.EnvVar
	}{
		{"value", corev1.EnvVar{Name: "A", Value: "a"}, corev1.EnvVar{Name: "A", Value: "a"}},
		{"fieldRef", ref(""), ref("v1")},
		{"fieldRef with an apiVersion", ref("v2"), ref("v2")},
		{"secretKeyRef", key, key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := *tc.in.DeepCopy()
			defaultEnv(&got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("defaultEnv (-want +got):\n%s", diff)
			}
			if target := envTarget(&tc.in); !cmp.Equal(target, tc.want) {
				t.Errorf("envTarget (-want +got):\n%s", cmp.Diff(tc.want, target))
			}
			if !sameEnv(&tc.in, &tc.want) || envDigest(&tc.in) != envDigest(&tc.want) {
				t.Errorf("the env var and its stored form differ")
			}
		})
	}
}

// TestPullPolicyDefault: the tag ParseImageName gives, and the pull policy
// the API server derives from it.
func TestPullPolicyDefault(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		image, tag string
	}{
		{"nginx", "latest"},
		{"nginx:latest", "latest"},
		{"nginx:1.25", "1.25"},
		{"nginx:V1", "V1"},
		{"library/nginx:1", "1"},
		{"registry.example/proxy:2", "2"},
		{"registry.example:5000/team/proxy", "latest"},
		{"localhost:5000/proxy:dev", "dev"},
		{"localhost/proxy", "latest"},
		{"Registry.Example/proxy:3", "3"},
		{"REGISTRY/proxy:4", "4"},
		{"nginx@" + digest, ""},
		{"nginx:1.25@" + digest, "1.25"},
		{"registry.example/proxy@" + digest, ""},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", ""},
		{"Nginx", ""},
		{"team/Proxy:1", ""},
		{"a_b/c:1", "1"},
		{"nginx:", ""},
		{"nginx:-bad", ""},
		{"", ""},
		{"[::1]:5000/proxy:v6", "v6"},
		// Parse's limit of 255 characters on the repository path, Docker
		// Hub's one-element names counted in "library/".
		{strings.Repeat("a", 247), "latest"},
		{strings.Repeat("a", 248), ""},
		{"index.docker.io/" + strings.Repeat("a", 248) + ":1", ""},
		{"docker.io/team/" + strings.Repeat("a", 250), "latest"},
		{"team/" + strings.Repeat("a", 250), "latest"},
		{"team/" + strings.Repeat("a", 251), ""},
		{"localhost/" + strings.Repeat("a", 255) + ":1", "1"},
		{"registry.example/" + strings.Repeat("a", 255) + ":1", "1"},
		{"registry.example/" + strings.Repeat("a", 256) + ":1", ""},
		// Digests go-digest verifies: sha256, sha384, sha512, of their
		// length, in lowercase hex.
		{"nginx:1@sha384:" + strings.Repeat("0a", 48), "1"},
		{"nginx:1@sha512:" + strings.Repeat("0a", 64), "1"},
		{"nginx:1@sha256:" + strings.Repeat("0a", 16), ""},
		{"nginx:1@sha512:" + strings.Repeat("0a", 32), ""},
		{"nginx:1@sha256:" + strings.Repeat("0A", 32), ""},
		{"nginx:1@sha256:" + strings.Repeat("0g", 32), ""},
		{"nginx:1@md5:" + strings.Repeat("0a", 16), ""},
		{"nginx:latest@sha256:" + strings.Repeat("ab", 33), ""},
		// The bound on the work: 4096 bytes (here a long domain, which
		// Parse does not limit).
		{strings.Repeat("a", 4084) + ".example/p:1", "1"},
		{strings.Repeat("a", 4085) + ".example/p:1", ""},
	} {
		name := tc.image
		if len(name) > 40 {
			name = fmt.Sprintf("%.30s...(%d bytes)", name, len(name))
		}
		t.Run(name, func(t *testing.T) {
			if got := imageTag(tc.image); got != tc.tag {
				t.Errorf("imageTag(%.40q) = %q, want %q", tc.image, got, tc.tag)
			}
			want := corev1.PullIfNotPresent
			if tc.tag == "latest" {
				want = corev1.PullAlways
			}
			if got := pullPolicyDefault(tc.image); got != want {
				t.Errorf("pullPolicyDefault(%.40q) = %s, want %s", tc.image, got, want)
			}
		})
	}
}
