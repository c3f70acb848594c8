package sidecar_test

import (
	"context"
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestOptionsThroughInject: every mode-choice option (Mode, AllowPinned,
// Fallback, AvoidUnorderedTermination, a Universal planner or none) is
// observable through sidecar.Inject and sidecar.Injector.Inject: the
// mode, compat's code, the warning, and where the sidecar lands, both in
// the typed result and in the raw Pod patched with the JSON patch.
func TestOptionsThroughInject(t *testing.T) {
	const raw = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"app:1","x-keep":1}]}}`
	spec := sidecar.Spec{Container: optioncases.Sidecar()}
	in, err := sidecar.NewInjector(spec)
	if err != nil {
		t.Fatal(err)
	}
	entries := []struct {
		name   string
		inject func(obj *patch.Object, tc optioncases.Case) (sidecar.Result, error)
	}{
		{"Inject", func(obj *patch.Object, tc optioncases.Case) (sidecar.Result, error) {
			return sidecar.Inject(obj.Meta, obj.Spec, spec, tc.Capability, tc.Options)
		}},
		{"Injector.Inject", func(obj *patch.Object, tc optioncases.Case) (sidecar.Result, error) {
			return in.Inject(context.Background(), obj.Meta, obj.Spec, tc.Capability, tc.Options)
		}},
	}
	for _, e := range entries {
		for _, tc := range optioncases.Cases() {
			t.Run(e.name+"/"+tc.Name, func(t *testing.T) {
				obj, err := patch.Decode([]byte(raw))
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.inject(obj, tc)
				if err != nil {
					t.Fatal(err)
				}
				if res.Mode != tc.Mode || res.Code != tc.Code {
					t.Errorf("mode %s, code %q; want %s, %q (reason: %s)", res.Mode, res.Code, tc.Mode, tc.Code, res.Reason)
				}
				if err := optioncases.CheckWarnings(tc, res.Warnings); err != nil {
					t.Error(err)
				}
				after := res.Mutation.Spec()
				if err := optioncases.CheckPlacement(&after, "proxy", tc.Mode); err != nil {
					t.Errorf("typed result: %v", err)
				}
				ops, err := res.Mutation.JSONPatch(obj.Root)
				if err != nil {
					t.Fatal(err)
				}
				out, err := applyOps(raw, ops)
				if err != nil {
					t.Fatalf("apply: %v", err)
				}
				patched, err := patch.Decode(out)
				if err != nil {
					t.Fatal(err)
				}
				if err := optioncases.CheckPlacement(patched.Spec, "proxy", tc.Mode); err != nil {
					t.Errorf("patched Pod: %v", err)
				}
				if err := patchtest.Verify([]byte(raw), ops); err != nil {
					t.Errorf("Verify: %v", err)
				}
			})
		}
	}
}

// applyOps applies ops to the raw document doc with evanphx/json-patch.
func applyOps(doc string, ops patch.Ops) ([]byte, error) {
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(b)
	if err != nil {
		return nil, err
	}
	o := jsonpatch.NewApplyOptions()
	o.SupportNegativeIndices = false
	return p.ApplyWithOptions([]byte(doc), o)
}
