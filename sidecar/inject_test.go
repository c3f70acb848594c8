package sidecar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/golden"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Capabilities used by the matrix, by name.
var capabilities = map[string]compat.Capability{
	"native":  {Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores},
	"strips":  {Kubelet: compat.KubeletStrips, APIServer: compat.APIServerStores},
	"rejects": {Kubelet: compat.KubeletRejects, APIServer: compat.APIServerStores},
	"drops":   {Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerDrops},
	"unknown": {},
}

type injectCase struct {
	name, pod, spec string
	mode            sidecar.Mode
	capability      string
	allowPinned     bool
}

func matrix() []injectCase {
	var cases []injectCase
	pods := []string{"no-init", "several-init", "istio-native", "job-never", "job-onfailure", "pod-level-resources", "legacy-sidecar"}
	modes := []struct {
		name string
		mode sidecar.Mode
		cap  string
		pin  bool
	}{
		{"native", sidecar.Native, "native", false},
		{"legacy", sidecar.Legacy, "native", false},
		{"pinned", sidecar.Pinned, "rejects", false},
		{"auto-native", sidecar.Auto, "native", false},
		{"auto-drops", sidecar.Auto, "drops", false},
		{"auto-rejects-pin", sidecar.Auto, "rejects", true},
		{"auto-unknown", sidecar.Auto, "unknown", false},
	}
	for _, p := range pods {
		for _, m := range modes {
			spec := "full"
			if p == "legacy-sidecar" {
				spec = "plain"
			}
			cases = append(cases, injectCase{name: p + "." + m.name, pod: p, spec: spec, mode: m.mode, capability: m.cap, allowPinned: m.pin})
		}
	}
	cases = append(cases,
		injectCase{name: "istio-native.after-istio", pod: "istio-native", spec: "after-istio", mode: sidecar.Native, capability: "native"},
		injectCase{name: "no-init.after-missing", pod: "no-init", spec: "after-istio", mode: sidecar.Native, capability: "native"},
		// Legacy: the placement names an init container, so the sidecar goes first among the regular containers, without a warning.
		injectCase{name: "istio-native.after-istio-legacy", pod: "istio-native", spec: "after-istio", mode: sidecar.Legacy, capability: "native"},
		injectCase{name: "several-init.plain", pod: "several-init", spec: "plain", mode: sidecar.Native, capability: "native"},
		injectCase{name: "foreign-proxy.native", pod: "foreign-proxy", spec: "plain", mode: sidecar.Native, capability: "native"},
		injectCase{name: "no-init.universal-without-planner", pod: "no-init", spec: "plain", mode: sidecar.Universal, capability: "strips"},
	)
	return cases
}

// output is the golden form of one Inject call.
type output struct {
	Error     string                  `json:"error,omitempty"`
	Mode      string                  `json:"mode,omitempty"`
	Code      string                  `json:"code,omitempty"`
	Reason    string                  `json:"reason,omitempty"`
	Skipped   string                  `json:"skipped,omitempty"`
	Warnings  []compat.Finding        `json:"warnings,omitempty"`
	Resources *sidecar.ResourceReport `json:"resources,omitempty"`
	Patch     json.RawMessage         `json:"patch,omitempty"`
}

// TestInjectGolden runs the matrix of pods × specs × modes × capabilities
// and compares each Result and JSON patch with testdata/inject/golden. For
// every successful case it also applies the patch to the raw pod and checks
// that the result is valid, keeps every unknown field in its element, and
// that injecting again changes nothing.
func TestInjectGolden(t *testing.T) {
	// One Injector per spec, shared by every case (as a webhook shares
	// it between requests), must give what Inject gives.
	injectors := map[string]*sidecar.Injector{}
	for _, tc := range matrix() {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			raw := readFile(t, filepath.Join("testdata/inject/pods", tc.pod+".json"))
			s := loadSpec(t, tc.spec)
			obj := decode(t, raw)
			opts := sidecar.Options{Mode: tc.mode, AllowPinned: tc.allowPinned, PodResources: obj.PodResources}
			res, err := sidecar.Inject(obj.Meta, obj.Spec, s, capabilities[tc.capability], opts)
			in := injectors[tc.spec]
			if in == nil {
				if in, err = sidecar.NewInjector(s); err != nil {
					t.Fatal(err)
				}
				injectors[tc.spec] = in
			}
			checkInjector(t, in, obj, capabilities[tc.capability], opts, res, err)
			var out output
			var ops patch.Ops
			if err != nil {
				out.Error = err.Error()
			} else {
				ops, err = res.Mutation.JSONPatch(obj.Root)
				if err != nil {
					t.Fatal(err)
				}
				out.Mode, out.Reason, out.Skipped, out.Warnings = string(res.Mode), res.Reason, string(res.Skipped), res.Warnings
				out.Code = string(res.Code)
				r := res.Resources()
				out.Resources = &r
				out.Patch = mustJSON(t, ops)
			}
			golden.Check(t, *update, filepath.Join("testdata/inject/golden", tc.name+".json"), indent(t, mustJSON(t, out)))
			if out.Error != "" {
				return
			}
			if err := patchtest.Verify(raw, ops); err != nil {
				t.Errorf("Verify: %v", err)
			}
			patched := apply(t, raw, ops)
			checkUnknownKept(t, raw, patched)
			after := decode(t, patched)
			if errs := sidecar.ValidatePod(after.Spec); len(errs) > 0 {
				t.Errorf("patched pod fails validation: %v", errs.ToAggregate())
			}
			again, err := sidecar.Inject(after.Meta, after.Spec, s, capabilities[tc.capability], opts)
			if err != nil {
				t.Fatalf("inject again: %v", err)
			}
			if !again.Mutation.Empty() || again.Skipped != sidecar.SkipAlreadyInjected {
				ops2, _ := again.Mutation.JSONPatch(after.Root)
				t.Errorf("inject again: skipped=%q ops=%s; want an empty mutation", again.Skipped, mustJSON(t, ops2))
			}
		})
	}
}

func loadSpec(t *testing.T, name string) sidecar.Spec {
	t.Helper()
	s, err := sidecar.LoadSpec(readFile(t, filepath.Join("testdata/inject/specs", name+".yaml")))
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
	o := jsonpatch.NewApplyOptions()
	o.SupportNegativeIndices = false
	out, err := p.ApplyWithOptions(doc, o)
	if err != nil {
		t.Fatalf("apply %s: %v", mustJSON(t, ops), err)
	}
	return out
}

// checkUnknownKept checks that every "x-" member of before is in after, with
// its value, inside an element of the same name.
func checkUnknownKept(t *testing.T, before, after []byte) {
	t.Helper()
	want, got := unknownFields(t, before), unknownFields(t, after)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("unknown field %s = %s lost or changed (now %q)", k, v, got[k])
		}
	}
}

// unknownFields maps "element-name-path/x-key" to the value's JSON, for
// every member whose key starts with "x-".
func unknownFields(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var v interface{}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(path string, v interface{})
	walk = func(path string, v interface{}) {
		switch x := v.(type) {
		case map[string]interface{}:
			if n, ok := x["name"].(string); ok {
				path += "[" + n + "]"
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if strings.HasPrefix(k, "x-") {
					b, _ := json.Marshal(x[k])
					out[path+"/"+k] = string(b)
					continue
				}
				seg := k
				if k == "initContainers" || k == "containers" {
					seg = "<containers>" // names are unique across both lists
				}
				walk(path+"/"+seg, x[k])
			}
		case []interface{}:
			for _, e := range x {
				walk(path, e)
			}
		}
	}
	walk("", v)
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

var _ = cmp.Diff
var _ = cmpopts.EquateEmpty

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// checkInjector checks that in.Inject gives what Inject gave: the same
// error, or the same mode, reasons, warnings and patch bytes.
func checkInjector(t *testing.T, in *sidecar.Injector, obj *patch.Object, c compat.Capability, opts sidecar.Options, want sidecar.Result, wantErr error) {
	t.Helper()
	got, err := in.Inject(context.Background(), obj.Meta, obj.Spec, c, opts)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("Injector.Inject error %v, Inject error %v", err, wantErr)
	}
	if err != nil {
		return
	}
	if got.Mode != want.Mode || got.Code != want.Code || got.Reason != want.Reason || got.Skipped != want.Skipped ||
		!reflect.DeepEqual(got.Warnings, want.Warnings) {
		t.Errorf("Injector.Inject result %+v, Inject result %+v", got, want)
	}
	g, err := got.Mutation.MarshalJSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.Mutation.MarshalJSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("Injector.Inject patch\n%s\nInject patch\n%s", g, w)
	}
}
