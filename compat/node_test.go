package compat_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

func node(name, version string, labels map[string]string) corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: version}},
	}
}

func label(v string) map[string]string { return map[string]string{compat.NodeLabel: v} }

func TestParseNode(t *testing.T) {
	tests := []struct {
		name    string
		node    corev1.Node
		kubelet compat.Kubelet
		ordered compat.Support
		errText string
		reason  string
	}{
		{name: "version-only", node: node("a", "v1.30.4-gke.100", nil), kubelet: compat.KubeletNative, ordered: compat.Supported},
		{name: "1.28-default", node: node("a", "v1.28.9", nil), kubelet: compat.KubeletRejects, ordered: compat.Unsupported},
		{name: "1.28-labelled-native", node: node("a", "v1.28.9", label("native")), kubelet: compat.KubeletNative, ordered: compat.Unsupported,
			reason: "the operator saw the gate on; 1.28 termination stays unordered"},
		{name: "1.30-labelled-rejects", node: node("a", "v1.30.1", label("rejects")), kubelet: compat.KubeletRejects, ordered: compat.Unsupported,
			reason: "the operator saw the gate off"},
		{name: "label-without-version", node: node("a", "", label("native")), kubelet: compat.KubeletNative, ordered: compat.Unknown,
			errText: `compat: node "a": status.nodeInfo.kubeletVersion: kubelet version "": could not parse`},
		{name: "label-native-on-1.27", node: node("a", "v1.27.3", label("native")), kubelet: compat.KubeletStrips, ordered: compat.Unsupported,
			errText: `contradicts kubelet version "v1.27.3"`, reason: "a 1.27 kubelet cannot run native sidecars: the label is ignored"},
		{name: "label-unknown-value", node: node("a", "v1.31.0", label("yes")), kubelet: compat.KubeletNative, ordered: compat.Supported,
			errText: `label sidecarkit.io/native-sidecars="yes": want "native", "strips" or "rejects"`},
		{name: "label-empty-value", node: node("a", "v1.31.0", label("")), kubelet: compat.KubeletNative, ordered: compat.Supported,
			errText: `label sidecarkit.io/native-sidecars=""`},
		{name: "garbage-version", node: node("a", "unknown", nil), kubelet: compat.KubeletUnknown, ordered: compat.Unknown,
			errText: `compat: node "a": status.nodeInfo.kubeletVersion`},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := compat.ParseNode(&tc.node)
			if tc.errText == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)) {
				t.Fatalf("error %v, want one containing %q", err, tc.errText)
			}
			if err != nil && strings.Count(err.Error(), "compat: ") != strings.Count(err.Error(), "\n")+1 {
				t.Errorf("error %q should carry the compat: prefix once per joined error", err)
			}
			want := compat.Capability{Kubelet: tc.kubelet, OrderedTermination: tc.ordered}
			if diff := cmp.Diff(want, withoutEvidence(got)); diff != "" {
				t.Errorf("ParseNode (-want +got):\n%s", diff)
			}
			for _, e := range got.Evidence {
				if e.Subject != "node/a" {
					t.Errorf("evidence subject %q, want node/a", e.Subject)
				}
			}
		})
	}
}

func TestParseNodeNil(t *testing.T) {
	got, err := compat.ParseNode(nil)
	if err == nil || diff(compat.Capability{}, got) != "" {
		t.Errorf("ParseNode(nil) = %v, %v; want Unknown and an error", got, err)
	}
}

func diff(a, b interface{}) string { return cmp.Diff(a, b) }

func TestNodeLabelValue(t *testing.T) {
	for _, k := range []compat.Kubelet{compat.KubeletNative, compat.KubeletStrips, compat.KubeletRejects} {
		v, ok := compat.NodeLabelValue(k)
		if !ok || v != k.String() {
			t.Errorf("NodeLabelValue(%v) = %q, %v", k, v, ok)
		}
		n := node("n", "", label(v))
		if got, _ := compat.ParseNode(&n); got.Kubelet != k {
			t.Errorf("label %q read back as %v, want %v", v, got, k)
		}
	}
	if v, ok := compat.NodeLabelValue(compat.KubeletUnknown); ok || v != "" {
		t.Errorf("NodeLabelValue(unknown) = %q, %v; want \"\", false", v, ok)
	}
}

func TestNativeNodeSelectorRequirement(t *testing.T) {
	want := corev1.NodeSelectorRequirement{Key: "sidecarkit.io/native-sidecars", Operator: corev1.NodeSelectorOpIn, Values: []string{"native"}}
	got := compat.NativeNodeSelectorRequirement()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	got.Values[0] = "changed"
	if compat.NativeNodeSelectorRequirement().Values[0] != "native" {
		t.Error("the requirement shares its values between calls")
	}
}

func TestFromNodes(t *testing.T) {
	nodes := []corev1.Node{
		node("c-old", "v1.27.9", map[string]string{"pool": "legacy"}),
		node("a-new", "v1.31.1", map[string]string{"pool": "main", "zone": "z1"}),
		node("b-128", "v1.28.4", map[string]string{"pool": "main", "zone": "z2", compat.NodeLabel: "native"}),
		node("d-bad", "who-knows", map[string]string{"pool": "odd"}),
	}
	affinity := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	tests := []struct {
		name     string
		spec     *corev1.PodSpec
		kubelet  compat.Kubelet
		ordered  compat.Support
		subjects []string
		wantErr  string
		reason   string
	}{
		{name: "all-nodes", spec: nil, kubelet: compat.KubeletUnknown, ordered: compat.Unsupported,
			subjects: []string{"node/a-new", "node/b-128", "node/b-128", "node/c-old", "node/d-bad"}, wantErr: `node "d-bad"`,
			reason: "the unparsable node makes it unknown; evidence sorted by name"},
		{name: "node-selector", spec: &corev1.PodSpec{NodeSelector: map[string]string{"pool": "main"}},
			kubelet: compat.KubeletNative, ordered: compat.Unsupported,
			subjects: []string{"node/a-new", "node/b-128", "node/b-128", "pod"}, reason: "b-128 is labelled native but is 1.28: unordered"},
		{name: "node-name", spec: &corev1.PodSpec{NodeName: "c-old", NodeSelector: map[string]string{"pool": "main"}},
			kubelet: compat.KubeletStrips, ordered: compat.Unsupported, subjects: []string{"node/c-old", "pod"},
			reason: "a bound Pod only cares about its node; the selector no longer applies"},
		{name: "affinity", spec: &corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z1"}}}})},
			kubelet: compat.KubeletNative, ordered: compat.Supported, subjects: []string{"node/a-new", "pod"}},
		{name: "pinned", spec: &corev1.PodSpec{Affinity: affinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			compat.NativeNodeSelectorRequirement()}})},
			kubelet: compat.KubeletNative, ordered: compat.Unsupported, subjects: []string{"node/b-128", "node/b-128", "pod"},
			reason: "the Pinned strategy's requirement selects the labelled nodes"},
		{name: "no-match", spec: &corev1.PodSpec{NodeSelector: map[string]string{"pool": "gpu"}},
			kubelet: compat.KubeletUnknown, ordered: compat.Unknown, subjects: []string{"pod", "pod"}},
		{name: "invalid-term", spec: &corev1.PodSpec{Affinity: affinity(
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: "Like", Values: []string{"m"}}}},
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"legacy"}}}})},
			kubelet: compat.KubeletStrips, ordered: compat.Unsupported, subjects: []string{"node/c-old", "pod"},
			wantErr: `compat: spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]: operator "Like" on key "pool" is not supported`,
			reason:  "an invalid term matches nothing; the other term still counts"},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got, err := compat.Cluster{Nodes: nodes}.For(tc.spec)
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			want := compat.Capability{Kubelet: tc.kubelet, OrderedTermination: tc.ordered}
			if d := cmp.Diff(want, withoutEvidence(got)); d != "" {
				t.Errorf("FromNodes (-want +got):\n%s", d)
			}
			var subjects []string
			for _, e := range got.Evidence {
				subjects = append(subjects, e.Subject)
			}
			if d := cmp.Diff(tc.subjects, subjects); d != "" {
				t.Errorf("evidence subjects (-want +got):\n%s\n%s", d, got.Explain())
			}
		})
	}
}

func TestFromNodesEmpty(t *testing.T) {
	got, err := compat.Cluster{Nodes: nil}.For(nil)
	if err != nil || got.Kubelet != compat.KubeletUnknown || len(got.Evidence) != 1 {
		t.Errorf("FromNodes(nil) = %s, %v", got.Explain(), err)
	}
}
