package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestModuleResolvesOldAPI: the point of this module is a Container type
// without restartPolicy (k8s.io/api before v0.28).
func TestModuleResolvesOldAPI(t *testing.T) {
	if _, ok := reflect.TypeOf(corev1.Container{}).FieldByName("RestartPolicy"); ok {
		t.Fatal("corev1.Container has RestartPolicy: this module must resolve k8s.io/api older than v0.28")
	}
}

// TestAdmitStripsRestartPolicy: the patch replaces the spec with one
// without the sidecar's restartPolicy and adds the annotation.
func TestAdmitStripsRestartPolicy(t *testing.T) {
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{
		"initContainers":[{"name":"proxy","image":"x","restartPolicy":"Always"}],
		"containers":[{"name":"app","image":"y"}]}}`
	resp, err := admit(&admissionv1.AdmissionRequest{Object: runtime.RawExtension{Raw: []byte(pod)}})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Allowed || resp.PatchType == nil {
		t.Fatalf("response %+v: want allowed with a JSON patch", resp)
	}
	var ops []struct {
		Op, Path string
		Value    json.RawMessage
	}
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[1].Path != "/spec" || !strings.Contains(string(ops[0].Value), Annotation) {
		t.Fatalf("ops %+v: want the annotation, then /spec replaced", ops)
	}
	if strings.Contains(string(ops[1].Value), "restartPolicy") || !strings.Contains(string(ops[1].Value), `"proxy"`) {
		t.Errorf("replaced spec %s: want the init container without restartPolicy", ops[1].Value)
	}
}
