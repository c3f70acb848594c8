package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestInjectModeOptions: the mode-choice options the CLI has (--mode,
// --allow-pinned, and --handshake, which makes the universal pair
// available) each change the mode inject chooses for the capability the
// version flags give, and the sidecar's place in the printed Pod. (The CLI
// has no flag for Options.Fallback or Options.AvoidUnorderedTermination.)
func TestInjectModeOptions(t *testing.T) {
	t.Chdir("..")
	base := []string{"inject", "-f", "testdata/pod.yaml", "--sidecar", "testdata/sidecar.yaml", "-o", "json", "-v"}
	const (
		native  = "--kubelet-version=v1.33.1"
		strips  = "--kubelet-version=v1.27.16" // ignores restartPolicy
		rejects = "--kubelet-version=v1.28.15" // SidecarContainers off by default: rejects
		api     = "--apiserver-version=v1.30.4"
	)
	handshake := "--handshake=/usr/local/bin/sidecarctl handshake"
	for _, tc := range []struct {
		name string
		args []string
		mode sidecar.Mode
	}{
		{"auto, native nodes", []string{native, api}, sidecar.Native},
		{"forced legacy", []string{native, api, "--mode=legacy"}, sidecar.Legacy},
		{"forced pinned", []string{native, api, "--mode=pinned"}, sidecar.Pinned},
		{"forced universal", []string{native, api, "--mode=universal", handshake}, sidecar.Universal},
		{"forced native on old nodes", []string{strips, api, "--mode=native"}, sidecar.Native},
		{"auto, a node strips", []string{strips, api}, sidecar.Legacy},
		{"auto, a node strips, pinning allowed", []string{strips, api, "--allow-pinned"}, sidecar.Pinned},
		{"auto, a node strips, universal available", []string{strips, api, handshake}, sidecar.Universal},
		{"auto, a node rejects", []string{rejects, api}, sidecar.Legacy},
		{"auto, a node rejects, pinning allowed", []string{rejects, api, "--allow-pinned"}, sidecar.Pinned},
		{"auto, a node rejects, universal available: no help there", []string{rejects, api, handshake}, sidecar.Legacy},
		{"auto, nothing known: the fallback, legacy", nil, sidecar.Legacy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(append(append([]string{}, base...), tc.args...), nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			// -v: "testdata/pod.yaml: <mode>: <reason>".
			m := regexp.MustCompile(`(?m)^testdata/pod\.yaml: ([a-z]+): `).FindStringSubmatch(stderr.String())
			if m == nil || m[1] != string(tc.mode) {
				t.Errorf("mode line in %q; want mode %s", stderr.String(), tc.mode)
			}
			obj, err := patch.Decode(stdout.Bytes())
			if err != nil {
				t.Fatalf("output: %v", err)
			}
			if err := optioncases.CheckPlacement(obj.Spec, "proxy", tc.mode); err != nil {
				t.Error(err)
			}
			if strings.Contains(stderr.String(), "panic") {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}
