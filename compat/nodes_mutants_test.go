package compat_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestParseNodeIgnoredLabelEvidence: a node label that is ignored says so
// in the evidence, not only in the error.
func TestParseNodeIgnoredLabelEvidence(t *testing.T) {
	for _, c := range []struct {
		node corev1.Node
		want string
	}{
		{node("a", "v1.31.0", label("yes")), `label sidecarkit.io/native-sidecars="yes" is not a known value: ignored`},
		{node("a", "v1.27.3", label("native")), `label sidecarkit.io/native-sidecars="native" contradicts the version: ignored`},
	} {
		got, err := compat.ParseNode(&c.node)
		if err == nil {
			t.Errorf("%s: no error", c.want)
		}
		if ev := got.Evidence; len(ev) != 2 || ev[1].Source != "node-label" || ev[1].Subject != "node/a" || ev[1].Detail != c.want {
			t.Errorf("evidence %+v, want the version's, then %q", ev, c.want)
		}
	}
}

// TestFromNodesSameName: nodes are taken in name order, and nodes of the
// same name (not in one cluster, but in a list merged from several) keep
// the list's order.
func TestFromNodesSameName(t *testing.T) {
	a, b := node("n", "v1.29.0", nil), node("n", "v1.30.0", nil)
	for _, c := range []struct {
		nodes []corev1.Node
		first string
	}{
		{[]corev1.Node{a, b, node("m", "v1.31.0", nil)}, "v1.31.0"},
		{[]corev1.Node{b, a}, "v1.30.0"},
		{[]corev1.Node{a, b}, "v1.29.0"},
	} {
		got, err := compat.Cluster{Nodes: c.nodes}.For(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Evidence) != len(c.nodes) || !strings.Contains(got.Evidence[0].Detail, c.first) {
			t.Errorf("evidence %q, want %s first", evidence(got), c.first)
		}
	}
}

// TestFromNodesIntegerOperators: Gt and Lt compare a node label as an
// integer, strictly; a label that is not an integer matches neither.
func TestFromNodesIntegerOperators(t *testing.T) {
	for _, c := range []struct {
		op    corev1.NodeSelectorOperator
		value string // the requirement's
		label string // the node's
		match bool
	}{
		{corev1.NodeSelectorOpGt, "5", "6", true},
		{corev1.NodeSelectorOpGt, "5", "5", false},
		{corev1.NodeSelectorOpLt, "5", "4", true},
		{corev1.NodeSelectorOpLt, "5", "5", false},
		{corev1.NodeSelectorOpGt, "-1", "abc", false},
		{corev1.NodeSelectorOpLt, "1", "abc", false},
		{corev1.NodeSelectorOpGt, "-1", "", false},
	} {
		n := node("a", "v1.31.0", map[string]string{"gen": c.label})
		if c.label == "" {
			n.Labels = nil
		}
		spec := &corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "gen", Operator: c.op, Values: []string{c.value}}},
			}}},
		}}}
		got, err := compat.Cluster{Nodes: []corev1.Node{n}}.For(spec)
		if err != nil {
			t.Fatal(err)
		}
		if matched := got.Kubelet == compat.KubeletNative; matched != c.match {
			t.Errorf("gen=%q %s %s: matched %v, want %v (%s)", c.label, c.op, c.value, matched, c.match, evidence(got))
		}
	}
}
