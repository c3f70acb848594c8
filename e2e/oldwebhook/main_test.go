package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// TestModuleResolvesOldAPI proves what this module exists for: MVS picked
// the library's minimum Kubernetes API, not a newer one.
func TestModuleResolvesOldAPI(t *testing.T) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info in the test binary")
	}
	want := map[string]string{"k8s.io/api": "v0.28.0", "k8s.io/apimachinery": "v0.28.0"}
	got := map[string]string{}
	for _, d := range info.Deps {
		if _, ok := want[d.Path]; ok {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Path + "@" + d.Replace.Version
			}
			got[d.Path] = v
		}
	}
	for mod, v := range want {
		if got[mod] != v {
			t.Errorf("%s resolves to %q, want %s", mod, got[mod], v)
		}
	}
}

const testSpec = `container:
  name: proxy
  image: registry.invalid/proxy:v1
  startupProbe:
    exec: {command: ["/proxy", "--check"]}
volumes:
- name: proxy-socket
  emptyDir: {}
appMounts:
- name: proxy-socket
  mountPath: /var/run/proxy
`

// A Pod with fields k8s.io/api v0.28.0 does not know: pod-level resources,
// hostnameOverride and a container's restartPolicyRules.
const testPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"a/b~c":"x"}},
"spec":{"hostnameOverride":"custom","resources":{"requests":{"cpu":"1"}},
"containers":[{"name":"app","image":"registry.invalid/app:v1","restartPolicyRules":[{"action":"Restart","exitCodes":{"operator":"In","values":[42]}}]}]}}`

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "sidecar.yaml")
	if err := os.WriteFile(specFile, []byte(testSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		naive    bool
		wantKept bool
	}{
		{name: "guarded JSON patch keeps unknown fields", wantKept: true},
		{name: "naive spec replacement drops them", naive: true, wantKept: false},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			h, err := newHandler(specFile, "native", "v1.37.2", tc.naive)
			if err != nil {
				t.Fatal(err)
			}
			review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},"object":` + testPod + `}}`
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mutate", strings.NewReader(review)))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if out.Response == nil || !out.Response.Allowed || out.Response.UID != "u1" {
				t.Fatalf("response %+v: want allowed with uid u1", out.Response)
			}
			var ops patch.Ops
			if err := json.Unmarshal(out.Response.Patch, &ops); err != nil {
				t.Fatalf("patch %s: %v", out.Response.Patch, err)
			}
			err = patchtest.Verify([]byte(testPod), ops)
			if kept := err == nil; kept != tc.wantKept {
				t.Errorf("patchtest.Verify: %v; want unknown fields kept = %v\npatch: %s", err, tc.wantKept, out.Response.Patch)
			}
			if !bytes.Contains(out.Response.Patch, []byte(`"name":"proxy"`)) {
				t.Errorf("patch %s does not insert the sidecar", out.Response.Patch)
			}
		})
	}
}

func TestHandlerDeniesInvalidInjection(t *testing.T) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "sidecar.json")
	// The sidecar is named like the Pod's app container.
	if err := os.WriteFile(specFile, []byte(`{"name":"app","image":"registry.invalid/proxy:v1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(specFile, "native", "", false)
	if err != nil {
		t.Fatal(err)
	}
	review := `{"request":{"uid":"u2","kind":{"group":"","version":"v1","kind":"Pod"},"object":` + testPod + `}}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/mutate", strings.NewReader(review)))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil || out.Response.Allowed || out.Response.Result == nil {
		t.Fatalf("response %+v: want a denial", out.Response)
	}
	if msg := out.Response.Result.Message; !strings.Contains(msg, `"app"`) {
		t.Errorf("denial %q does not name the clashing container", msg)
	}
}

func TestFlagsFromEnv(t *testing.T) {
	env := map[string]string{"OLDWEBHOOK_MODE": "legacy", "OLDWEBHOOK_APISERVER_VERSION": "v1.37.2"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	mode := fs.String("mode", "native", "")
	version := fs.String("apiserver-version", "", "")
	listen := fs.String("listen", "127.0.0.1:0", "")
	if err := fs.Parse([]string{"-mode", "pinned"}); err != nil {
		t.Fatal(err)
	}
	if err := flagsFromEnv(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *mode != "pinned" || *version != "v1.37.2" || *listen != "127.0.0.1:0" {
		t.Errorf("mode %q, apiserver-version %q, listen %q: want pinned (command line wins), v1.37.2 (env), 127.0.0.1:0 (default)", *mode, *version, *listen)
	}

	bad := flag.NewFlagSet("t", flag.ContinueOnError)
	bad.Bool("naive", false, "")
	err := flagsFromEnv(bad, func(k string) string { return map[string]string{"OLDWEBHOOK_NAIVE": "maybe"}[k] })
	if err == nil || !strings.Contains(err.Error(), "$OLDWEBHOOK_NAIVE") {
		t.Errorf("invalid env value: err %v, want one naming $OLDWEBHOOK_NAIVE", err)
	}
}
