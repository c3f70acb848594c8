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
	"flag"
	"fmt"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/golden"
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
	f := flag.Lookup("update")
	golden.Check(t, f != nil && f.Value.String() == "true", path, got)
}
