package compat

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// placement is the node-selection part of a Pod spec, checked once:
// spec.nodeName, spec.nodeSelector and the required node affinity. It
// mirrors k8s.io/component-helpers scheduling/corev1/nodeaffinity (the
// scheduler's matcher), which is not a dependency of this module:
//   - nodeName, when set, selects that node only (the scheduler is bypassed);
//   - nodeSelector entries must all be labels of the node with equal values;
//   - required terms are ORed, requirements inside a term ANDed; an empty
//     term matches nothing; a term with an invalid requirement matches
//     nothing (and is reported once);
//   - matchFields support metadata.name with In/NotIn and exactly one value,
//     and are ignored for a node without a name, like the scheduler does.
//
// Unlike apimachinery's labels.NewRequirement it does not check the syntax
// of label keys and values (the API server validates them on create), and
// it never logs.
type placement struct {
	nodeName    string
	selector    map[string]string
	hasAffinity bool
	terms       []selectorTerm // valid, non-empty terms only
}

type selectorTerm struct {
	exprs  []labelRequirement
	fields []corev1.NodeSelectorRequirement
}

// labelRequirement is a node-label requirement with, for In and NotIn
// with more than a few values, the values as a set: every node is matched
// against every requirement, and a scan of a Pod's values per node would
// cost nodes × values.
type labelRequirement struct {
	corev1.NodeSelectorRequirement
	values map[string]bool
}

func newLabelRequirement(r corev1.NodeSelectorRequirement) labelRequirement {
	l := labelRequirement{NodeSelectorRequirement: r}
	if (r.Operator == corev1.NodeSelectorOpIn || r.Operator == corev1.NodeSelectorOpNotIn) && len(r.Values) > 8 {
		l.values = make(map[string]bool, len(r.Values))
		for _, v := range r.Values {
			l.values[v] = true
		}
	}
	return l
}

// has reports whether v is one of the requirement's values.
func (l *labelRequirement) has(v string) bool {
	if l.values != nil {
		return l.values[v]
	}
	return contains(l.Values, v)
}

func newPlacement(spec *corev1.PodSpec) (placement, []error) {
	var p placement
	if spec == nil {
		return p, nil
	}
	p.nodeName = spec.NodeName
	p.selector = spec.NodeSelector
	a := spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return p, nil
	}
	p.hasAffinity = true
	var errs []error
	path := field.NewPath("spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	for i, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
			continue // an empty term selects no node
		}
		ok := true
		for j, r := range t.MatchExpressions {
			if err := checkLabelRequirement(r); err != nil {
				errs = append(errs, fmt.Errorf("compat: %s: %w", path.Index(i).Child("matchExpressions").Index(j), err))
				ok = false
			}
		}
		for j, r := range t.MatchFields {
			if err := checkFieldRequirement(r); err != nil {
				errs = append(errs, fmt.Errorf("compat: %s: %w", path.Index(i).Child("matchFields").Index(j), err))
				ok = false
			}
		}
		if ok {
			exprs := make([]labelRequirement, len(t.MatchExpressions))
			for j, r := range t.MatchExpressions {
				exprs[j] = newLabelRequirement(r)
			}
			p.terms = append(p.terms, selectorTerm{exprs: exprs, fields: t.MatchFields})
		}
	}
	return p, errs
}

func checkLabelRequirement(r corev1.NodeSelectorRequirement) error {
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) == 0 {
			return fmt.Errorf("operator %s on key %q needs at least one value", r.Operator, r.Key)
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(r.Values) != 0 {
			return fmt.Errorf("operator %s on key %q takes no values, got %q", r.Operator, r.Key, r.Values)
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			return fmt.Errorf("operator %s on key %q needs exactly one value, got %q", r.Operator, r.Key, r.Values)
		}
		if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			return fmt.Errorf("operator %s on key %q needs an integer, got %q", r.Operator, r.Key, r.Values[0])
		}
	default:
		return fmt.Errorf("operator %q on key %q is not supported", r.Operator, r.Key)
	}
	return nil
}

func checkFieldRequirement(r corev1.NodeSelectorRequirement) error {
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) != 1 {
			return fmt.Errorf("field operator %s on %q needs exactly one value, got %q", r.Operator, r.Key, r.Values)
		}
		return nil
	}
	return fmt.Errorf("field operator %q on %q is not supported (In or NotIn only)", r.Operator, r.Key)
}

// matches reports whether the Pod may be placed on n.
func (p placement) matches(n *corev1.Node) bool {
	if p.nodeName != "" {
		return n.Name == p.nodeName
	}
	for k, v := range p.selector {
		if lv, ok := n.Labels[k]; !ok || lv != v {
			return false
		}
	}
	if !p.hasAffinity {
		return true
	}
	for _, t := range p.terms {
		if t.matches(n) {
			return true
		}
	}
	return false
}

func (t selectorTerm) matches(n *corev1.Node) bool {
	for i := range t.exprs {
		if !labelRequirementMatches(&t.exprs[i], n.Labels) {
			return false
		}
	}
	if n.Name == "" {
		return true // the scheduler skips field requirements without a node name
	}
	for _, r := range t.fields {
		v := "" // only metadata.name is a node field
		if r.Key == "metadata.name" {
			v = n.Name
		}
		if (v == r.Values[0]) != (r.Operator == corev1.NodeSelectorOpIn) {
			return false
		}
	}
	return true
}

// labelRequirementMatches evaluates a requirement that checkLabelRequirement
// accepted.
func labelRequirementMatches(r *labelRequirement, labels map[string]string) bool {
	v, has := labels[r.Key]
	switch r.Operator {
	case corev1.NodeSelectorOpIn:
		return has && r.has(v)
	case corev1.NodeSelectorOpNotIn:
		return !has || !r.has(v)
	case corev1.NodeSelectorOpExists:
		return has
	case corev1.NodeSelectorOpDoesNotExist:
		return !has
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if !has {
			return false
		}
		got, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		want, _ := strconv.ParseInt(r.Values[0], 10, 64) // checked
		if r.Operator == corev1.NodeSelectorOpGt {
			return got > want
		}
		return got < want
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
