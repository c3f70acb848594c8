package policy

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/golden"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func proxy(t *testing.T) sidecar.Spec {
	t.Helper()
	b, err := os.ReadFile("testdata/proxy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sidecar.LoadSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGolden compiles the proxy sidecar of testdata/proxy.yaml in each mode
// and version and compares the output with testdata/*.golden.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      Options
		placement sidecar.Placement
		json      bool
	}{
		{name: "native", opts: Options{Mode: sidecar.Native}},
		{name: "legacy-after-app", opts: Options{Mode: sidecar.Legacy}, placement: sidecar.Placement{Position: sidecar.After, Name: "app"}},
		{name: "pinned-last", opts: Options{Mode: sidecar.Pinned}, placement: sidecar.Placement{Position: sidecar.Last}},
		{name: "native-workloads-v1beta1", opts: Options{Mode: sidecar.Native, Version: V1beta1, Workloads: true, ExcludeNamespaces: []string{"kube-system"}, Name: "mesh"}},
		{name: "native-json", opts: Options{Mode: sidecar.Native, SelectionKey: "example.com/mesh"}, placement: sidecar.Placement{Position: sidecar.Before, Name: "setup"}, json: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := proxy(t)
			s.Placement = tc.placement
			set, err := Compile(s, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			out, ext := set.YAML, ".yaml"
			if tc.json {
				out, ext = set.JSON, ".json"
			}
			b, err := out()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Compile(s, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := again.YAML(); tc.json == false && string(b2) != string(b) {
				t.Error("two compilations differ")
			}
			golden.Check(t, *update, "testdata/"+tc.name+ext, b)
		})
	}
}

// TestCompileErrors: what the compiler refuses, and why.
func TestCompileErrors(t *testing.T) {
	ok := func(t *testing.T) sidecar.Spec { return proxy(t) }
	for _, tc := range []struct {
		name string
		spec func(t *testing.T) sidecar.Spec
		opts Options
		want string
	}{
		{"universal", ok, Options{Mode: sidecar.Universal}, "the universal pair cannot be compiled"},
		{"auto", ok, Options{}, "mode auto decides from the nodes' capability"},
		{"unknown mode", ok, Options{Mode: "sideways"}, `unknown mode "sideways"`},
		{"unknown version", ok, Options{Mode: sidecar.Native, Version: "v2"}, `unknown version "v2"`},
		{"bad name", ok, Options{Mode: sidecar.Native, Name: "Not_A_Name"}, `name "Not_A_Name"`},
		{"bad selection key", ok, Options{Mode: sidecar.Native, SelectionKey: "a/b/c"}, `selection key "a/b/c"`},
		{"bad namespace", ok, Options{Mode: sidecar.Native, ExcludeNamespaces: []string{"ok", "Bad"}}, `excludeNamespaces[1]: "Bad"`},
		{"invalid spec", func(t *testing.T) sidecar.Spec { s := proxy(t); s.Container.Image = ""; return s }, Options{Mode: sidecar.Native}, "sidecar.container.image"},
		{"reserved word", func(t *testing.T) sidecar.Spec {
			s := proxy(t)
			s.Volumes = append(s.Volumes, mustVolume(t, `{"name": "eph", "ephemeral": {"volumeClaimTemplate": {"metadata": {"namespace": "x"}, "spec": {"accessModes": ["ReadWriteOnce"]}}}}`))
			return s
		}, Options{Mode: sidecar.Native}, "CEL reserved word"},
		{"env name with a quote", func(t *testing.T) sidecar.Spec {
			s := proxy(t)
			s.AppEnv = append(s.AppEnv, corev1.EnvVar{Name: `A"B`, Value: "1"})
			return s
		}, Options{Mode: sidecar.Native}, `appEnv[1].name: "A\"B": the policy supports names without JSON escapes`},
		{"mountPath with a brace", func(t *testing.T) sidecar.Spec {
			s := proxy(t)
			s.AppMounts[0].MountPath = "/run/{x}"
			return s
		}, Options{Mode: sidecar.Native}, `appMounts[0].mountPath: "/run/{x}"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.spec(t), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "policy: ") {
				t.Fatalf("Compile: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Compile(proxy(t), Options{Mode: sidecar.Universal}); !errors.Is(err, ErrUniversal) {
		t.Errorf("universal: %v, want ErrUniversal", err)
	}
}
