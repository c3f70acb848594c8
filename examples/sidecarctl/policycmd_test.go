package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/golden"
)

// TestPolicyCommand runs `sidecarctl policy` and compares its output with
// golden files in testdata/policy; the refusals name what is wrong.
func TestPolicyCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{name: "native", args: []string{"--sidecar", "../testdata/sidecar.yaml", "--mode", "native"}},
		{name: "pinned-workloads-v1beta1", args: []string{"--sidecar", "../testdata/sidecar.yaml", "--mode", "pinned", "--workloads",
			"--api-version", "v1beta1", "--exclude-namespace", "kube-system", "--exclude-namespace", "mesh-system", "--name", "mesh"}},
		{name: "legacy-json", args: []string{"--sidecar", "../testdata/sidecar-container.yaml", "--mode", "legacy", "-o", "json"}},
		{name: "universal", args: []string{"--sidecar", "../testdata/sidecar.yaml", "--mode", "universal"}, code: 1, err: "the universal pair cannot be compiled into an admission policy"},
		{name: "auto", args: []string{"--sidecar", "../testdata/sidecar.yaml", "--mode", "auto"}, code: 1, err: "mode auto decides from the nodes' capability"},
		{name: "no-mode", args: []string{"--sidecar", "../testdata/sidecar.yaml"}, code: 1, err: "--mode is required"},
		{name: "bad-output", args: []string{"--sidecar", "../testdata/sidecar.yaml", "--mode", "native", "-o", "xml"}, code: 1, err: `unknown output "xml"`},
		{name: "bad-version", args: []string{"--sidecar", "../testdata/sidecar.yaml", "--mode", "native", "--api-version", "v2"}, code: 1, err: `unknown version "v2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"policy"}, tc.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if tc.code != 0 {
				if !strings.Contains(stderr.String(), tc.err) || stdout.Len() != 0 {
					t.Errorf("stderr %q, stdout %d bytes; want %q on stderr only", stderr.String(), stdout.Len(), tc.err)
				}
				return
			}
			ext := ".yaml"
			if strings.HasSuffix(tc.name, "json") {
				ext = ".json"
			}
			golden.Check(t, *update, filepath.Join("testdata/policy", tc.name+ext), stdout.Bytes())
		})
	}
}
