package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	yamlv3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// TestMain runs the command itself when SIDECARCTL_TEST_MAIN=1, so that
// TestPluginName can run the test binary under the plugin's name.
func TestMain(m *testing.M) {
	if os.Getenv("SIDECARCTL_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// severalObjects is a manifest of a Pod, a Service and a Deployment.
func severalObjects(t *testing.T) string {
	t.Helper()
	pod, err := os.ReadFile("testdata/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dep, err := os.ReadFile("testdata/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(pod) + "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n---\n" + string(dep)
}

// inject runs sidecarctl inject on stdin with output form out.
func inject(t *testing.T, stdin, out string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args := []string{"inject", "-f", "-", "--sidecar", "testdata/sidecar.yaml", "--kubelet-version", "v1.33.1", "-o", out}
	if code := run(args, strings.NewReader(stdin), &stdout, &stderr); code != 0 {
		t.Fatalf("-o %s: exit %d: %s", out, code, stderr.String())
	}
	return stdout.Bytes()
}

// TestSeveralObjectsPatches: with several Pods or workloads, -o jsonpatch
// and -o strategic print one JSON document, {"patchType", "items"}, one
// item per object in order, naming it; each item's patch, applied to its
// object as kubectl patch --type would, gives the object -o json prints.
func TestSeveralObjectsPatches(t *testing.T) {
	t.Chdir("..")
	in := severalObjects(t)
	docs, err := readDocuments("-", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(inject(t, in, "json"), &list); err != nil || len(list.Items) != 3 {
		t.Fatalf("-o json: %v, %d items", err, len(list.Items))
	}
	want := map[int]json.RawMessage{0: list.Items[0], 2: list.Items[2]} // the Pod, the Deployment
	for _, tc := range []struct {
		out, patchType string
		apply          func(doc, p []byte, kind string) ([]byte, error)
	}{
		{"jsonpatch", "json", func(doc, p []byte, _ string) ([]byte, error) {
			ops, err := jsonpatch.DecodePatch(p)
			if err != nil {
				return nil, err
			}
			return ops.Apply(doc)
		}},
		{"strategic", "strategic", func(doc, p []byte, kind string) ([]byte, error) {
			var schema interface{} = corev1.Pod{}
			if kind == "Deployment" {
				schema = appsv1.Deployment{}
			}
			return strategicpatch.StrategicMergePatch(doc, p, schema)
		}},
	} {
		t.Run(tc.out, func(t *testing.T) {
			var got struct {
				PatchType string `json:"patchType"`
				Items     []struct {
					Source, APIVersion, Kind, Namespace, Name string
					Patch                                     json.RawMessage
				} `json:"items"`
			}
			dec := json.NewDecoder(bytes.NewReader(inject(t, in, tc.out)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if dec.More() {
				t.Fatal("more than one JSON document")
			}
			if got.PatchType != tc.patchType || len(got.Items) != 2 {
				t.Fatalf("patchType %q, %d items; want %q, 2", got.PatchType, len(got.Items), tc.patchType)
			}
			for i, docIndex := range []int{0, 2} {
				it := got.Items[i]
				wantKind, wantAPI := "Pod", "v1"
				if docIndex == 2 {
					wantKind, wantAPI = "Deployment", "apps/v1"
				}
				if it.Source != docs[docIndex].source || it.Kind != wantKind || it.APIVersion != wantAPI || it.Namespace != "shop" || it.Name != "web" {
					t.Errorf("item %d names %s %s %s/%s (%s); want %s %s shop/web (%s)", i, it.APIVersion, it.Kind, it.Namespace, it.Name, it.Source, wantAPI, wantKind, docs[docIndex].source)
				}
				patched, err := tc.apply(docs[docIndex].json, it.Patch, it.Kind)
				if err != nil {
					t.Fatalf("item %d: apply: %v", i, err)
				}
				var a, b interface{}
				_ = json.Unmarshal(patched, &a)
				_ = json.Unmarshal(want[docIndex], &b)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("item %d: the patched object is not -o json's:\n%s\nwant\n%s", i, patched, want[docIndex])
				}
			}
		})
	}
	// One object among others: its bare patch, as before.
	one := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" + docsOf(t, "testdata/pod.yaml")
	if out := inject(t, one, "jsonpatch"); !bytes.HasPrefix(out, []byte("[")) {
		t.Errorf("one object: want its JSON patch, got\n%s", out)
	}
}

func docsOf(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keysOf lists the keys of the YAML mapping at path (keys into mappings,
// "0" into sequences) of the first document of y, in their order.
func keysOf(t *testing.T, y []byte, path ...string) []string {
	t.Helper()
	var doc yamlv3.Node
	if err := yamlv3.NewDecoder(bytes.NewReader(y)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	n := doc.Content[0]
	for _, p := range path {
		if n.Kind == yamlv3.SequenceNode {
			n = n.Content[0]
			continue
		}
		n = member(n, p)
		if n == nil {
			t.Fatalf("no %s in\n%s", strings.Join(path, "."), y)
		}
	}
	var keys []string
	for i := 0; i < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// TestOutputKeepsFieldOrder: -o yaml and -o json print the input's fields
// in the input's order (not sorted), what the injection adds after them;
// the YAML reads back (as kubectl reads it, sigs.k8s.io/yaml) as the
// same object -o json prints, strings that YAML 1.1 would take for
// booleans or numbers staying strings. A v1 List keeps its items' order
// too.
func TestOutputKeepsFieldOrder(t *testing.T) {
	t.Chdir("..")
	const pod = `kind: Pod
apiVersion: v1
spec:
  containers:
  - image: registry.example/app:1
    name: app
    env:
    - value: "yes"
      name: FLAG
    - {value: "0755", name: MODE}
    - {value: "1.10", name: VERSION}
metadata:
  namespace: shop
  name: web
  annotations: {z: "on", a: "null", "y": "n"}
`
	for _, tc := range []struct{ name, in string }{
		{"yaml", pod},
		{"json", mustJSON(t, pod)},
		{"list", "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(pod, "\n"), "\n", "\n  ") + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := inject(t, tc.in, "yaml")
			for _, c := range []struct {
				path []string
				want []string
			}{
				{nil, []string{"kind", "apiVersion", "spec", "metadata"}},
				{[]string{"spec"}, []string{"containers", "initContainers", "volumes"}},
				{[]string{"spec", "containers", "0"}, []string{"image", "name", "env", "volumeMounts"}},
				{[]string{"spec", "containers", "0", "env", "0"}, []string{"value", "name"}},
				{[]string{"metadata"}, []string{"namespace", "name", "annotations"}},
				{[]string{"metadata", "annotations"}, []string{"z", "a", "y", "sidecar.sidecarkit.io/proxy"}},
			} {
				if got := keysOf(t, y, c.path...); !reflect.DeepEqual(got, c.want) {
					t.Errorf("keys of %s: %v, want %v\n%s", strings.Join(c.path, "."), got, c.want, y)
				}
			}
			js := inject(t, tc.in, "json")
			back, err := yaml.YAMLToJSON(y)
			if err != nil {
				t.Fatal(err)
			}
			var a, b interface{}
			_ = json.Unmarshal(back, &a)
			_ = json.Unmarshal(js, &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("-o yaml reads back as\n%s\nnot -o json's\n%s", back, js)
			}
			// Keys too: "y" is true to YAML 1.1.
			for _, s := range []string{`"yes"`, `"0755"`, `"1.10"`, `"on"`, `"null"`, `"y":"n"`} {
				if !bytes.Contains(back, []byte(s)) {
					t.Errorf("the string %s did not stay a string:\n%s", s, y)
				}
			}
			// -o json in the input's order too: "kind" before "apiVersion".
			if k, a := bytes.Index(js, []byte(`"kind"`)), bytes.Index(js, []byte(`"apiVersion"`)); k < 0 || a < k {
				t.Errorf("-o json: kind not before apiVersion:\n%s", js)
			}
		})
	}
}

func mustJSON(t *testing.T, y string) string {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	r, err := reorderJSON(js, inputOrder([]byte(y)))
	if err != nil {
		t.Fatal(err)
	}
	return string(r)
}

// TestReorderJSON: keys in the reference's order, others after them in
// their own order; aliases followed; no reference leaves the JSON as it
// is; too deep a document is an error, not a crash.
func TestReorderJSON(t *testing.T) {
	for _, tc := range []struct{ name, js, ref, want string }{
		{"reference order", `{"a":1,"b":{"x":1,"y":2},"c":[{"p":1,"q":2}]}`, "c: [{q: 0, p: 0}]\nb: {y: 0, x: 0}\na: 0\n", `{"c":[{"q":2,"p":1}],"b":{"y":2,"x":1},"a":1}`},
		{"added keys after", `{"a":1,"new2":2,"b":2,"new1":3}`, "b: 0\na: 0\n", `{"b":2,"a":1,"new2":2,"new1":3}`},
		{"alias", `{"x":{"a":1,"b":2},"y":{"a":1,"b":2}}`, "x: &m {b: 2, a: 1}\ny: *m\n", `{"x":{"b":2,"a":1},"y":{"b":2,"a":1}}`},
		{"no reference", `{"b":1,"a":2}`, "", `{"b":1,"a":2}`},
		{"strings and numbers kept", `{"s":"\u003c\"x\"\u003e","n":1.50,"big":12345678901234567890,"t":true,"z":null}`, "z: 0\n", `{"z":null,"s":"\u003c\"x\"\u003e","n":1.50,"big":12345678901234567890,"t":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ref *yamlv3.Node
			if tc.ref != "" {
				ref = inputOrder([]byte(tc.ref))
			}
			got, err := reorderJSON([]byte(tc.js), ref)
			if err != nil || string(got) != tc.want {
				t.Errorf("reorderJSON = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
	deep := strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2)
	if _, err := reorderJSON([]byte(deep), inputOrder([]byte("a: 1"))); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("too deep: %v", err)
	}
	if _, err := yamlFromJSON([]byte(deep)); err == nil {
		t.Error("yamlFromJSON of too deep a document: no error")
	}
}

// TestDoctorMetricsNotPrometheus: doctor metrics on a text that is not the
// Prometheus text format exits 1 with one line naming the line, instead
// of reporting "unknown"; a real API server's text still reads.
func TestDoctorMetricsNotPrometheus(t *testing.T) {
	t.Chdir("..")
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"html", "<html><body>Forbidden</body></html>\n", []string{"line 1", "<html>"}},
		{"yaml", "apiVersion: v1\nkind: Pod\n", []string{"line 1", "apiVersion: v1"}},
		{"json", `{"kind":"Status","code":403}`, []string{"line 1", "Status"}},
		{"words on line 3", "# HELP up ok\n# TYPE up gauge\nhello world\n", []string{"line 3", "hello world"}},
		{"empty", "", []string{"no metric samples"}},
		{"comments only", "# nothing here\n", []string{"no metric samples"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"doctor", "metrics", "-f", "-"},
				{"inject", "-f", "testdata/pod.yaml", "--sidecar", "testdata/sidecar.yaml", "--metrics", "-"},
			} {
				var stdout, stderr bytes.Buffer
				code := run(args, strings.NewReader(tc.in), &stdout, &stderr)
				msg := stderr.String()
				if code != 1 || stdout.Len() != 0 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "not the Prometheus text format") {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1, nothing, one line", args[0], code, stdout.String(), msg)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: stderr %q does not name %q", args[0], msg, w)
					}
				}
			}
		})
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"doctor", "metrics", "-f", "testdata/metrics.txt"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "apiServer=stores") {
		t.Errorf("testdata/metrics.txt: exit %d: %s%s", code, stdout.String(), stderr.String())
	}
}

// TestCompletion: sidecarctl completion prints a script for bash, zsh,
// fish and powershell (the bash one is valid bash), and the completion
// of --mode and -o offers their values.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "__start_sidecarctl", "zsh": "#compdef sidecarctl", "fish": "complete -c sidecarctl", "powershell": "Register-ArgumentCompleter"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"completion", shell}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), marker) {
			t.Errorf("completion %s: exit %d, %s; want a script with %q", shell, code, stderr.String(), marker)
		}
		if shell == "bash" {
			if bash, err := exec.LookPath("bash"); err == nil {
				cmd := exec.Command(bash, "-n")
				cmd.Stdin = &stdout
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("bash -n of the completion script: %v: %s", err, out)
				}
			}
		}
	}
	for flag, want := range map[string][]string{"--mode": {"auto", "native", "legacy", "pinned", "universal"}, "-o": outputs} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"__complete", "inject", flag, ""}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("__complete inject %s: exit %d: %s", flag, code, stderr.String())
		}
		got := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(got) == 0 || !reflect.DeepEqual(got[:len(got)-1], want) {
			t.Errorf("__complete inject %s = %q, want %q and a directive", flag, got, want)
		}
	}
}

// TestPluginName: installed as kubectl-sidecar on PATH (how kubectl finds
// the plugin `kubectl sidecar`), the binary runs as sidecarctl does, and
// its help and errors say "kubectl sidecar".
func TestPluginName(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(dir, pluginName)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("SIDECARCTL_TEST_MAIN", "1")
	t.Chdir("..")
	plugin := func(args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(pluginName, args...) // found on PATH, as kubectl finds it
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	if out, errOut, code := plugin("--help"); code != 0 || !regexp.MustCompile(`(?m)^  kubectl sidecar \[command\]$`).MatchString(out) {
		t.Errorf("--help: exit %d, %s\n%s; want usage \"kubectl sidecar [command]\"", code, errOut, out)
	}
	args := []string{"inject", "-f", "testdata/pod.yaml", "--sidecar", "testdata/sidecar.yaml", "--kubelet-version", "v1.33.1"}
	out, errOut, code := plugin(args...)
	var want, wantErr bytes.Buffer
	if wantCode := run(args, nil, &want, &wantErr); code != wantCode || out != want.String() || out == "" {
		t.Errorf("inject: exit %d, %s\n%s\nwant sidecarctl's: exit %d\n%s", code, errOut, out, wantCode, want.String())
	}
	if _, errOut, code := plugin("frobnicate"); code != 1 || !strings.HasPrefix(errOut, "kubectl sidecar: ") {
		t.Errorf("unknown command: exit %d, %q; want 1 and an error from \"kubectl sidecar\"", code, errOut)
	}
}
