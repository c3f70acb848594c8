// Package applyv4 applies JSON patches the way kube-apiserver applies the
// patches of mutating admission webhooks: with gopkg.in/evanphx/json-patch.v4
// v4.13.0 (the version kube-apiserver 1.37.2 uses), which, unlike the
// strict v5 mode of patchtest.Verify, accepts negative array indices.
//
// It is a test oracle: the library itself depends on v5 only.
package applyv4

import (
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/sidecarkit/sidecarkit/patch"
)

// Apply applies ops to doc with json-patch v4 and returns the result. A
// panic inside json-patch (v4.13.0 panics on a "test" of an array holding
// null) is returned as an error.
func Apply(doc []byte, ops patch.Ops) (out []byte, err error) {
	raw, err := ops.MarshalJSON()
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, fmt.Errorf("applyv4: decode patch: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("applyv4: json-patch v4 panicked: %v", r)
		}
	}()
	return p.Apply(doc)
}
