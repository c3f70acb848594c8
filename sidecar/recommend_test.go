package sidecar_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/golden"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// anyPlanner allows Auto the universal pair (Recommend asks only whether
// Options.Universal is set).
var anyPlanner sidecar.Planner = planner{}

// TestRecommend walks docs/modes.md#auto.
func TestRecommend(t *testing.T) {
	stores := compat.APIServerStores
	capab := func(a compat.APIServer, k compat.Kubelet, o compat.Support) compat.Capability {
		return compat.Capability{APIServer: a, Kubelet: k, OrderedTermination: o}
	}
	all := sidecar.Options{AllowPinned: true, Universal: anyPlanner}
	tests := []struct {
		name     string
		c        compat.Capability
		o        sidecar.Options
		want     sidecar.Mode
		code     compat.Code
		warnings int
		reason   string
	}{
		{name: "api-drops", c: capab(compat.APIServerDrops, compat.KubeletNative, compat.Supported), o: all, want: sidecar.Legacy, code: compat.CodeAPIServerDrops,
			reason: "nothing native survives an API server that drops the field"},
		{name: "api-unknown-field", c: capab(compat.APIServerUnknownField, compat.KubeletStrips, compat.Unsupported), o: all, want: sidecar.Legacy, code: compat.CodeAPIServerUnknownField},
		{name: "api-unknown-default", c: capab(compat.APIServerUnknown, compat.KubeletNative, compat.Supported), want: sidecar.Legacy, code: compat.CodeAPIServerUnknown},
		{name: "api-unknown-fallback-native", c: capab(compat.APIServerUnknown, compat.KubeletNative, compat.Supported),
			o: sidecar.Options{Fallback: sidecar.Native}, want: sidecar.Native, code: compat.CodeAPIServerUnknown, reason: "the caller's stated fallback"},
		{name: "native", c: capab(stores, compat.KubeletNative, compat.Supported), want: sidecar.Native, code: compat.CodeAllNative},
		{name: "native-1.28", c: capab(stores, compat.KubeletNative, compat.Unsupported), want: sidecar.Native, code: compat.CodeUnorderedTermination, warnings: 1,
			reason: "docs/modes.md#unordered-termination: say so"},
		{name: "native-1.28-avoided", c: capab(stores, compat.KubeletNative, compat.Unsupported), o: sidecar.Options{AvoidUnorderedTermination: true, Universal: anyPlanner},
			want: sidecar.Legacy, code: compat.CodeUnorderedTermination, reason: "universal would act natively there too"},
		{name: "native-termination-unknown", c: capab(stores, compat.KubeletNative, compat.Unknown), want: sidecar.Native, code: compat.CodeAllNative, warnings: 1},
		{name: "rejects-pinned", c: capab(stores, compat.KubeletRejects, compat.Unsupported), o: all, want: sidecar.Pinned, code: compat.CodeNodeRejects, warnings: 1,
			reason: "never universal where a node rejects"},
		{name: "rejects-legacy", c: capab(stores, compat.KubeletRejects, compat.Unsupported), o: sidecar.Options{Universal: anyPlanner}, want: sidecar.Legacy, code: compat.CodeNodeRejects},
		{name: "strips-universal", c: capab(stores, compat.KubeletStrips, compat.Unsupported), o: all, want: sidecar.Universal, code: compat.CodeNodeStrips, warnings: 1},
		{name: "strips-pinned", c: capab(stores, compat.KubeletStrips, compat.Unsupported), o: sidecar.Options{AllowPinned: true}, want: sidecar.Pinned, code: compat.CodeNodeStrips, warnings: 1},
		{name: "strips-legacy", c: capab(stores, compat.KubeletStrips, compat.Unsupported), want: sidecar.Legacy, code: compat.CodeNodeStrips},
		{name: "kubelet-unknown", c: capab(stores, compat.KubeletUnknown, compat.Unknown), o: all, want: sidecar.Legacy, code: compat.CodeKubeletUnknown,
			reason: "allowing modes does not pick one for an unknown node"},
		{name: "kubelet-unknown-fallback-universal", c: capab(stores, compat.KubeletUnknown, compat.Unknown), o: sidecar.Options{Fallback: sidecar.Universal},
			want: sidecar.Universal, code: compat.CodeKubeletUnknown, warnings: 1},
		{name: "kubelet-unknown-fallback-pinned", c: capab(stores, compat.KubeletUnknown, compat.Unknown), o: sidecar.Options{Fallback: sidecar.Pinned},
			want: sidecar.Pinned, code: compat.CodeKubeletUnknown, warnings: 1},
		{name: "invalid-kubelet", c: capab(stores, compat.Kubelet(9), compat.Unknown), want: sidecar.Legacy, code: compat.CodeKubeletUnknown,
			reason: "out-of-range values are unknown"},
		{name: "forced-native-on-strips", c: capab(compat.APIServerDrops, compat.KubeletStrips, compat.Unsupported), o: sidecar.Options{Mode: sidecar.Native}, want: sidecar.Native, warnings: 2,
			reason: "a forced mode is kept, with what will fail"},
		{name: "forced-pinned-on-rejects", c: capab(compat.APIServerUnknownField, compat.KubeletRejects, compat.Unsupported), o: sidecar.Options{Mode: sidecar.Pinned}, want: sidecar.Pinned, warnings: 1,
			reason: "pinning avoids the node, not the API server"},
		{name: "forced-legacy", c: capab(compat.APIServerDrops, compat.KubeletStrips, compat.Unsupported), o: sidecar.Options{Mode: sidecar.Legacy}, want: sidecar.Legacy},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := sidecar.Recommend(tc.c, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if got.Mode != tc.want || got.Code != tc.code || len(got.Warnings) != tc.warnings {
				t.Errorf("Recommend = %v %s %q warnings %q; want %v %s with %d warnings (%s)", got.Mode, got.Code, got.Reason, got.Warnings, tc.want, tc.code, tc.warnings, tc.reason)
			}
			if got.Reason == "" || strings.ToLower(got.Reason[:1]) != got.Reason[:1] {
				t.Errorf("reason %q should be a lower-case sentence", got.Reason)
			}
		})
	}
}

// A mode that is not one of the modes is an error that names the option.
func TestRecommendErrors(t *testing.T) {
	for _, tc := range []struct {
		o    sidecar.Options
		want string
	}{
		{sidecar.Options{Mode: "sideways"}, `sidecar: unknown mode "sideways"`},
		{sidecar.Options{Fallback: "sideways"}, `sidecar: Options.Fallback: unknown mode "sideways"`},
	} {
		if _, err := sidecar.Recommend(compat.Capability{}, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Recommend(%+v) = %v, want an error containing %q", tc.o, err, tc.want)
		}
	}
}

// docs/modes.md#auto: never universal (or native) where a node rejects,
// whatever the options.
func TestRecommendNeverUniversalOnRejects(t *testing.T) {
	for _, pinned := range []bool{false, true} {
		for _, fb := range []sidecar.Mode{sidecar.Auto, sidecar.Legacy, sidecar.Native, sidecar.Pinned, sidecar.Universal} {
			o := sidecar.Options{AllowPinned: pinned, Universal: anyPlanner, Fallback: fb}
			c := compat.Capability{APIServer: compat.APIServerStores, Kubelet: compat.KubeletRejects}
			got, err := sidecar.Recommend(c, o)
			if err != nil || got.Mode == sidecar.Universal || got.Mode == sidecar.Native {
				t.Errorf("Recommend(rejects, %+v) = %v, %v", o, got.Mode, err)
			}
		}
	}
}

// TestRecommendMatrix is the golden table of Auto's choice for every
// capability (API server, weakest kubelet, ordered termination) under
// four mode policies. Package compat's TestMatrix gives the capability
// of every version pair from 1.26 to 1.37.
func TestRecommendMatrix(t *testing.T) {
	policies := []struct {
		name string
		o    sidecar.Options
	}{
		{"zero", sidecar.Options{}},
		{"pinned", sidecar.Options{AllowPinned: true}},
		{"pinned+universal", sidecar.Options{AllowPinned: true, Universal: anyPlanner}},
		{"avoid-unordered+fallback-native", sidecar.Options{AvoidUnorderedTermination: true, Fallback: sidecar.Native}},
	}
	var b bytes.Buffer
	b.WriteString("# Generated by TestRecommendMatrix (go test ./sidecar -run TestRecommendMatrix -update). See docs/modes.md#auto.\n# A cell is the mode, its code, and +the code of each warning.\n")
	w := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	fmt.Fprint(w, "apiserver\tkubelet\ttermination")
	for _, p := range policies {
		fmt.Fprintf(w, "\t| %s", p.name)
	}
	fmt.Fprintln(w)
	for a := compat.APIServerUnknown; a <= compat.APIServerUnknownField; a++ {
		for k := compat.KubeletUnknown; k <= compat.KubeletRejects; k++ {
			for s := compat.Unknown; s <= compat.Supported; s++ {
				c := compat.Capability{APIServer: a, Kubelet: k, OrderedTermination: s}
				fmt.Fprintf(w, "%s\t%s\t%s", a, k, s)
				for _, p := range policies {
					r, err := sidecar.Recommend(c, p.o)
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(w, "\t| %s %s", r.Mode, r.Code)
					for _, x := range r.Warnings {
						fmt.Fprintf(w, " +%s", x.Code)
					}
				}
				fmt.Fprintln(w)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, *update, filepath.Join("testdata", "recommend.golden"), b.Bytes())
}

// costWarning is the warning Recommend gives a Universal choice (Inject
// replaces it with the planner's own, which has the numbers).
func costWarning(t *testing.T) compat.Finding {
	t.Helper()
	c := compat.Capability{APIServer: compat.APIServerStores, Kubelet: compat.KubeletStrips, OrderedTermination: compat.Unsupported}
	r, err := sidecar.Recommend(c, sidecar.Options{Universal: anyPlanner})
	if err != nil || r.Mode != sidecar.Universal || len(r.Warnings) != 1 {
		t.Fatalf("Recommend(strips, universal) = %+v, %v", r, err)
	}
	return r.Warnings[0]
}
