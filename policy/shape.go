package policy

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// shape is where the pod spec and the metadata that decides about it live
// in the objects of one policy: in a Pod, in a workload's pod template, or
// in a CronJob's job template.
type shape struct {
	suffix string // of the policy's name
	rules  []admissionregistrationv1.NamedRuleWithOperations
	// spec and meta are CEL expressions of the pod spec and the pod (or
	// template) metadata; specPath and metaPath their JSON pointers.
	spec, specPath string
	meta, metaPath string
	// present is a CEL guard that the pod spec exists (a workload without
	// a template is left to the API server's validation).
	present string
	// metaType is the Object type of the metadata, to create it when a
	// template has none.
	metaType string
}

func rule(group, version string, resources ...string) admissionregistrationv1.NamedRuleWithOperations {
	return admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{
			APIGroups:   []string{group},
			APIVersions: []string{version},
			Resources:   resources,
		},
	}}
}

var (
	podShape = shape{
		rules:    []admissionregistrationv1.NamedRuleWithOperations{rule("", "v1", "pods")},
		spec:     "object.spec",
		specPath: "/spec",
		meta:     "object.metadata",
		metaPath: "/metadata",
		present:  "has(object.spec)",
		metaType: "Object.metadata",
	}
	// The kinds whose pod template is at spec.template, as the library's
	// webhook mutates them (admission.Config.Workloads).
	templateShape = shape{
		suffix: "-templates",
		rules: []admissionregistrationv1.NamedRuleWithOperations{
			rule("apps", "v1", "deployments", "statefulsets", "daemonsets", "replicasets"),
			rule("batch", "v1", "jobs"),
			rule("", "v1", "replicationcontrollers"),
		},
		spec:     "object.spec.template.spec",
		specPath: "/spec/template/spec",
		meta:     "object.spec.template.metadata",
		metaPath: "/spec/template/metadata",
		present:  "has(object.spec) && has(object.spec.template) && has(object.spec.template.spec)",
		metaType: "Object.spec.template.metadata",
	}
	cronJobShape = shape{
		suffix:   "-cronjobs",
		rules:    []admissionregistrationv1.NamedRuleWithOperations{rule("batch", "v1", "cronjobs")},
		spec:     "object.spec.jobTemplate.spec.template.spec",
		specPath: "/spec/jobTemplate/spec/template/spec",
		meta:     "object.spec.jobTemplate.spec.template.metadata",
		metaPath: "/spec/jobTemplate/spec/template/metadata",
		present: "has(object.spec) && has(object.spec.jobTemplate) && has(object.spec.jobTemplate.spec) && " +
			"has(object.spec.jobTemplate.spec.template) && has(object.spec.jobTemplate.spec.template.spec)",
		metaType: "Object.spec.jobTemplate.spec.template.metadata",
	}
)
