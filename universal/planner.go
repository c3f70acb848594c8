package universal

import (
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"

	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Planner builds the universal pair from a sidecar Spec. It implements
// sidecar.Planner: pass it as sidecar.Options.Universal, and sidecar.Inject
// places the pair, records it in the Pod's annotation, keeps the injection
// idempotent and validates the result.
//
// The zero Planner is not usable: set Handshake, or Copier.
type Planner struct {
	// Handshake is how the twins run the handshake runner found in the
	// sidecar image: the executable and the arguments that select its
	// handshake command, for example
	// ["/usr/local/bin/sidecarctl", "handshake"]. Leave it empty with
	// Copier.
	Handshake []string
	// Copier, when set, adds an init container, placed just before the
	// native twin, that copies the handshake binary from a small image
	// into the handshake volume, where the twins run it.
	Copier *Copier
	// MountPath is where the twins (and the copier) mount the handshake
	// volume. Defaults to DefaultMountPath.
	MountPath string
	// ConfirmTimeout is how long a restarted native twin waits for the
	// kubelet's startup probe. Defaults to DefaultConfirmTimeout; it must
	// cover three periods of the native twin's startup probe.
	ConfirmTimeout time.Duration
}

// Copier describes the init container that copies the handshake binary
// into the handshake volume.
type Copier struct {
	// Image holds the handshake binary.
	Image string
	// Handshake is how the handshake runner is run in Image, for example
	// ["/sidecarctl", "handshake"]. The copier runs Handshake followed by
	// "install --to=<MountPath>/bin/handshake"; the twins run the copy
	// followed by Handshake[1:].
	Handshake       []string
	ImagePullPolicy corev1.PullPolicy
	Resources       corev1.ResourceRequirements
	// SecurityContext defaults to the sidecar's.
	SecurityContext *corev1.SecurityContext
}

var _ sidecar.Planner = Planner{}

// LegacyName returns the legacy twin's name: "<name>-legacy". The native
// twin keeps the sidecar's own name (see the package documentation).
func LegacyName(name string) string { return name + "-legacy" }

// volumeName returns the handshake volume's name: "<name>-handshake".
func volumeName(name string) string { return name + "-handshake" }

// copierName returns the copier init container's name: "<name>-install".
func copierName(name string) string { return name + "-install" }

// Plan builds the pair; see the package documentation for what each twin
// gets and why. Errors start with "universal: plan" and say what to
// change.
func (p Planner) Plan(s sidecar.Spec, pod *corev1.PodSpec) (sidecar.Plan, error) {
	c := s.Container
	b := &builder{p: p, c: &c, mount: p.MountPath, timeout: p.ConfirmTimeout}
	if b.mount == "" {
		b.mount = DefaultMountPath
	}
	if b.timeout == 0 {
		b.timeout = DefaultConfirmTimeout
	}
	if err := b.check(&s); err != nil {
		return sidecar.Plan{}, fmt.Errorf("universal: plan %q: %w", c.Name, err)
	}
	if err := b.identity(pod); err != nil {
		return sidecar.Plan{}, fmt.Errorf("universal: plan %q: %w", c.Name, err)
	}
	policy := corev1.RestartPolicyAlways
	if pod != nil && pod.RestartPolicy != "" {
		policy = pod.RestartPolicy
	}
	native, err := b.twin(protocol.Native, policy)
	if err != nil {
		return sidecar.Plan{}, fmt.Errorf("universal: plan %q: native twin: %w", c.Name, err)
	}
	legacy, err := b.twin(protocol.Legacy, policy)
	if err != nil {
		return sidecar.Plan{}, fmt.Errorf("universal: plan %q: legacy twin: %w", c.Name, err)
	}
	plan := sidecar.Plan{
		InitContainers: []corev1.Container{native},
		Containers:     []corev1.Container{legacy},
		Volumes:        append(append([]corev1.Volume(nil), s.Volumes...), corev1.Volume{Name: volumeName(c.Name), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}),
		AppMounts:      s.AppMounts,
		AppEnv:         s.AppEnv,
		Placement:      s.Placement,
		// The legacy twin goes where a legacy sidecar would.
		ContainerPlacement: sidecar.LegacyPlacement(s.Placement, pod),
		Warnings:           warnings(&c, policy),
	}
	if p.Copier != nil {
		plan.InitContainers = append([]corev1.Container{b.copier()}, plan.InitContainers...)
	}
	return plan, nil
}

// builder builds the twins of one Spec.
type builder struct {
	p       Planner
	c       *corev1.Container
	mount   string
	timeout time.Duration
	// token is the sandbox token's directory (hostNetwork Pods), or "".
	token string
}

// sandboxTokenDir is where the twins of a hostNetwork Pod keep the
// sandbox token that tells the Pod's sandboxes apart: the sandbox's own
// shared memory mount, which every container of the sandbox shares and
// a re-created sandbox gets anew (docs/universal.md, "Sandbox identity").
const sandboxTokenDir = "/dev/shm"

// identity chooses how the twins tell the Pod's sandboxes apart. The
// network namespace (and its cookie) of a hostNetwork Pod is the node's,
// the same for every sandbox: such a Pod's twins add the sandbox token in
// sandboxTokenDir to the identity. A Pod with hostIPC as well shares the
// node's /dev/shm too: nothing the twins can read tells its sandboxes
// apart, so the Planner refuses it.
func (b *builder) identity(pod *corev1.PodSpec) error {
	if pod == nil || !pod.HostNetwork {
		return nil
	}
	if pod.HostIPC {
		return fmt.Errorf("spec.hostIPC: a Pod with hostNetwork and hostIPC shares the node's network and IPC namespaces and %s, so the twins cannot tell one of its sandboxes from the next (docs/universal.md); drop hostIPC, or inject a native or a legacy sidecar instead of the universal pair", sandboxTokenDir)
	}
	for i, m := range b.c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if mp == sandboxTokenDir || strings.HasPrefix(sandboxTokenDir, strings.TrimSuffix(mp, "/")+"/") {
			return fmt.Errorf("volumeMounts[%d].mountPath: %q covers %s, where the twins of a hostNetwork Pod keep the sandbox token (docs/universal.md); remove the mount, or inject a native or a legacy sidecar instead of the universal pair", i, m.MountPath, sandboxTokenDir)
		}
	}
	b.token = sandboxTokenDir
	return nil
}

// check refuses what the pair cannot do, with the reason.
func (b *builder) check(s *sidecar.Spec) error {
	p, c := &b.p, b.c
	switch {
	case p.Copier == nil && len(p.Handshake) == 0:
		return fmt.Errorf("Planner.Handshake is empty: say how the twins run the handshake binary of the sidecar image, or set Planner.Copier")
	case p.Copier != nil && len(p.Handshake) > 0:
		return fmt.Errorf("set Planner.Handshake or Planner.Copier, not both")
	case p.Copier != nil && (p.Copier.Image == "" || len(p.Copier.Handshake) == 0):
		return fmt.Errorf("Planner.Copier needs an Image and the Handshake command that runs in it")
	case !path.IsAbs(b.mount) || path.Clean(b.mount) != b.mount || b.mount == "/":
		return fmt.Errorf("Planner.MountPath %q: want a clean absolute path other than /", b.mount)
	case b.timeout < 0:
		return fmt.Errorf("Planner.ConfirmTimeout %v is negative", b.timeout)
	case len(c.Command) == 0:
		return fmt.Errorf("the sidecar has no command: the handshake execs the sidecar's command and arguments once it decides, and a webhook cannot read an image's entrypoint; set container.command")
	case c.TerminationMessagePath != "" && !path.IsAbs(c.TerminationMessagePath):
		return fmt.Errorf("terminationMessagePath %q: want an absolute path (a twin that cannot decide writes why there)", c.TerminationMessagePath)
	case c.Lifecycle != nil && c.Lifecycle.PostStart != nil:
		return fmt.Errorf("lifecycle.postStart runs before the handshake decides which twin acts (and would hold a native twin's first run); use a startupProbe")
	}
	for _, n := range []string{LegacyName(c.Name), volumeName(c.Name), copierName(c.Name)} {
		if msgs := validation.IsDNS1123Label(n); len(msgs) > 0 {
			return fmt.Errorf("derived name %q: %s; shorten the sidecar's name", n, msgs[0])
		}
	}
	for _, e := range c.Env {
		switch e.Name {
		case protocol.EnvRole, protocol.EnvDir, protocol.EnvRestartPolicy, protocol.EnvPodIP:
			return fmt.Errorf("env %s is set by the Planner", e.Name)
		}
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == b.mount || strings.HasPrefix(b.mount, strings.TrimSuffix(m.MountPath, "/")+"/") || strings.HasPrefix(m.MountPath, b.mount+"/") {
			return fmt.Errorf("volumeMount %q overlaps the handshake volume's mount path %s; set Planner.MountPath", m.MountPath, b.mount)
		}
	}
	for _, v := range s.Volumes {
		if v.Name == volumeName(c.Name) {
			return fmt.Errorf("volume %q is the handshake volume's name", v.Name)
		}
	}
	return nil
}

// handshake returns the command prefix that runs the handshake runner.
func (b *builder) handshake() []string {
	if cp := b.p.Copier; cp != nil {
		return append([]string{b.binary()}, cp.Handshake[1:]...)
	}
	return append([]string(nil), b.p.Handshake...)
}

// binary is where the copier puts the handshake binary.
func (b *builder) binary() string { return b.mount + "/bin/handshake" }

// flags returns the flags every handshake invocation of role gets.
func (b *builder) flags(role protocol.Role) []string {
	f := []string{"--role=" + string(role), "--dir=" + b.mount}
	if b.token != "" {
		f = append(f, "--sandbox-token="+b.token)
	}
	return f
}

// twin builds one twin.
func (b *builder) twin(role protocol.Role, policy corev1.RestartPolicy) (corev1.Container, error) {
	t := *b.c.DeepCopy()
	cmd := append(b.handshake(), b.flags(role)...)
	if role == protocol.Native && b.timeout != DefaultConfirmTimeout {
		cmd = append(cmd, "--confirm-timeout="+b.timeout.String())
	}
	if p := b.c.TerminationMessagePath; p != "" && p != corev1.TerminationMessagePathDefault {
		// A twin that cannot decide says why there (docs/universal.md).
		cmd = append(cmd, "--termination-log="+p)
	}
	t.Command = append(append(cmd, "--"), b.c.Command...)
	t.Env = append(t.Env,
		corev1.EnvVar{Name: protocol.EnvRole, Value: string(role)},
		corev1.EnvVar{Name: protocol.EnvDir, Value: b.mount},
		corev1.EnvVar{Name: protocol.EnvRestartPolicy, Value: string(policy)},
		corev1.EnvVar{Name: protocol.EnvPodIP, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
	)
	t.VolumeMounts = append(t.VolumeMounts, corev1.VolumeMount{Name: volumeName(b.c.Name), MountPath: b.mount})
	var err error
	if t.Lifecycle != nil && t.Lifecycle.PreStop != nil {
		if t.Lifecycle.PreStop, err = b.hook(t.Lifecycle.PreStop, role); err != nil {
			return corev1.Container{}, fmt.Errorf("lifecycle.preStop: %w", err)
		}
	}
	if role == protocol.Legacy {
		t.Name, t.RestartPolicy = LegacyName(b.c.Name), nil
		for _, pr := range []struct {
			p   **corev1.Probe
			typ protocol.ProbeType
		}{{&t.StartupProbe, protocol.StartupProbe}, {&t.LivenessProbe, protocol.LivenessProbe}, {&t.ReadinessProbe, protocol.ReadinessProbe}} {
			if *pr.p == nil {
				continue
			}
			if *pr.p, err = b.probe(*pr.p, protocol.Legacy, pr.typ); err != nil {
				return corev1.Container{}, fmt.Errorf("%sProbe: %w", pr.typ, err)
			}
		}
		return t, nil
	}
	t.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	// The legacy twin declares the ports: the kubelet maps hostPorts
	// from regular containers only, Services resolve named ports in them
	// first, and the API server warns about ports declared twice.
	t.Ports = nil
	if t.StartupProbe, err = b.startupProbe(); err != nil {
		return corev1.Container{}, fmt.Errorf("startupProbe: %w", err)
	}
	// Its liveness and readiness checks are wrapped too: they check while
	// this twin acts and pass while the legacy twin acts, as when a native
	// kubelet took over a Pod the legacy twin serves (an in-place upgrade,
	// a lost handshake directory), where the native twin stands by and an
	// exec check would fail in its container.
	for _, pr := range []struct {
		p   **corev1.Probe
		typ protocol.ProbeType
	}{{&t.LivenessProbe, protocol.LivenessProbe}, {&t.ReadinessProbe, protocol.ReadinessProbe}} {
		if *pr.p == nil {
			continue
		}
		if *pr.p, err = b.probe(*pr.p, protocol.Native, pr.typ); err != nil {
			return corev1.Container{}, fmt.Errorf("%sProbe: %w", pr.typ, err)
		}
	}
	return t, nil
}

func (b *builder) copier() corev1.Container {
	cp := b.p.Copier
	sc := cp.SecurityContext
	if sc == nil {
		sc = b.c.SecurityContext
	}
	return corev1.Container{
		Name:            copierName(b.c.Name),
		Image:           cp.Image,
		ImagePullPolicy: cp.ImagePullPolicy,
		Command:         append(append([]string(nil), cp.Handshake...), "install", "--to="+b.binary()),
		Resources:       *cp.Resources.DeepCopy(),
		SecurityContext: sc.DeepCopy(),
		VolumeMounts:    []corev1.VolumeMount{{Name: volumeName(b.c.Name), MountPath: b.mount}},
	}
}

// warnings says what the pair costs.
func warnings(c *corev1.Container, policy corev1.RestartPolicy) []compat.Finding {
	var w []compat.Finding
	if len(c.Resources.Requests)+len(c.Resources.Limits) > 0 {
		w = append(w, caveat(fmt.Sprintf("universal pair: both twins' resources count, so the Pod asks for the sidecar's twice (requests %s, limits %s once more than a single sidecar); the dormant twin uses almost none of it",
			list(c.Resources.Requests), list(c.Resources.Limits))))
	}
	if policy == corev1.RestartPolicyNever || policy == corev1.RestartPolicyOnFailure {
		w = append(w, caveat(fmt.Sprintf("universal pair: restartPolicy %s: on nodes without native sidecars (kubelet 1.27 or older) the legacy twin acts as a regular container, and the Pod (and its Job) runs until the sidecar exits by itself", policy)))
	}
	return w
}

// caveat is a warning about what the pair costs.
func caveat(msg string) compat.Finding {
	return compat.Finding{Code: compat.CodeModeCaveat, Severity: compat.SeverityWarning, Message: msg}
}

// list renders a ResourceList deterministically.
func list(l corev1.ResourceList) string {
	if len(l) == 0 {
		return "none"
	}
	var parts []string
	for name, q := range l {
		parts = append(parts, string(name)+"="+q.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
