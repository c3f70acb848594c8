package patch_test

import (
	"errors"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/sidecarkit/sidecarkit/patch"
)

func TestVerifyErrorText(t *testing.T) {
	ops := patch.Ops{
		vRaw("add", "/spec/initContainers", "["+sidecar+"]"),
		{Op: "remove", Path: "/x-top"},
		vRaw("replace", "/spec/tolerations/0", `{"key":"k"}`),
	}
	err := patch.Verify([]byte(verifyPod), ops)
	want := "patch: verify: 2 violations: " +
		"spec.tolerations[0].x-tol: unknown field dropped by op 2 (replace /spec/tolerations/0); " +
		"x-top: unknown field dropped by op 1 (remove /x-top)"
	if err == nil || err.Error() != want {
		t.Errorf("Error() =\n%v\nwant\n%s", err, want)
	}
}

func TestVerifyErrorsIs(t *testing.T) {
	err := patch.Verify([]byte(verifyPod), patch.Ops{vRaw("add", "/spec/initContainers/0", sidecar)})
	if !errors.Is(err, patch.ErrApply) {
		t.Errorf("errors.Is(%v, ErrApply) = false", err)
	}
	if !errors.Is(err, jsonpatch.ErrMissing) {
		t.Errorf("errors.Is(%v, jsonpatch.ErrMissing) = false", err)
	}
	err = patch.Verify([]byte(verifyPod), patch.Ops{vOp("test", "/spec/containers/0/name", "x")})
	if !errors.Is(err, jsonpatch.ErrTestFailed) {
		t.Errorf("errors.Is(%v, jsonpatch.ErrTestFailed) = false", err)
	}
	var ve *patch.VerifyError
	if !errors.As(err, &ve) || !ve.Has(patch.ApplyFailed) || ve.Has(patch.Dropped) {
		t.Errorf("errors.As / Has wrong for %v", err)
	}
}

func TestVerifyBadDocuments(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"not json", `{`, patch.ErrInvalidDocument},
		{"array", `[]`, patch.ErrInvalidDocument},
		{"repeated member", `{"spec":{},"spec":{}}`, patch.ErrInvalidDocument},
		{"trailing data", `{} {}`, patch.ErrInvalidDocument},
		{"kind without pod spec", `{"kind":"ConfigMap"}`, patch.ErrUnsupportedKind},
		{"kind not a string", `{"kind":1}`, patch.ErrUnsupportedKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := patch.Verify([]byte(tt.doc), nil)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
			var ve *patch.VerifyError
			if errors.As(err, &ve) {
				t.Errorf("Verify returned a *VerifyError for a bad document: %v", err)
			}
		})
	}
}
