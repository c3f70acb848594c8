package universal

import (
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"

	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The kubelet's probe defaults (k8s.io/kubernetes pkg/apis/core/v1
// defaults.go): the Planner computes with them, so that it writes the
// same probe whether or not the Spec spelled them out.
const (
	defaultPeriod    = 10
	defaultTimeout   = 1
	defaultThreshold = 3
)

// startupProbe returns the native twin's startup probe: it records the
// ack, fails until the native twin acts, then runs the sidecar's own
// startup check if it has one.
//
// The probe has no initial delay (the native twin waits for it); the
// sidecar's initial delay becomes failures allowed. Without a startup
// check of its own, the probe runs every second and allows the
// confirmation timeout's worth of failures; with one, it keeps its period
// and timeout and allows two failures more (the ack and the claim).
func (b *builder) startupProbe() (*corev1.Probe, error) {
	orig := b.c.StartupProbe
	period := int32(1)
	if orig != nil {
		period = orInt(orig.PeriodSeconds, defaultPeriod)
	}
	if p := time.Duration(period) * time.Second; b.timeout < 3*p {
		return nil, fmt.Errorf("Planner.ConfirmTimeout %v is shorter than three probe periods of %v: the native twin could give up before the kubelet probes it", b.timeout, p)
	}
	if orig == nil {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: b.probeCommand(protocol.Native, protocol.StartupProbe, 0, nil)}},
			PeriodSeconds:    period,
			TimeoutSeconds:   5,
			SuccessThreshold: 1,
			FailureThreshold: int32((b.timeout+time.Second-1)/time.Second) + 3,
		}, nil
	}
	timeout, threshold := orInt(orig.TimeoutSeconds, defaultTimeout), orInt(orig.FailureThreshold, defaultThreshold)
	check, err := b.checkArgs(&orig.ProbeHandler)
	if err != nil {
		return nil, err
	}
	return &corev1.Probe{
		ProbeHandler:                  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: b.probeCommand(protocol.Native, protocol.StartupProbe, timeout, check)}},
		PeriodSeconds:                 period,
		TimeoutSeconds:                timeout,
		SuccessThreshold:              1,
		FailureThreshold:              threshold + (orig.InitialDelaySeconds+period-1)/period + 2,
		TerminationGracePeriodSeconds: orig.TerminationGracePeriodSeconds,
	}, nil
}

// probe wraps a twin's probe (the legacy twin's, the native twin's
// liveness and readiness): the same timing, an exec handler that passes
// while the twin is dormant and checks while it acts.
func (b *builder) probe(p *corev1.Probe, role protocol.Role, typ protocol.ProbeType) (*corev1.Probe, error) {
	check, err := b.checkArgs(&p.ProbeHandler)
	if err != nil {
		return nil, err
	}
	out := p.DeepCopy()
	out.ProbeHandler = corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: b.probeCommand(role, typ, orInt(p.TimeoutSeconds, defaultTimeout), check)}}
	return out, nil
}

func (b *builder) probeCommand(role protocol.Role, typ protocol.ProbeType, timeout int32, check []string) []string {
	cmd := append(append(b.handshake(), "probe"), b.flags(role)...)
	cmd = append(cmd, "--type="+string(typ))
	if len(check) > 0 && timeout != defaultTimeout {
		cmd = append(cmd, "--timeout="+strconv.Itoa(int(timeout))+"s")
	}
	return append(cmd, check...)
}

// hook wraps a preStop hook so that it runs only in the acting twin: a
// dormant legacy twin shares the network namespace, and its hook would
// drain the acting native twin's sidecar.
func (b *builder) hook(h *corev1.LifecycleHandler, role protocol.Role) (*corev1.LifecycleHandler, error) {
	if h.TCPSocket != nil {
		return nil, fmt.Errorf("a tcpSocket hook is not run by the kubelet either; remove it")
	}
	check, err := b.checkArgs(&corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet})
	if err != nil {
		return nil, err
	}
	cmd := append(append(b.handshake(), "hook"), b.flags(role)...)
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: append(cmd, check...)}}, nil
}

// checkArgs renders a handler as the handshake's check flags.
func (b *builder) checkArgs(h *corev1.ProbeHandler) ([]string, error) {
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			return nil, fmt.Errorf("exec has no command")
		}
		return append([]string{"--"}, h.Exec.Command...), nil
	case h.HTTPGet != nil:
		port, err := b.port(h.HTTPGet.Port)
		if err != nil {
			return nil, err
		}
		a := []string{"--http-get=" + h.HTTPGet.Path, "--port=" + strconv.Itoa(port)}
		if h.HTTPGet.Scheme == corev1.URISchemeHTTPS {
			a = append(a, "--scheme=HTTPS")
		}
		if h.HTTPGet.Host != "" {
			a = append(a, "--host="+h.HTTPGet.Host)
		}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			a = append(a, "--header="+hd.Name+": "+hd.Value)
		}
		return a, nil
	case h.TCPSocket != nil:
		port, err := b.port(h.TCPSocket.Port)
		if err != nil {
			return nil, err
		}
		a := []string{"--tcp-socket", "--port=" + strconv.Itoa(port)}
		if h.TCPSocket.Host != "" {
			a = append(a, "--host="+h.TCPSocket.Host)
		}
		return a, nil
	case h.GRPC != nil:
		return nil, fmt.Errorf("a grpc check cannot be run by the handshake; use an exec check (grpc_health_probe)")
	}
	return nil, fmt.Errorf("no handler")
}

// resolvePorts replaces named ports by numbers in the native twin's
// probes, which the kubelet resolves in the container's own ports (the
// native twin declares none).
func (b *builder) resolvePorts(h *corev1.ProbeHandler) error {
	var p *intstr.IntOrString
	switch {
	case h.HTTPGet != nil:
		p = &h.HTTPGet.Port
	case h.TCPSocket != nil:
		p = &h.TCPSocket.Port
	default:
		return nil
	}
	n, err := b.port(*p)
	if err != nil {
		return err
	}
	*p = intstr.FromInt(n)
	return nil
}

// port resolves a probe's port like the kubelet: a number, or the name of
// one of the container's ports.
func (b *builder) port(p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal < 1 || p.IntVal > 65535 {
			return 0, fmt.Errorf("port %d: want 1 to 65535", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range b.c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("port %q is not the name of a port of the sidecar", p.StrVal)
}

func orInt(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}
