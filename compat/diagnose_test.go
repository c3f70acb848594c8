package compat_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestDiagnoseGolden runs Diagnose on each realistic case under
// testdata/diagnose/<case>/: pod.json (the stored Pod, with managedFields
// and status), and optionally intended.json (the Pod as meant),
// apiserver.version, apiserver.metrics, node.json and kubelet.metrics,
// which go through the public detectors. Each case's README says what it
// shows; want.golden.json holds the capability and the findings.
func TestDiagnoseGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "diagnose", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		dir := dir
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var f compat.Facts
			f.Pod = new(corev1.Pod)
			readJSON(t, filepath.Join(dir, "pod.json"), f.Pod)
			var intended corev1.Pod
			if readJSON(t, filepath.Join(dir, "intended.json"), &intended) {
				f.Intended = &intended.Spec
			}
			f.Capability = caseCapability(t, dir)
			out := struct {
				Capability string           `json:"capability"`
				Findings   []compat.Finding `json:"findings"`
			}{f.Capability.String(), compat.Diagnose(f)}
			if out.Findings == nil {
				out.Findings = []compat.Finding{}
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join(dir, "want.golden.json"), b.Bytes())
			if diff := cmp.Diff(out.Findings, compat.Diagnose(f), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("a second run differs (-first +second):\n%s", diff)
			}
		})
	}
}

// caseCapability builds the case's capability with the public detectors.
func caseCapability(t *testing.T, dir string) compat.Capability {
	t.Helper()
	var c compat.Capability
	version := readText(t, filepath.Join(dir, "apiserver.version"))
	if version != "" {
		api, err := compat.ParseAPIServerVersion(version)
		if err != nil {
			t.Fatal(err)
		}
		c = c.Override(api)
	}
	if text := readText(t, filepath.Join(dir, "apiserver.metrics")); text != "" {
		g, err := compat.ParseFeatureMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		api, err := compat.FromAPIServerMetrics(g, version)
		if err != nil {
			t.Fatal(err)
		}
		c = c.Override(api)
	}
	var n corev1.Node
	if readJSON(t, filepath.Join(dir, "node.json"), &n) {
		nc, err := compat.ParseNode(&n)
		if text := readText(t, filepath.Join(dir, "kubelet.metrics")); text != "" {
			g, perr := compat.ParseFeatureMetrics(strings.NewReader(text))
			if perr != nil {
				t.Fatal(perr)
			}
			nc, err = compat.FromNodeMetrics(&n, g)
		}
		if err != nil {
			t.Fatal(err)
		}
		c = c.Override(nc)
	}
	return c
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func readJSON(t *testing.T, path string, v interface{}) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return true
}

func TestDiagnoseCapability(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    compat.Capability
		want []compat.Code
	}{
		{"unknown", compat.Capability{}, nil},
		{"all native", compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}, nil},
		{"drops and strips", compat.Capability{Kubelet: compat.KubeletStrips, APIServer: compat.APIServerDrops}, []compat.Code{compat.CodeAPIServerDrops, compat.CodeNodeStrips}},
		{"unknown field", compat.Capability{APIServer: compat.APIServerUnknownField}, []compat.Code{compat.CodeAPIServerUnknownField}},
		{"rejects", compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerStores}, []compat.Code{compat.CodeNodeRejects}},
		{"1.28 unordered", compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Unsupported}, []compat.Code{compat.CodeUnorderedTermination}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []compat.Code
			for _, f := range compat.DiagnoseCapability(tc.c) {
				if f.Path != "" || f.Message == "" || f.Fix == "" {
					t.Errorf("finding %+v: want no path, a message and a fix", f)
				}
				got = append(got, f.Code)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("codes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("codes %v, want %v", got, tc.want)
				}
			}
		})
	}
}
