package compat_test

import (
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestRecommend walks docs/modes.md#auto.
func TestRecommend(t *testing.T) {
	stores := compat.APIServerStores
	capab := func(a compat.APIServer, k compat.Kubelet, o compat.Support) compat.Capability {
		return compat.Capability{APIServer: a, Kubelet: k, OrderedTermination: o}
	}
	all := compat.Preference{AllowPinned: true, AllowUniversal: true}
	tests := []struct {
		name     string
		c        compat.Capability
		p        compat.Preference
		want     compat.Strategy
		code     compat.Code
		warnings int
		reason   string
	}{
		{name: "api-drops", c: capab(compat.APIServerDrops, compat.KubeletNative, compat.Supported), p: all, want: compat.Legacy, code: compat.CodeAPIServerDrops,
			reason: "nothing native survives an API server that drops the field"},
		{name: "api-unknown-field", c: capab(compat.APIServerUnknownField, compat.KubeletStrips, compat.Unsupported), p: all, want: compat.Legacy, code: compat.CodeAPIServerUnknownField},
		{name: "api-unknown-default", c: capab(compat.APIServerUnknown, compat.KubeletNative, compat.Supported), want: compat.Legacy, code: compat.CodeAPIServerUnknown},
		{name: "api-unknown-fallback-native", c: capab(compat.APIServerUnknown, compat.KubeletNative, compat.Supported),
			p: compat.Preference{Fallback: compat.Native}, want: compat.Native, code: compat.CodeAPIServerUnknown, reason: "the caller's stated fallback"},
		{name: "native", c: capab(stores, compat.KubeletNative, compat.Supported), want: compat.Native, code: compat.CodeAllNative},
		{name: "native-1.28", c: capab(stores, compat.KubeletNative, compat.Unsupported), want: compat.Native, code: compat.CodeUnorderedTermination, warnings: 1,
			reason: "docs/modes.md#unordered-termination: say so"},
		{name: "native-1.28-avoided", c: capab(stores, compat.KubeletNative, compat.Unsupported), p: compat.Preference{AvoidUnorderedTermination: true, AllowUniversal: true},
			want: compat.Legacy, code: compat.CodeUnorderedTermination, reason: "universal would act natively there too"},
		{name: "native-termination-unknown", c: capab(stores, compat.KubeletNative, compat.Unknown), want: compat.Native, code: compat.CodeAllNative, warnings: 1},
		{name: "rejects-pinned", c: capab(stores, compat.KubeletRejects, compat.Unsupported), p: all, want: compat.Pinned, code: compat.CodeNodeRejects, warnings: 1,
			reason: "never universal where a node rejects"},
		{name: "rejects-legacy", c: capab(stores, compat.KubeletRejects, compat.Unsupported), p: compat.Preference{AllowUniversal: true}, want: compat.Legacy, code: compat.CodeNodeRejects},
		{name: "strips-universal", c: capab(stores, compat.KubeletStrips, compat.Unsupported), p: all, want: compat.Universal, code: compat.CodeNodeStrips, warnings: 1},
		{name: "strips-pinned", c: capab(stores, compat.KubeletStrips, compat.Unsupported), p: compat.Preference{AllowPinned: true}, want: compat.Pinned, code: compat.CodeNodeStrips, warnings: 1},
		{name: "strips-legacy", c: capab(stores, compat.KubeletStrips, compat.Unsupported), want: compat.Legacy, code: compat.CodeNodeStrips},
		{name: "kubelet-unknown", c: capab(stores, compat.KubeletUnknown, compat.Unknown), p: all, want: compat.Legacy, code: compat.CodeKubeletUnknown,
			reason: "allowing strategies does not pick one for an unknown node"},
		{name: "kubelet-unknown-fallback-universal", c: capab(stores, compat.KubeletUnknown, compat.Unknown), p: compat.Preference{Fallback: compat.Universal},
			want: compat.Universal, code: compat.CodeKubeletUnknown, warnings: 1},
		{name: "kubelet-unknown-fallback-pinned", c: capab(stores, compat.KubeletUnknown, compat.Unknown), p: compat.Preference{Fallback: compat.Pinned},
			want: compat.Pinned, code: compat.CodeKubeletUnknown, warnings: 1},
		{name: "invalid-fallback", c: compat.Capability{}, p: compat.Preference{Fallback: compat.Strategy(42)}, want: compat.Legacy, code: compat.CodeAPIServerUnknown, warnings: 1},
		{name: "invalid-kubelet", c: capab(stores, compat.Kubelet(9), compat.Unknown), want: compat.Legacy, code: compat.CodeKubeletUnknown,
			reason: "out-of-range values are unknown"},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got := compat.Recommend(tc.c, tc.p)
			if got.Strategy != tc.want || got.Code != tc.code || len(got.Warnings) != tc.warnings {
				t.Errorf("Recommend = %v %s %q warnings %q; want %v %s with %d warnings", got.Strategy, got.Code, got.Reason, got.Warnings, tc.want, tc.code, tc.warnings)
			}
			if got.Reason == "" || strings.ToLower(got.Reason[:1]) != got.Reason[:1] {
				t.Errorf("reason %q should be a lower-case sentence", got.Reason)
			}
		})
	}
}

// TestRecommendNeverUniversalOnRejects checks docs/modes.md#auto (never universal where a node rejects) for every
// preference.
func TestRecommendNeverUniversalOnRejects(t *testing.T) {
	for _, pinned := range []bool{false, true} {
		for _, fb := range []compat.Strategy{compat.Legacy, compat.Native, compat.Pinned, compat.Universal} {
			p := compat.Preference{AllowPinned: pinned, AllowUniversal: true, Fallback: fb}
			c := compat.Capability{APIServer: compat.APIServerStores, Kubelet: compat.KubeletRejects}
			if got := compat.Recommend(c, p); got.Strategy == compat.Universal || got.Strategy == compat.Native {
				t.Errorf("Recommend(rejects, %+v) = %v", p, got.Strategy)
			}
		}
	}
}
