package compat_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/compat"
)

func ev(subject string) compat.Evidence {
	return compat.Evidence{Source: "kubelet-version", Subject: subject, Detail: "d"}
}

func TestWeakest(t *testing.T) {
	native := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	native128 := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Unsupported}
	strips := compat.Capability{Kubelet: compat.KubeletStrips, OrderedTermination: compat.Unsupported}
	rejects := compat.Capability{Kubelet: compat.KubeletRejects, OrderedTermination: compat.Unsupported}
	drops := compat.Capability{APIServer: compat.APIServerDrops}
	unknownField := compat.Capability{APIServer: compat.APIServerUnknownField}
	tests := []struct {
		name   string
		in     []compat.Capability
		want   compat.Capability
		reason string
	}{
		{name: "none", want: compat.Capability{}},
		{name: "one", in: []compat.Capability{native}, want: native},
		{name: "native-and-1.28", in: []compat.Capability{native, native128},
			want: compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Unsupported}, reason: "the zero APIServer of the second peer counts"},
		{name: "native-and-strips", in: []compat.Capability{native, strips},
			want: compat.Capability{Kubelet: compat.KubeletStrips, OrderedTermination: compat.Unsupported}},
		{name: "strips-and-unknown", in: []compat.Capability{strips, {}},
			want:   compat.Capability{Kubelet: compat.KubeletUnknown, OrderedTermination: compat.Unsupported},
			reason: "an unknown node may reject: weaker than strips; a known lack of ordering is weaker than unknown"},
		{name: "rejects-and-unknown", in: []compat.Capability{{}, rejects},
			want: compat.Capability{Kubelet: compat.KubeletRejects, OrderedTermination: compat.Unsupported}, reason: "rejects is the weakest"},
		{name: "rejects-and-strips", in: []compat.Capability{strips, rejects, native},
			want: compat.Capability{Kubelet: compat.KubeletRejects, OrderedTermination: compat.Unsupported}},
		{name: "native-and-unknown", in: []compat.Capability{native, {}},
			want: compat.Capability{}},
		{name: "api-servers", in: []compat.Capability{native, drops, unknownField},
			want: compat.Capability{OrderedTermination: compat.Unknown, APIServer: compat.APIServerUnknownField}},
		{name: "api-drops-vs-stores", in: []compat.Capability{{APIServer: compat.APIServerStores}, drops},
			want: compat.Capability{APIServer: compat.APIServerDrops}},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, compat.Weakest(tc.in...)); diff != "" {
				t.Errorf("Weakest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWeakestKeepsEvidence(t *testing.T) {
	a := compat.Capability{Kubelet: compat.KubeletNative, Evidence: []compat.Evidence{ev("a")}}
	b := compat.Capability{Kubelet: compat.KubeletStrips, Evidence: []compat.Evidence{ev("b1"), ev("b2")}}
	got := compat.Weakest(a, b)
	want := []compat.Evidence{ev("a"), ev("b1"), ev("b2")}
	if diff := cmp.Diff(want, got.Evidence); diff != "" {
		t.Errorf("evidence (-want +got):\n%s", diff)
	}
	got.Evidence[0].Detail = "changed"
	if a.Evidence[0].Detail != "d" {
		t.Error("Weakest shares its input's evidence array")
	}
}

func TestOverride(t *testing.T) {
	skew := compat.Capability{Kubelet: compat.KubeletRejects, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerStores,
		Evidence: []compat.Evidence{ev("skew")}}
	tests := []struct {
		name   string
		base   compat.Capability
		over   compat.Capability
		want   compat.Capability
		reason string
	}{
		{name: "nodes-refine-skew", base: skew,
			over: compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, Evidence: []compat.Evidence{ev("nodes")}},
			want: compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores,
				Evidence: []compat.Evidence{ev("skew"), ev("nodes")}}},
		{name: "unknown-never-replaces", base: skew, over: compat.Capability{Evidence: []compat.Evidence{ev("nothing")}},
			want: compat.Capability{Kubelet: compat.KubeletRejects, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerStores,
				Evidence: []compat.Evidence{ev("skew"), ev("nothing")}}},
		{name: "join-api-and-nodes", base: compat.Capability{APIServer: compat.APIServerDrops},
			over: compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported},
			want: compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerDrops}},
		{name: "zero", want: compat.Capability{}},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.base.Override(tc.over)); diff != "" {
				t.Errorf("Override (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCapabilityStrings(t *testing.T) {
	c := compat.Capability{Kubelet: compat.KubeletStrips, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerUnknownField,
		Evidence: []compat.Evidence{ev("node/a")}}
	if got, want := c.String(), "kubelet=strips orderedTermination=unsupported apiServer=unknown-field"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := c.Explain(), c.String()+"\n  node/a (kubelet-version): d"; got != want {
		t.Errorf("Explain() = %q, want %q", got, want)
	}
	if got, want := (compat.Capability{}).String(), "kubelet=unknown orderedTermination=unknown apiServer=unknown"; got != want {
		t.Errorf("zero String() = %q, want %q", got, want)
	}
}

func TestCapabilityJSON(t *testing.T) {
	in := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Unsupported, APIServer: compat.APIServerDrops,
		Evidence: []compat.Evidence{ev("node/a")}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"kubelet":"native","orderedTermination":"unsupported","apiServer":"drops","evidence":[{"source":"kubelet-version","subject":"node/a","detail":"d"}]}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var out compat.Capability
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	err = json.Unmarshal([]byte(`{"kubelet":"maybe"}`), &out)
	if err == nil {
		t.Error("unknown kubelet value decoded without error")
	}
}
