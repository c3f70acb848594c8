package compat_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestFromSkewPolicy checks docs/capability.md#version-skew: kubelets may be n-2 older before
// API server 1.28 and n-3 from 1.28; only from 1.32 are all of them ≥1.29.
func TestFromSkewPolicy(t *testing.T) {
	tests := []struct {
		name    string
		api     string
		oldest  string
		kubelet compat.Kubelet
		ordered compat.Support
		apiCap  compat.APIServer
		reason  string
	}{
		{name: "1.26", api: "v1.26.3", oldest: "1.24", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, apiCap: compat.APIServerUnknownField},
		{name: "1.27", api: "v1.27.0", oldest: "1.25", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, apiCap: compat.APIServerUnknownField,
			reason: "n-2 before 1.28"},
		{name: "1.28", api: "v1.28.1", oldest: "1.25", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, apiCap: compat.APIServerDrops,
			reason: "n-3 from 1.28; 1.28 kubelets reject by default, which is weaker than strips"},
		{name: "1.29", api: "v1.29.3-eks-ae9a62a", oldest: "1.26", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, apiCap: compat.APIServerStores},
		{name: "1.30", api: "v1.30.0", oldest: "1.27", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, apiCap: compat.APIServerStores},
		{name: "1.31", api: "v1.31.2+k3s1", oldest: "1.28", kubelet: compat.KubeletRejects, ordered: compat.Unsupported, apiCap: compat.APIServerStores,
			reason: "the oldest allowed kubelet is 1.28"},
		{name: "1.32", api: "v1.32.13", oldest: "1.29", kubelet: compat.KubeletNative, ordered: compat.Supported, apiCap: compat.APIServerStores,
			reason: "first API server whose in-policy kubelets are all ≥1.29"},
		{name: "1.33", api: "v1.33.0", oldest: "1.30", kubelet: compat.KubeletNative, ordered: compat.Supported, apiCap: compat.APIServerStores},
		{name: "1.37", api: "v1.37.2", oldest: "1.34", kubelet: compat.KubeletNative, ordered: compat.Supported, apiCap: compat.APIServerStores},
		{name: "1.1", api: "v1.1.0", oldest: "1.0", kubelet: compat.KubeletStrips, ordered: compat.Unsupported, apiCap: compat.APIServerUnknownField,
			reason: "the window is clipped at 1.0"},
		{name: "huge-minor", api: "v1.18446744073709551615", oldest: "1.18446744073709551612", kubelet: compat.KubeletNative, ordered: compat.Supported, apiCap: compat.APIServerStores,
			reason: "the largest uint minor must not overflow the window loop"},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			oldest, err := compat.OldestKubelet(tc.api)
			if err != nil {
				t.Fatal(err)
			}
			if oldest.String() != tc.oldest {
				t.Errorf("OldestKubelet(%q) = %s, want %s", tc.api, oldest, tc.oldest)
			}
			got, err := compat.FromSkewPolicy(tc.api)
			if err != nil {
				t.Fatal(err)
			}
			want := compat.Capability{Kubelet: tc.kubelet, OrderedTermination: tc.ordered, APIServer: tc.apiCap}
			if diff := cmp.Diff(want, withoutEvidence(got)); diff != "" {
				t.Errorf("FromSkewPolicy(%q) (-want +got):\n%s", tc.api, diff)
			}
			if n := len(got.Evidence); n != 2 || got.Evidence[1].Source != "skew-policy" {
				t.Errorf("evidence %v, want the API server version and the skew policy", got.Evidence)
			}
		})
	}
}

func TestFromSkewPolicyInvalid(t *testing.T) {
	for _, in := range []string{"", "junk", "v2.1.0"} {
		got, err := compat.FromSkewPolicy(in)
		if err == nil {
			t.Errorf("FromSkewPolicy(%q): no error", in)
		}
		if diff := cmp.Diff(compat.Capability{}, withoutEvidence(got)); diff != "" {
			t.Errorf("FromSkewPolicy(%q) not Unknown (-want +got):\n%s", in, diff)
		}
		if v, err := compat.OldestKubelet(in); err == nil || v != nil {
			t.Errorf("OldestKubelet(%q) = %v, %v; want nil and an error", in, v, err)
		}
	}
}
