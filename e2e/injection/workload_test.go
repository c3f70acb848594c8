package injection_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// workloadKind knows how to create, read and patch one workload kind as
// raw JSON, and where its pod template is.
type workloadKind struct {
	kind     string
	resource string
	client   func(c *cluster.Cluster) rest.Interface
	// object returns a new object of the kind with the given template.
	object func(name string, tmpl corev1.PodTemplateSpec) any
	// template returns the pod template of a decoded object.
	template func(raw []byte) (*corev1.PodTemplateSpec, error)
}

var workloadKinds = []workloadKind{{
	kind:     "Deployment",
	resource: "deployments",
	client:   func(c *cluster.Cluster) rest.Interface { return c.Client().AppsV1().RESTClient() },
	object: func(name string, tmpl corev1.PodTemplateSpec) any {
		replicas := int32(2)
		return &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
				Template: tmpl,
			},
		}
	},
	template: func(raw []byte) (*corev1.PodTemplateSpec, error) {
		var d appsv1.Deployment
		err := json.Unmarshal(raw, &d)
		return &d.Spec.Template, err
	},
}, {
	kind:     "CronJob",
	resource: "cronjobs",
	client:   func(c *cluster.Cluster) rest.Interface { return c.Client().BatchV1().RESTClient() },
	object: func(name string, tmpl corev1.PodTemplateSpec) any {
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		return &batchv1.CronJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.CronJobSpec{
				Schedule:    "*/5 * * * *",
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}},
			},
		}
	},
	template: func(raw []byte) (*corev1.PodTemplateSpec, error) {
		var cj batchv1.CronJob
		err := json.Unmarshal(raw, &cj)
		return &cj.Spec.JobTemplate.Spec.Template, err
	},
}}

// TestWorkloadTemplates patches the pod template of a Deployment and a
// CronJob through client-go, as an operator does, with the library's
// strategic merge patch and with its JSON patch, natively and as a legacy
// sidecar: the stored template equals the library's typed prediction (made
// concrete by the API server in a dry run) and has the containers in the
// intended order.
func TestWorkloadTemplates(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	modes := []struct {
		mode           sidecar.Mode
		placement      sidecar.Placement
		wantInit       []string
		wantContainers []string
	}{
		{sidecar.Native, sidecar.Placement{Position: sidecar.After, Name: "setup-1"},
			[]string{"setup-1", "proxy", "setup-2"}, []string{"app", "worker"}},
		{sidecar.Legacy, sidecar.Placement{Position: sidecar.After, Name: "app"},
			[]string{"setup-1", "setup-2"}, []string{"app", "proxy", "worker"}},
	}
	for _, k := range workloadKinds {
		for _, patchType := range []types.PatchType{types.StrategicMergePatchType, types.JSONPatchType} {
			for _, m := range modes {
				k, patchType, m := k, patchType, m
				short := map[types.PatchType]string{types.StrategicMergePatchType: "strategic", types.JSONPatchType: "json"}[patchType]
				t.Run(fmt.Sprintf("%s/%s/%s", k.kind, short, m.mode), func(t *testing.T) {
					t.Parallel()
					if m.mode != sidecar.Legacy && gateOff(c) {
						t.Skip("the API server drops restartPolicy with SidecarContainers=false: see TestGateOff")
					}
					ctx, cancel := context.WithTimeout(context.Background(), timeout)
					defer cancel()
					ns := namespace(t, c)
					client := k.client(c)
					no := false
					tmpl := corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{
							Labels:      map[string]string{"app": "workload"},
							Annotations: map[string]string{"example.com/owner": "e2e"},
						},
						Spec: corev1.PodSpec{
							InitContainers:               []corev1.Container{container("setup-1"), container("setup-2")},
							Containers:                   []corev1.Container{container("app"), container("worker")},
							AutomountServiceAccountToken: &no,
						},
					}
					obj := k.object("workload", tmpl)
					body, err := json.Marshal(obj)
					if err != nil {
						t.Fatal(err)
					}
					created, err := client.Post().Namespace(ns).Resource(k.resource).Body(body).
						SetHeader("Content-Type", "application/json").DoRaw(ctx)
					if err != nil {
						t.Fatalf("create %s: %v\n%s", k.kind, err, created)
					}

					// Plan on the object as stored, as an operator would.
					decoded, err := patch.Decode(created)
					if err != nil {
						t.Fatalf("patch.Decode: %v", err)
					}
					if decoded.Kind != k.kind {
						t.Fatalf("decoded kind %s, want %s", decoded.Kind, k.kind)
					}
					res, err := sidecar.Inject(decoded.Meta, decoded.Spec, loadSpec(t, proxySpec, m.placement), capability, sidecar.Options{Mode: m.mode})
					if err != nil {
						t.Fatalf("Inject: %v", err)
					}
					var data []byte
					if patchType == types.StrategicMergePatchType {
						data, err = res.Mutation.StrategicMerge(decoded.Root)
					} else {
						var ops patch.Ops
						if ops, err = res.Mutation.JSONPatch(decoded.Root); err == nil {
							if err = patchtest.Verify(created, ops); err == nil {
								data, err = json.Marshal(ops)
							}
						}
					}
					if err != nil {
						t.Fatalf("render %s patch: %v", short, err)
					}
					patched, err := client.Patch(patchType).Namespace(ns).Resource(k.resource).Name("workload").Body(data).DoRaw(ctx)
					if err != nil {
						t.Fatalf("patch %s: %v\npatch: %s\n%s", k.kind, err, data, patched)
					}
					got, err := k.template(patched)
					if err != nil {
						t.Fatal(err)
					}

					// The prediction: the typed Apply on the created object's
					// template, made concrete by a dry-run create.
					want, err := k.template(created)
					if err != nil {
						t.Fatal(err)
					}
					if err := res.Mutation.Apply(&want.ObjectMeta, &want.Spec); err != nil {
						t.Fatalf("typed Apply: %v", err)
					}
					predictedObj := k.object("workload", *want)
					body, err = json.Marshal(predictedObj)
					if err != nil {
						t.Fatal(err)
					}
					plain := plainNamespace(t, c)
					dry, err := client.Post().Namespace(plain).Resource(k.resource).Param("dryRun", "All").Body(body).
						SetHeader("Content-Type", "application/json").DoRaw(ctx)
					if err != nil {
						t.Fatalf("dry-run create of the prediction: %v\n%s", err, dry)
					}
					predicted, err := k.template(dry)
					if err != nil {
						t.Fatal(err)
					}
					if d := cmp.Diff(comparable{predicted.Labels, predicted.Annotations, predicted.Spec},
						comparable{got.Labels, got.Annotations, got.Spec}); d != "" {
						t.Errorf("stored template differs from the typed prediction (-predicted +stored):\n%s\npatch: %s", d, data)
					}
					if d := cmp.Diff(m.wantInit, names(got.Spec.InitContainers)); d != "" {
						t.Errorf("init container order (-want +got):\n%s\npatch: %s", d, data)
					}
					if d := cmp.Diff(m.wantContainers, names(got.Spec.Containers)); d != "" {
						t.Errorf("container order (-want +got):\n%s\npatch: %s", d, data)
					}
					if got.Annotations[sidecar.Annotation("proxy")] == "" || got.Annotations["example.com/owner"] != "e2e" {
						t.Errorf("template annotations %v: want the injection record and example.com/owner", got.Annotations)
					}

					// Injecting again into the patched object changes nothing.
					again, err := patch.Decode(patched)
					if err != nil {
						t.Fatal(err)
					}
					res2, err := sidecar.Inject(again.Meta, again.Spec, loadSpec(t, proxySpec, m.placement), capability, sidecar.Options{Mode: m.mode})
					if err != nil {
						t.Fatalf("Inject on the patched %s: %v", k.kind, err)
					}
					if res2.Skipped != sidecar.SkipAlreadyInjected {
						t.Errorf("second Inject: skipped %q, want %q", res2.Skipped, sidecar.SkipAlreadyInjected)
					}
				})
			}
		}
	}
}
