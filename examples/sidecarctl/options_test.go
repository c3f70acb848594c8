package main

import (
	"bytes"
	"encoding/json"
	"reflect"
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
		{"auto, --kubelet-version alone: the API server is at least as new", []string{native}, sidecar.Native},
		{"auto, --kubelet-version 1.27 alone: an API server that may not know the field", []string{strips}, sidecar.Legacy},
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

// A Pod that inject pinned, injected again with the same facts, stays as
// it is: the nodes are judged without the Pod's own pin (with it the Pod
// would look all-native, and the second run would unpin it and let it land
// on the node that cannot run native sidecars).
func TestInjectKeepsItsPin(t *testing.T) {
	t.Chdir("..")
	args := func(file string) []string {
		return []string{"inject", "-f", file, "--sidecar", "testdata/sidecar.yaml", "--node", "testdata/nodes.json",
			"--apiserver-version", "v1.33.1", "--allow-pinned", "-o", "json", "-v"}
	}
	var first, stderr bytes.Buffer
	if code := run(args("testdata/pod.yaml"), nil, &first, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "testdata/pod.yaml: pinned: ") {
		t.Fatalf("first run: %s; want pinned (testdata/nodes.json has a node older than 1.28)", stderr.String())
	}
	stderr.Reset()
	var second bytes.Buffer
	if code := run(args("-"), bytes.NewReader(first.Bytes()), &second, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var a, b interface{}
	if err := json.Unmarshal(first.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(second.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "skipped (AlreadyInjected)") || !reflect.DeepEqual(a, b) {
		t.Errorf("second run changed the Pod or did not skip: %s\nfirst:\n%s\nsecond:\n%s", stderr.String(), first.String(), second.String())
	}
}

// An all-in-one manifest: objects of other kinds pass through unchanged
// with -o yaml (a YAML stream) and -o json (one v1 List), in their order,
// and the workload gets the
// sidecar; -o jsonpatch prints only the workload's patch.
func TestInjectPassesOtherKindsThrough(t *testing.T) {
	t.Chdir("..")
	for _, output := range []string{"yaml", "json", "jsonpatch"} {
		t.Run(output, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := []string{"inject", "-f", "testdata/all-in-one.yaml", "--sidecar", "testdata/sidecar.yaml",
				"--kubelet-version", "v1.33.1", "--apiserver-version", "v1.33.1", "-o", output}
			if code := run(args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if output == "jsonpatch" {
				var ops []map[string]interface{}
				if err := json.Unmarshal(stdout.Bytes(), &ops); err != nil || !strings.Contains(stdout.String(), `"/spec/template/spec/initContainers"`) {
					t.Errorf("want one patch, of the Deployment's template (%v):\n%s", err, stdout.String())
				}
				return
			}
			var docs []document
			if output == "json" { // several objects: one v1 List
				var list struct {
					Kind  string            `json:"kind"`
					Items []json.RawMessage `json:"items"`
				}
				if err := json.Unmarshal(stdout.Bytes(), &list); err != nil || list.Kind != "List" {
					t.Fatalf("-o json: %v, kind %q; want a v1 List", err, list.Kind)
				}
				for _, it := range list.Items {
					docs = append(docs, document{json: it})
				}
			} else {
				var err error
				if docs, err = readDocuments("-", bytes.NewReader(stdout.Bytes())); err != nil {
					t.Fatal(err)
				}
			}
			var kinds []string
			for _, d := range docs {
				kinds = append(kinds, kindOf(d.json))
			}
			if strings.Join(kinds, ",") != "Namespace,Service,Deployment,ConfigMap" {
				t.Fatalf("kinds %v", kinds)
			}
			in, err := readDocuments("testdata/all-in-one.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 1, 3} {
				var a, b interface{}
				_ = json.Unmarshal(in[i].json, &a)
				_ = json.Unmarshal(docs[i].json, &b)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("%s changed:\n%s\nwant\n%s", kinds[i], docs[i].json, in[i].json)
				}
			}
			var compact bytes.Buffer
			_ = json.Compact(&compact, docs[2].json)
			if !strings.Contains(compact.String(), `"restartPolicy":"Always"`) {
				t.Errorf("the Deployment has no native sidecar: %s", docs[2].json)
			}
		})
	}
}
