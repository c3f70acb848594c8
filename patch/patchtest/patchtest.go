// Package patchtest is test support for code that mutates Pods and
// workloads, like net/http/httptest is for HTTP handlers: for the golden
// tests and fuzzing of a webhook's or an operator's own mutation, whether
// it is built with package patch or not.
//
// The flow: [Generate] a random Pod or workload carrying fields unknown to
// the compiled Kubernetes API types from fuzz input, run your mutation on
// it to get a JSON patch, and [Verify] (or [VerifyAs]) that the patch keeps
// every such field in its own element and changes nothing outside the
// paths its ops name; compare the patch with a golden file with [Golden].
//
// Verify applies patches with github.com/evanphx/json-patch/v5 in strict
// mode, as an API server applies a webhook's patch. It costs milliseconds
// per call: it is meant for tests, not for the admission path.
package patchtest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/internal/podgen"
)

// Generate returns a random object of kind ("" or "Pod" for a Pod, or any
// kind with a pod template: Deployment, StatefulSet, DaemonSet, ReplicaSet,
// Job, CronJob, ReplicationController, PodTemplate) built from fuzz input
// data: realistic containers, init containers, volumes, env, ports and
// mounts with valid, unique names, and fields unknown to the compiled API
// types at every level, which a correct patch keeps (see Verify). The
// same data and kind always give the same bytes; any data gives an object
// that decodes with package patch. It fails only for an unsupported kind.
func Generate(data []byte, kind string) ([]byte, error) {
	if kind == "Pod" {
		kind = ""
	}
	d, err := podgen.Generate(data, podgen.Options{Kind: kind})
	if err != nil {
		return nil, fmt.Errorf("patchtest: %w", err)
	}
	return d.JSON, nil
}

// Golden compares got with the golden file at path and reports a
// difference as a test error, or, when the test binary runs with -update,
// writes got to path instead (creating its directory). patchtest
// registers no flag of its own, so that it never clashes with yours:
// define -update in your test package,
//
//	var _ = flag.Bool("update", false, "rewrite golden files")
//
// and run `go test -run TestX -update` to rewrite. A missing file is an
// error that names the flag.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("patchtest: read golden file (run the test with -update to create it): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}
