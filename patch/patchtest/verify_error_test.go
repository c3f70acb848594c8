package patchtest_test

import (
	"errors"
	"strconv"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

func TestVerifyErrorText(t *testing.T) {
	ops := patch.Ops{
		vRaw("add", "/spec/initContainers", "["+sidecar+"]"),
		{Op: "remove", Path: "/x-top"},
		vRaw("replace", "/spec/tolerations/0", `{"key":"k"}`),
	}
	err := patchtest.Verify([]byte(verifyPod), ops)
	want := "patch: verify: 2 violations: " +
		"spec.tolerations[0].x-tol: unknown field dropped by op 2 (replace /spec/tolerations/0); " +
		"x-top: unknown field dropped by op 1 (remove /x-top)"
	if err == nil || err.Error() != want {
		t.Errorf("Error() =\n%v\nwant\n%s", err, want)
	}
}

func TestVerifyErrorsIs(t *testing.T) {
	err := patchtest.Verify([]byte(verifyPod), patch.Ops{vRaw("add", "/spec/initContainers/0", sidecar)})
	if !errors.Is(err, patchtest.ErrApply) {
		t.Errorf("errors.Is(%v, ErrApply) = false", err)
	}
	if !errors.Is(err, jsonpatch.ErrMissing) {
		t.Errorf("errors.Is(%v, jsonpatch.ErrMissing) = false", err)
	}
	err = patchtest.Verify([]byte(verifyPod), patch.Ops{vOp("test", "/spec/containers/0/name", "x")})
	if !errors.Is(err, jsonpatch.ErrTestFailed) {
		t.Errorf("errors.Is(%v, jsonpatch.ErrTestFailed) = false", err)
	}
	var ve *patchtest.VerifyError
	if !errors.As(err, &ve) || !ve.Has(patchtest.ApplyFailed) || ve.Has(patchtest.Dropped) {
		t.Errorf("errors.As / Has wrong for %v", err)
	}
}

// TestVerifyBadDocuments: a document Verify cannot check is refused with
// an error (not a *VerifyError) that wraps the sentinel and says what is
// wrong with it, with or without a kind to read it as.
func TestVerifyBadDocuments(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want error
		msg  string // the error's text after "patch: verify: "
	}{
		{"not json", `{`, patchtest.ErrInvalidDocument,
			"patch: document is not a valid JSON object: jsontree: invalid JSON: unexpected end of JSON input"},
		{"array", `[]`, patchtest.ErrInvalidDocument, "patch: document is not a valid JSON object: it is an array"},
		{"string", `"Pod"`, patchtest.ErrInvalidDocument, "patch: document is not a valid JSON object: it is a string"},
		{"repeated member", `{"spec":{},"spec":{}}`, patchtest.ErrInvalidDocument,
			`patch: document is not a valid JSON object: jsontree: duplicate object key "spec" at ""`},
		{"trailing data", `{} {}`, patchtest.ErrInvalidDocument,
			"patch: document is not a valid JSON object: jsontree: invalid JSON: invalid character '{' after top-level value"},
		{"kind without pod spec", `{"kind":"ConfigMap"}`, patchtest.ErrUnsupportedKind, ""},
		{"kind not a string", `{"kind":1}`, patchtest.ErrUnsupportedKind, "kind: patch: unsupported kind: a number"},
		{"kind an object", `{"kind":{"name":"Pod"},"spec":{"containers":[]}}`, patchtest.ErrUnsupportedKind, "kind: patch: unsupported kind: an object"},
		{"kind null", `{"kind":null,"spec":{"containers":[]}}`, patchtest.ErrUnsupportedKind, "kind: patch: unsupported kind: a null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, verify := range []struct {
				name string
				f    func(doc []byte) error
			}{
				{"Verify", func(doc []byte) error { return patchtest.Verify(doc, nil) }},
				{"VerifyAs", func(doc []byte) error { return patchtest.VerifyAs(doc, "Pod", nil) }},
			} {
				err := verify.f([]byte(tt.doc))
				if !errors.Is(err, tt.want) {
					t.Errorf("%s = %v, want %v", verify.name, err, tt.want)
				}
				if tt.msg != "" && (err == nil || err.Error() != "patch: verify: "+tt.msg) {
					t.Errorf("%s = %v, want patch: verify: %s", verify.name, err, tt.msg)
				}
				var ve *patchtest.VerifyError
				if errors.As(err, &ve) {
					t.Errorf("%s returned a *VerifyError for a bad document: %v", verify.name, err)
				}
			}
		})
	}
}

// TestViolationKindString: every kind has its name; a value beyond the
// known kinds is named by its number, never a panic.
func TestViolationKindString(t *testing.T) {
	for k, want := range map[patchtest.ViolationKind]string{
		patchtest.Changed:          "changed",
		patchtest.Added:            "added",
		patchtest.Removed:          "removed",
		patchtest.Dropped:          "dropped",
		patchtest.Moved:            "moved",
		patchtest.ApplyFailed:      "apply failed",
		patchtest.Inconsistent:     "inconsistent",
		patchtest.Inconsistent + 1: "violation(7)",
		255:                        "violation(255)",
	} {
		if got := k.String(); got != want {
			t.Errorf("ViolationKind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

// causeError is a cause of an ApplyFailed violation, told apart by n.
type causeError struct{ n int }

func (e *causeError) Error() string { return "cause " + strconv.Itoa(e.n) }

// TestVerifyErrorUnwrap: Unwrap gives the causes of the violations that
// have one, in the violations' order, so that errors.As finds the first
// violation's cause.
func TestVerifyErrorUnwrap(t *testing.T) {
	e := &patchtest.VerifyError{Violations: []patchtest.Violation{
		{Kind: patchtest.Dropped, Path: "x-a"},
		{Kind: patchtest.ApplyFailed, Path: "/a", Err: &causeError{1}},
		{Kind: patchtest.Changed, Path: "b"},
		{Kind: patchtest.ApplyFailed, Path: "/c", Err: &causeError{2}},
	}}
	got := e.Unwrap()
	if len(got) != 2 || got[0].(*causeError).n != 1 || got[1].(*causeError).n != 2 {
		t.Errorf("Unwrap() = %v, want [cause 1 cause 2]", got)
	}
	var ce *causeError
	if !errors.As(e, &ce) || ce.n != 1 {
		t.Errorf("errors.As found %v, want cause 1", ce)
	}
	if (&patchtest.VerifyError{Violations: []patchtest.Violation{{Kind: patchtest.Dropped}}}).Unwrap() != nil {
		t.Error("Unwrap of violations without a cause is not nil")
	}
}
