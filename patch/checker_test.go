package patch_test

import (
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
	"github.com/sidecarkit/sidecarkit/patch"
)

// The fuzz property can fail: a patch that rebuilds a container from its
// typed form (what marshal-and-diff webhooks do) loses its unknown fields,
// and checkRaw reports it.
func TestCheckerCatchesRebuiltContainer(t *testing.T) {
	spec := fuzzgen.Spec(fuzzgen.New([]byte{1, 1, 1, 1, 1, 1, 1, 1}))
	raw := fuzzgen.PlantUnknown(spec, &metav1.ObjectMeta{Name: "x"})
	c, _ := json.Marshal(&spec.Containers[0])
	ops := patch.Ops{{Op: "replace", Path: "/spec/containers/0", Value: c}}
	ft := &testing.T{}
	done := make(chan bool)
	go func() {
		defer func() { done <- true }()
		checkRaw(ft, raw, ops, spec, nil)
	}()
	<-done
	if !ft.Failed() {
		t.Fatal("checkRaw accepted a patch that drops unknown fields")
	}
}
