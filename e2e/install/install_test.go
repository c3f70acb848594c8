package install

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

// TestInstallManifests applies the repository's install manifests to a
// real kube-apiserver with server-side apply and dry-run (what
// `kubectl apply --server-side --dry-run=server` sends), so that the API
// server decodes, defaults, validates and admits every object and stores
// none: examples/webhook/deploy built with kustomize (sigs.k8s.io/kustomize/api,
// as `kubectl kustomize` builds it), and examples/operator/deploy's
// YAML streams. The namespaces are created for real first, as a namespaced
// object cannot be admitted into a namespace that does not exist.
// cert-manager's Issuer and Certificate (examples/operator/deploy/webhook.yaml)
// need cert-manager's CRDs: the test installs stand-ins that accept any
// content, so those two objects are checked for their apiVersion, kind,
// metadata and namespace only.
func TestInstallManifests(t *testing.T) {
	c := cluster.ForTest(t, cluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	installCertManagerStandIns(ctx, t, dyn, disco)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))

	for _, tc := range []struct {
		name string
		objs func(t *testing.T) []*unstructured.Unstructured
		// kinds are the kinds the manifests must hold, at least.
		kinds []string
	}{
		{"webhook (kustomize)", func(t *testing.T) []*unstructured.Unstructured {
			return kustomizeBuild(t, "../../examples/webhook/deploy")
		}, []string{"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "MutatingWebhookConfiguration"}},
		{"operator", func(t *testing.T) []*unstructured.Unstructured {
			return yamlFiles(t, "../../examples/operator/deploy/operator.yaml", "../../examples/operator/deploy/webhook.yaml")
		}, []string{"Namespace", "ServiceAccount", "ClusterRole", "Role", "ConfigMap", "Deployment", "Service", "MutatingWebhookConfiguration", "Issuer", "Certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := tc.objs(t)
			seen := map[string]bool{}
			for _, o := range objs {
				seen[o.GetKind()] = true
			}
			for _, k := range tc.kinds {
				if !seen[k] {
					t.Errorf("the manifests have no %s", k)
				}
			}
			// Namespaces first, dry-run then for real.
			for _, o := range objs {
				if o.GetKind() == "Namespace" {
					apply(ctx, t, dyn, mapper, o, true)
					apply(ctx, t, dyn, mapper, o, false)
				}
			}
			for _, o := range objs {
				if o.GetKind() != "Namespace" {
					apply(ctx, t, dyn, mapper, o, true)
				}
			}
		})
	}
}

// apply server-side applies o (dry-run or not) and checks the API
// server's answer names it.
func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured, dryRun bool) {
	t.Helper()
	gvk := o.GroupVersionKind()
	desc := fmt.Sprintf("%s %s/%s", gvk.Kind, o.GetNamespace(), o.GetName())
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Errorf("%s: %v", desc, err)
		return
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if o.GetNamespace() == "" {
			t.Errorf("%s: a namespaced object without a namespace", desc)
			return
		}
		ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
	}
	data, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	opts := metav1.PatchOptions{FieldManager: "sidecarkit-e2e-install", Force: ptr.To(true)}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	got, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, opts)
	if err != nil {
		t.Errorf("%s (dry-run %v): not accepted: %v", desc, dryRun, err)
		return
	}
	if got.GetName() != o.GetName() || got.GetKind() != gvk.Kind || got.GetUID() == "" {
		t.Errorf("%s: the API server answered %s %s (uid %q)", desc, got.GetKind(), got.GetName(), got.GetUID())
	}
	if gvk.Kind == "Deployment" {
		// Defaulted by the API server: the object went through it.
		if rp, _, _ := unstructured.NestedString(got.Object, "spec", "template", "spec", "restartPolicy"); rp != "Always" {
			t.Errorf("%s: spec.template.spec.restartPolicy %q after the API server, want the default Always", desc, rp)
		}
	}
	t.Logf("%s: accepted (dry-run %v)", desc, dryRun)
}

// kustomizeBuild builds the kustomization in dir as `kubectl kustomize`
// does.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	y, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeStream(t, dir, y)
}

// yamlFiles reads the objects of YAML streams.
func yamlFiles(t *testing.T, files ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, decodeStream(t, filepath.Base(f), b)...)
	}
	return out
}

func decodeStream(t *testing.T, name string, b []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]interface{}
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if obj == nil {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no objects", name)
	}
	return out
}

// installCertManagerStandIns creates CRDs for cert-manager.io/v1 Issuer and
// Certificate that accept any content, and waits until they are served.
func installCertManagerStandIns(ctx context.Context, t *testing.T, dyn dynamic.Interface, disco discovery.DiscoveryInterface) {
	t.Helper()
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, kind := range []string{"Issuer", "Certificate"} {
		plural := strings.ToLower(kind) + "s"
		crd := &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]interface{}{"name": plural + ".cert-manager.io"},
			"spec": map[string]interface{}{
				"group": "cert-manager.io",
				"scope": "Namespaced",
				"names": map[string]interface{}{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
				"versions": []interface{}{map[string]interface{}{
					"name": "v1", "served": true, "storage": true,
					"schema": map[string]interface{}{"openAPIV3Schema": map[string]interface{}{
						"type": "object", "x-kubernetes-preserve-unknown-fields": true,
					}},
				}},
			},
		}}
		if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("CRD %s: %v", crd.GetName(), err)
		}
	}
	for {
		rl, err := disco.ServerResourcesForGroupVersion("cert-manager.io/v1")
		if err == nil && len(rl.APIResources) >= 2 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("cert-manager.io/v1 not served: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
