package patchtest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// Verify proves, in a test, that a patch keeps every field the compiled API
// types do not know in its own element. The naive patch here replaces the
// app container with its typed form and loses "x-newer-field"; VerifyAs
// reads the document as the kind the caller knows it to be.
func ExampleVerifyAs() {
	raw := []byte(`{"apiVersion":"apps/v1","spec":{"template":{"spec":{
		"containers":[{"name":"app","image":"nginx","x-newer-field":true}]}}}}`)
	good := patch.Ops{{Op: "add", Path: "/spec/template/spec/containers/0/image", Value: json.RawMessage(`"nginx:2"`)}}
	naive := patch.Ops{{Op: "replace", Path: "/spec/template/spec/containers/0", Value: json.RawMessage(`{"name":"app","image":"nginx:2"}`)}}
	fmt.Println("field-level patch:", patchtest.VerifyAs(raw, "Deployment", good))
	var verr *patchtest.VerifyError
	if err := patchtest.VerifyAs(raw, "Deployment", naive); errors.As(err, &verr) {
		for _, v := range verr.Violations {
			fmt.Printf("naive patch: %s at %s\n", v.Kind, v.Path)
		}
	}
	// Output:
	// field-level patch: <nil>
	// naive patch: dropped at spec.template.spec.containers[name=app].x-newer-field
}

// addLogShipper is a webhook's own mutation under test: it appends a
// container to the Pod and returns the JSON patch.
func addLogShipper(raw []byte) (patch.Ops, error) {
	obj, err := patch.Decode(raw)
	if err != nil {
		return nil, err
	}
	m := obj.Mutation()
	if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "log-shipper", Image: "shipper:1"}); err != nil {
		return nil, err
	}
	return m.JSONPatch()
}

// Fuzzing one's own mutation: Generate turns the fuzzer's bytes into a
// Pod carrying unknown fields everywhere, and Verify fails the run when
// the mutation's patch loses one or touches what it does not name. In a
// real test this is the body of f.Fuzz(func(t *testing.T, data []byte)
// {...}) in a FuzzXxx(f *testing.F); here it runs on a few inputs.
func ExampleGenerate() {
	check := func(data []byte) error {
		raw, err := patchtest.Generate(data, "Pod")
		if err != nil {
			return err
		}
		ops, err := addLogShipper(raw)
		if err != nil {
			return nil // the mutation refused this Pod (say, a name clash): nothing to verify
		}
		return patchtest.Verify(raw, ops)
	}
	for _, seed := range []string{"", "a", "a Pod with many containers and volumes", "\x00\xff\x10\x80"} {
		fmt.Printf("%q: %v\n", seed, check([]byte(seed)))
	}
	// Output:
	// "": <nil>
	// "a": <nil>
	// "a Pod with many containers and volumes": <nil>
	// "\x00\xff\x10\x80": <nil>
}

// A golden test of one's own mutation: the patch for a fixed Pod is
// compared with testdata/log-shipper.patch.json, which `go test -update`
// rewrites (with var _ = flag.Bool("update", false, "...") in the test
// package). In a real test, t is the test's *testing.T; here a recorder
// stands in for it and prints what the test would report.
func ExampleGolden() {
	t := &recorder{}
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`)
	ops, err := addLogShipper(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := patchtest.Verify(raw, ops); err != nil {
		t.Error(err)
	}
	b, _ := json.MarshalIndent(ops, "", "  ")
	patchtest.Golden(t, "testdata/log-shipper.patch.json", append(b, '\n'))
	fmt.Println("failed:", t.failed)
	// Output:
	// failed: false
}

// recorder is a testing.TB that prints failures instead of failing.
type recorder struct {
	testing.TB // unused methods: not called by Golden
	failed     bool
}

func (r *recorder) Helper() {}
func (r *recorder) Error(args ...interface{}) {
	r.failed = true
	fmt.Println(args...)
}
func (r *recorder) Errorf(format string, args ...interface{}) {
	r.failed = true
	fmt.Printf(format+"\n", args...)
}
func (r *recorder) Fatal(args ...interface{}) { r.Error(args...) }
func (r *recorder) Fatalf(format string, args ...interface{}) {
	r.Errorf(format, args...)
}
