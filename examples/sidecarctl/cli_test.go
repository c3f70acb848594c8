package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput runs sidecarctl on bad input: each must exit 1 with one line
// on stderr that names the input and what is wrong, print nothing on
// stdout, and never a panic or goroutine dump.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	malformed := write("malformed.yaml", "apiVersion: v1\nkind: Pod\nspec: [\n")
	service := write("service.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n")
	empty := write("empty.yaml", "")
	noImage := write("noimage.yaml", "name: proxy\n")
	badSpec := write("badspec.yaml", "container: {name: proxy, image: x}\nplacement: {position: Middle}\n")
	unknownField := write("unknown.yaml", "container: {name: proxy, image: x}\nvolumez: []\n")
	clash := write("clash.yaml", "name: app\nimage: x\n")
	badNodes := write("nodes.json", `{"kind":"Node","metadata":{"name":"n"},"status":{"nodeInfo":{"kubeletVersion":"banana"}}}`)
	const pod, sc = "../testdata/pod.yaml", "../testdata/sidecar.yaml"
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  []string // substrings of the one-line error
	}{
		{"no -f", []string{"inject", "--sidecar", sc}, "", []string{"-f is required"}},
		{"no sidecar", []string{"inject", "-f", pod}, "", []string{"--sidecar is required"}},
		{"missing file", []string{"inject", "-f", "nope.yaml", "--sidecar", sc}, "", []string{"nope.yaml", "no such file"}},
		{"malformed yaml", []string{"inject", "-f", malformed, "--sidecar", sc}, "", []string{"malformed.yaml"}},
		{"malformed stdin", []string{"inject", "-f", "-", "--sidecar", sc}, "{\"kind\": ", []string{"stdin"}},
		{"wrong kind", []string{"inject", "-f", service, "--sidecar", sc}, "", []string{"service.yaml", "Service"}},
		{"empty input", []string{"inject", "-f", empty, "--sidecar", sc}, "", []string{"empty.yaml", "no documents"}},
		{"unknown mode", []string{"inject", "-f", pod, "--sidecar", sc, "--mode", "sideways"}, "", []string{"--mode", "sideways"}},
		{"unknown output", []string{"inject", "-f", pod, "--sidecar", sc, "-o", "xml"}, "", []string{"output", "xml"}},
		{"sidecar without image", []string{"inject", "-f", pod, "--sidecar", noImage}, "", []string{"noimage.yaml", "image"}},
		{"bad placement", []string{"inject", "-f", pod, "--sidecar", badSpec}, "", []string{"badspec.yaml", "sidecar.placement.position", "Middle"}},
		{"unknown spec field", []string{"inject", "-f", pod, "--sidecar", unknownField}, "", []string{"unknown.yaml", "volumez"}},
		{"name clash", []string{"inject", "-f", pod, "--sidecar", clash}, "", []string{"pod.yaml", "app"}},
		{"bad kubelet version", []string{"inject", "-f", pod, "--sidecar", sc, "--kubelet-version", "latest"}, "", []string{"--kubelet-version", "latest"}},
		{"universal without runner", []string{"inject", "-f", pod, "--sidecar", sc, "--mode", "universal"}, "", []string{"--handshake"}},
		{"unknown flag", []string{"inject", "--frobnicate"}, "", []string{"frobnicate"}},
		{"unknown command", []string{"frobnicate"}, "", []string{"frobnicate"}},
		{"doctor pod wrong kind", []string{"doctor", "pod", "-f", service}, "", []string{"service.yaml", "not a Pod"}},
		{"doctor pod no -f", []string{"doctor", "pod"}, "", []string{"-f is required"}},
		{"doctor nodes empty", []string{"doctor", "nodes", "-f", "-"}, "", []string{"stdin"}},
		{"doctor metrics garbage", []string{"doctor", "metrics", "-f", "-"}, "kubernetes_feature_enabled{name=\"SidecarContainers\" 1\n", []string{"stdin", "line 1"}},
		{"doctor metrics component", []string{"doctor", "metrics", "--component", "etcd"}, "", []string{"etcd"}},
		{"doctor output", []string{"doctor", "nodes", "-o", "xml"}, "", []string{"xml"}},
		{"doctor node version", []string{"inject", "-f", pod, "--sidecar", sc, "--node", badNodes}, "", []string{"banana"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			msg := stderr.String()
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr: %s", code, msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "sidecarctl: ") {
				t.Errorf("stderr %q: want one line starting with \"sidecarctl: \"", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q does not mention %q", msg, w)
				}
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, "panic") {
				t.Errorf("stderr has a panic: %s", msg)
			}
		})
	}
}

// TestOutputs checks the forms of inject's output on the bundled Pod:
// every form is valid, and nothing to do prints [] (or {}).
func TestOutputs(t *testing.T) {
	t.Chdir("..")
	base := []string{"inject", "-f", "testdata/pod.yaml", "--sidecar", "testdata/sidecar.yaml", "--kubelet-version", "v1.33.1", "--apiserver-version", "v1.33.1"}
	for _, tc := range []struct{ output, prefix string }{
		{"jsonpatch", "["}, {"strategic", "{"}, {"json", "{"}, {"yaml", "apiVersion: v1"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append(base, "-o", tc.output), nil, &stdout, &stderr); code != 0 {
			t.Fatalf("-o %s: exit %d: %s", tc.output, code, stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), tc.prefix) {
			t.Errorf("-o %s: output starts %.20q, want %q", tc.output, stdout.String(), tc.prefix)
		}
	}
	// Inject into the already injected Pod: nothing to do.
	var mutated, stderr bytes.Buffer
	if code := run(append(base, "-o", "json"), nil, &mutated, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	for _, tc := range []struct{ output, want string }{{"jsonpatch", "[]\n"}, {"strategic", "{}\n"}} {
		var stdout bytes.Buffer
		args := append([]string{"inject", "-f", "-"}, base[3:]...)
		if code := run(append(args, "-o", tc.output), bytes.NewReader(mutated.Bytes()), &stdout, &stderr); code != 0 {
			t.Fatalf("reinject -o %s: exit %d: %s", tc.output, code, stderr.String())
		}
		if stdout.String() != tc.want {
			t.Errorf("reinject -o %s: %q, want %q", tc.output, stdout.String(), tc.want)
		}
	}
	if !json.Valid(mutated.Bytes()) {
		t.Errorf("-o json: invalid JSON")
	}
}

// TestMultiDocument: a multi-document YAML input gives one result per
// document, in order: items of one JSON document for -o jsonpatch, a
// YAML stream for -o yaml.
func TestMultiDocument(t *testing.T) {
	t.Chdir("..")
	pod, err := os.ReadFile("testdata/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dep, err := os.ReadFile("testdata/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	in := string(pod) + "\n---\n" + string(dep)
	base := []string{"inject", "-f", "-", "--sidecar", "testdata/sidecar.yaml", "--kubelet-version", "v1.33.1", "--apiserver-version", "v1.33.1"}
	var stdout, stderr bytes.Buffer
	if code := run(append(base, "-o", "jsonpatch"), strings.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// Several objects: one document of items (TestSeveralObjectsPatches).
	var doc struct {
		Items []struct {
			Patch []struct{ Path string }
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, it := range doc.Items {
		paths = append(paths, it.Patch[0].Path)
	}
	if len(paths) != 2 || paths[0] != "/spec/initContainers/0" || !strings.HasPrefix(paths[1], "/spec/template/spec/") {
		t.Errorf("first op paths %q: want the Pod's, then the Deployment template's", paths)
	}
	stdout.Reset()
	if code := run(append(base, "-o", "yaml"), strings.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if docs := strings.Split(stdout.String(), "\n---\n"); len(docs) != 2 || !strings.Contains(docs[1], "kind: Deployment") {
		t.Errorf("-o yaml: want two documents, the second the Deployment:\n%s", stdout.String())
	}
}
