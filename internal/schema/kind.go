package schema

import (
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// kindCache holds the graph of each kind once it has been built (reflecting
// over a Pod takes about 2ms). Like encoding/json's field cache it holds
// only immutable data derived from compiled types: it never changes what a
// call returns, and callers cannot observe or modify it.
var kindCache sync.Map // kind string -> *Type

// ForKind returns the schema of an object kind that carries a pod spec:
// Pod ("" means Pod), PodTemplate, ReplicationController, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Job or CronJob. It reports false for
// any other kind. The graph of each kind is built once per process and
// shared; it is immutable.
func ForKind(kind string) (*Type, bool) {
	if kind == "" {
		kind = "Pod"
	}
	if t, ok := kindCache.Load(kind); ok {
		return t.(*Type), true
	}
	var v interface{}
	switch kind {
	case "Pod":
		v = corev1.Pod{}
	case "PodTemplate":
		v = corev1.PodTemplate{}
	case "ReplicationController":
		v = corev1.ReplicationController{}
	case "Deployment":
		v = appsv1.Deployment{}
	case "StatefulSet":
		v = appsv1.StatefulSet{}
	case "DaemonSet":
		v = appsv1.DaemonSet{}
	case "ReplicaSet":
		v = appsv1.ReplicaSet{}
	case "Job":
		v = batchv1.Job{}
	case "CronJob":
		v = batchv1.CronJob{}
	default:
		return nil, false
	}
	t, _ := kindCache.LoadOrStore(kind, Of(v))
	return t.(*Type), true
}

// Kinds returns the kinds [ForKind] knows, sorted.
func Kinds() []string {
	return []string{"CronJob", "DaemonSet", "Deployment", "Job", "Pod", "PodTemplate", "ReplicaSet", "ReplicationController", "StatefulSet"}
}
