package universal_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/golden"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The pods are the sidecar package's pod shapes.
const podDir = "../sidecar/testdata/inject/pods"

// strips is a cluster whose weakest node drops restartPolicy: Auto
// chooses the universal pair when it has a Planner.
var strips = compat.Capability{Kubelet: compat.KubeletStrips, APIServer: compat.APIServerStores}

var inImage = universal.Planner{Handshake: []string{"/usr/local/bin/sidecarctl", "handshake"}}

var withCopier = universal.Planner{
	Copier: &universal.Copier{
		Image:     "registry.example/sidecarctl:1",
		Handshake: []string{"/sidecarctl", "handshake"},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ("10m")}},
	},
	MountPath:      "/var/run/sidecarkit",
	ConfirmTimeout: 60e9,
}

type goldenCase struct {
	name, pod, spec string
	planner         universal.Planner
}

func goldenCases(t *testing.T) []goldenCase {
	pods, err := filepath.Glob(filepath.Join(podDir, "*.json"))
	if err != nil || len(pods) == 0 {
		t.Fatalf("no pods in %s: %v", podDir, err)
	}
	var cases []goldenCase
	for _, p := range pods {
		pod := strings.TrimSuffix(filepath.Base(p), ".json")
		for _, spec := range []string{"full", "plain"} {
			cases = append(cases, goldenCase{name: pod + "." + spec, pod: pod, spec: spec, planner: inImage})
		}
	}
	cases = append(cases,
		goldenCase{name: "no-init.copier", pod: "no-init", spec: "full", planner: withCopier},
		goldenCase{name: "job-never.copier", pod: "job-never", spec: "plain", planner: withCopier},
		goldenCase{name: "no-init.no-command", pod: "no-init", spec: "no-command", planner: inImage},
		goldenCase{name: "no-init.post-start", pod: "no-init", spec: "post-start", planner: inImage},
		goldenCase{name: "no-init.grpc", pod: "no-init", spec: "grpc", planner: inImage},
		goldenCase{name: "no-init.bad-port", pod: "no-init", spec: "bad-port", planner: inImage},
		goldenCase{name: "no-init.no-planner-command", pod: "no-init", spec: "plain", planner: universal.Planner{}},
		goldenCase{name: "no-init.short-timeout", pod: "no-init", spec: "full", planner: universal.Planner{Handshake: inImage.Handshake, ConfirmTimeout: 2e9}},
	)
	return cases
}

// output is the golden form of one injection.
type output struct {
	Error     string                  `json:"error,omitempty"`
	Mode      string                  `json:"mode,omitempty"`
	Reason    string                  `json:"reason,omitempty"`
	Warnings  []compat.Finding        `json:"warnings,omitempty"`
	Resources *sidecar.ResourceReport `json:"resources,omitempty"`
	Patch     json.RawMessage         `json:"patch,omitempty"`
}

// TestInjectGolden injects the pair into every pod shape with sidecar.Inject
// and the Planner and compares the result with testdata/golden. For every
// success it applies the patch to the raw pod, validates the result, checks
// the pair's invariants, and checks that injecting again changes nothing.
func TestInjectGolden(t *testing.T) {
	for _, tc := range goldenCases(t) {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			raw := readFile(t, filepath.Join(podDir, tc.pod+".json"))
			spec := loadSpec(t, tc.spec)
			obj := decode(t, raw)
			opts := sidecar.Options{Universal: tc.planner, PodResources: obj.PodResources}
			res, err := sidecar.Inject(obj.Meta, obj.Spec, spec, strips, opts)
			var out output
			var ops patch.Ops
			if err != nil {
				out.Error = err.Error()
			} else {
				if ops, err = res.Mutation.JSONPatch(obj.Root); err != nil {
					t.Fatal(err)
				}
				if err := patchtest.Verify(raw, ops); err != nil {
					t.Errorf("Verify: %v", err)
				}
				report := res.Resources()
				out.Mode, out.Reason, out.Warnings, out.Resources = string(res.Mode), res.Reason, res.Warnings, &report
				out.Patch = mustJSON(t, ops)
			}
			golden.Check(t, *update, filepath.Join("testdata/golden", tc.name+".json"), indent(t, mustJSON(t, out)))
			if out.Error != "" {
				return
			}
			if res.Mode != sidecar.Universal {
				t.Fatalf("mode %s, want universal", res.Mode)
			}
			if len(spec.Container.Resources.Requests) > 0 && !hasCaveat(res.Warnings, "the Pod asks for the sidecar's twice") {
				t.Errorf("no warning that requests count twice: %q", res.Warnings)
			}
			after := decode(t, apply(t, raw, ops))
			if errs := sidecar.ValidatePod(after.Spec); len(errs) > 0 {
				t.Errorf("patched pod fails validation: %v", errs.ToAggregate())
			}
			checkPair(t, after.Spec, spec.Container)
			again, err := sidecar.Inject(after.Meta, after.Spec, spec, strips, opts)
			if err != nil {
				t.Fatalf("inject again: %v", err)
			}
			if !again.Mutation.Empty() || again.Skipped != sidecar.SkipAlreadyInjected {
				t.Errorf("inject again: skipped=%q; want an empty mutation", again.Skipped)
			}
		})
	}
}

// checkPair checks the pair's invariants in an injected pod.
func checkPair(t *testing.T, spec *corev1.PodSpec, c corev1.Container) {
	t.Helper()
	var native, legacy *corev1.Container
	for i := range spec.InitContainers {
		if spec.InitContainers[i].Name == c.Name {
			native = &spec.InitContainers[i]
		}
	}
	for i := range spec.Containers {
		if spec.Containers[i].Name == universal.LegacyName(c.Name) {
			legacy = &spec.Containers[i]
		}
	}
	if native == nil || legacy == nil {
		t.Fatalf("twins missing: native %v legacy %v", native != nil, legacy != nil)
	}
	if native.RestartPolicy == nil || *native.RestartPolicy != corev1.ContainerRestartPolicyAlways || legacy.RestartPolicy != nil {
		t.Errorf("restartPolicy: native %v, legacy %v", native.RestartPolicy, legacy.RestartPolicy)
	}
	if native.StartupProbe == nil || native.StartupProbe.Exec == nil {
		t.Errorf("the native twin has no exec startup probe")
	}
	if len(native.Ports) != 0 || len(legacy.Ports) != len(c.Ports) {
		t.Errorf("ports: native %d, legacy %d; want none and the sidecar's %d", len(native.Ports), len(legacy.Ports), len(c.Ports))
	}
	for _, p := range []*corev1.Probe{legacy.StartupProbe, legacy.LivenessProbe, legacy.ReadinessProbe} {
		if p != nil && (p.Exec == nil || !strings.Contains(strings.Join(p.Exec.Command, " "), "probe --role=legacy")) {
			t.Errorf("the legacy twin has an unwrapped probe: %+v", p.ProbeHandler)
		}
	}
	policy := string(spec.RestartPolicy)
	if policy == "" {
		policy = "Always"
	}
	for _, tw := range []*corev1.Container{native, legacy} {
		env := map[string]string{}
		for _, e := range tw.Env {
			env[e.Name] = e.Value
		}
		role := "native"
		if tw == legacy {
			role = "legacy"
		}
		if env[protocol.EnvRole] != role || env[protocol.EnvRestartPolicy] != policy || env[protocol.EnvDir] == "" {
			t.Errorf("%s twin's env: %v", role, env)
		}
		if n := len(tw.Command) - len(c.Command); n < 1 || tw.Command[n-1] != "--" || strings.Join(tw.Command[n:], " ") != strings.Join(c.Command, " ") {
			t.Errorf("%s twin's command %q does not end in -- and the sidecar's %q", role, tw.Command, c.Command)
		}
	}
}

func loadSpec(t *testing.T, name string) sidecar.Spec {
	t.Helper()
	s, err := sidecar.LoadSpec(readFile(t, filepath.Join("testdata/specs", name+".yaml")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decode(t *testing.T, raw []byte) *patch.Object {
	t.Helper()
	o, err := patch.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func apply(t *testing.T, doc []byte, ops patch.Ops) []byte {
	t.Helper()
	p, err := jsonpatch.DecodePatch(mustJSON(t, ops))
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v interface{}) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }

// hasCaveat reports whether one of ws is a mode caveat whose message
// contains sub.
func hasCaveat(ws []compat.Finding, sub string) bool {
	for _, w := range ws {
		if w.Code == compat.CodeModeCaveat && w.Severity == compat.SeverityWarning && strings.Contains(w.Message, sub) {
			return true
		}
	}
	return false
}
