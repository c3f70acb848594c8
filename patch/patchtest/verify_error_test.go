package patchtest_test

import (
	"errors"
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

func TestVerifyBadDocuments(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"not json", `{`, patchtest.ErrInvalidDocument},
		{"array", `[]`, patchtest.ErrInvalidDocument},
		{"repeated member", `{"spec":{},"spec":{}}`, patchtest.ErrInvalidDocument},
		{"trailing data", `{} {}`, patchtest.ErrInvalidDocument},
		{"kind without pod spec", `{"kind":"ConfigMap"}`, patchtest.ErrUnsupportedKind},
		{"kind not a string", `{"kind":1}`, patchtest.ErrUnsupportedKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patchtest.Verify([]byte(tt.doc), nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
			var ve *patchtest.VerifyError
			if errors.As(err, &ve) {
				t.Errorf("Verify returned a *VerifyError for a bad document: %v", err)
			}
		})
	}
}
