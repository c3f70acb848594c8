package main

import (
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestDoctorRecognisesCompiledPolicy: doctor cluster's policy listing
// names the sidecar and mode of a policy `sidecarctl policy` compiled, and
// nothing for another policy.
func TestDoctorRecognisesCompiledPolicy(t *testing.T) {
	s, err := sidecar.LoadSpec([]byte("name: proxy\nimage: registry.example/proxy:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(s, policy.Options{Mode: sidecar.Pinned})
	if err != nil {
		t.Fatal(err)
	}
	got := sidecarkitPolicy(set.Mutating[0].Labels)
	if !strings.Contains(got, `sidecar "proxy", pinned mode`) {
		t.Errorf("compiled policy: %q", got)
	}
	if got := sidecarkitPolicy(map[string]string{"app.kubernetes.io/managed-by": "helm"}); got != "" {
		t.Errorf("another policy: %q", got)
	}
	if got := sidecarkitPolicy(map[string]string{"app.kubernetes.io/managed-by": "sidecarkit"}); got != "" {
		t.Errorf("no sidecar label: %q", got)
	}
}
