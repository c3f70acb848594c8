package handshake_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
	"github.com/sidecarkit/sidecarkit/universal/internal/handshake"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// TestPlannerSpeaksRunner parses, with the runner's Parse, every command
// the Planner writes (the twins', their probes' and hooks', the copier's)
// and checks what the runner will do with it.
func TestPlannerSpeaksRunner(t *testing.T) {
	planners := map[string]universal.Planner{
		"in-image": {Handshake: []string{"/usr/local/bin/sidecarctl", "handshake"}},
		"copier":   {Copier: &universal.Copier{Image: "i", Handshake: []string{"/sidecarctl", "handshake"}}, MountPath: "/hs", ConfirmTimeout: universal.DefaultConfirmTimeout * 2},
	}
	for _, specName := range []string{"full", "plain"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "specs", specName+".yaml"))
		must(t, err)
		spec, err := sidecar.LoadSpec(b)
		must(t, err)
		for pname, p := range planners {
			t.Run(specName+"/"+pname, func(t *testing.T) {
				plan, err := p.Plan(spec, &corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure})
				must(t, err)
				mount := p.MountPath
				if mount == "" {
					mount = universal.DefaultMountPath
				}
				prefix := 2 // "<binary> handshake"
				parse := func(what string, cmd []string) handshake.Config {
					t.Helper()
					if len(cmd) < prefix {
						t.Fatalf("%s: command %q too short", what, cmd)
					}
					c, err := handshake.Parse(cmd[prefix:], func(string) string { return "" })
					if err != nil {
						t.Fatalf("%s: %q: %v", what, cmd, err)
					}
					if c.Command != handshake.CommandInstall && c.Dir != mount {
						t.Errorf("%s: dir %q, want %q", what, c.Dir, mount)
					}
					return c
				}
				for _, c := range plan.InitContainers {
					if c.Name == spec.Container.Name+"-install" {
						cfg := parse("copier", c.Command)
						if cfg.Command != handshake.CommandInstall || cfg.To != mount+"/bin/handshake" {
							t.Errorf("copier: %+v", cfg)
						}
					}
				}
				twins := map[protocol.Role]corev1.Container{protocol.Native: plan.InitContainers[len(plan.InitContainers)-1], protocol.Legacy: plan.Containers[0]}
				for role, c := range twins {
					cfg := parse(string(role)+" twin", append(append([]string(nil), c.Command...), c.Args...))
					want := append(append([]string(nil), spec.Container.Command...), spec.Container.Args...)
					if cfg.Command != handshake.CommandRun || cfg.Role != role || !cmp.Equal(cfg.Argv, want) {
						t.Errorf("%s twin: %+v; want run, argv %q", role, cfg, want)
					}
					if role == protocol.Native && cfg.ConfirmTimeout != p.ConfirmTimeout && p.ConfirmTimeout != 0 {
						t.Errorf("native twin: confirm timeout %v, want %v", cfg.ConfirmTimeout, p.ConfirmTimeout)
					}
					for typ, pr := range map[protocol.ProbeType]*corev1.Probe{protocol.StartupProbe: c.StartupProbe, protocol.LivenessProbe: c.LivenessProbe, protocol.ReadinessProbe: c.ReadinessProbe} {
						if pr == nil || role == protocol.Native && typ != protocol.StartupProbe {
							continue
						}
						cfg := parse(string(role)+" "+string(typ)+" probe", pr.Exec.Command)
						if cfg.Command != handshake.CommandProbe || cfg.Role != role || cfg.ProbeType != typ {
							t.Errorf("%s %s probe: %+v", role, typ, cfg)
						}
						if orig := probeOf(spec.Container, typ); orig != nil && orig.HTTPGet != nil && (cfg.HTTPGet == nil || cfg.HTTPGet.Path != orig.HTTPGet.Path) {
							t.Errorf("%s %s probe lost its httpGet: %+v", role, typ, cfg)
						}
					}
					if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
						cfg := parse(string(role)+" preStop", c.Lifecycle.PreStop.Exec.Command)
						if cfg.Command != handshake.CommandHook || cfg.Role != role || cfg.HTTPGet == nil || !strings.HasPrefix(cfg.HTTPGet.Path, "/drain") {
							t.Errorf("%s preStop: %+v", role, cfg)
						}
					}
				}
			})
		}
	}
}

func probeOf(c corev1.Container, typ protocol.ProbeType) *corev1.Probe {
	switch typ {
	case protocol.StartupProbe:
		return c.StartupProbe
	case protocol.LivenessProbe:
		return c.LivenessProbe
	}
	return c.ReadinessProbe
}
