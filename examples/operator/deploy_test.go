package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// TestDeployManifests decodes every manifest under deploy/ strictly, and
// runs the flags of each operator container through the same checks as
// main, with the sidecar spec taken from the ConfigMap it mounts.
func TestDeployManifests(t *testing.T) {
	files, err := filepath.Glob("deploy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	codecs := serializer.NewCodecFactory(clientgoscheme.Scheme, serializer.EnableStrict)
	var deployments []*appsv1.Deployment
	needs := map[string]bool{"nodes": true}
	configMaps := map[string]*corev1.ConfigMap{}
	var rules []rbacv1.PolicyRule
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			if strings.Contains(string(js), `"apiVersion":"cert-manager.io/`) {
				continue // not in client-go's scheme
			}
			obj, _, err := codecs.UniversalDeserializer().Decode(js, nil, nil)
			if err != nil {
				t.Fatalf("%s #%d: %v", f, i, err)
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				deployments = append(deployments, o)
			case *corev1.ConfigMap:
				configMaps[o.Name] = o
			case *rbacv1.ClusterRole:
				rules = append(rules, o.Rules...)
			}
		}
	}
	if len(deployments) != 2 {
		t.Fatalf("%d Deployments, want the operator's and the webhook's", len(deployments))
	}
	for _, d := range deployments {
		c := d.Spec.Template.Spec.Containers[0]
		files := map[string][]byte{}
		for _, m := range c.VolumeMounts {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil {
					cm, ok := configMaps[v.ConfigMap.Name]
					if !ok {
						t.Fatalf("%s mounts missing ConfigMap %s", d.Name, v.ConfigMap.Name)
					}
					for k, data := range cm.Data {
						files[m.MountPath+"/"+k] = []byte(data)
					}
				}
			}
		}
		fs := flag.NewFlagSet(d.Name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cfg := bindFlags(fs)
		if err := fs.Parse(c.Args); err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		s, err := cfg.settings(func(name string) ([]byte, error) {
			if b, ok := files[name]; ok {
				return b, nil
			}
			return nil, os.ErrNotExist
		})
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		for _, k := range s.kinds {
			needs[strings.ToLower(k)+"s"] = true
		}
		if s.injector || s.webhook {
			if s.spec.Container.Name == "" {
				t.Errorf("%s: no sidecar", d.Name)
			}
		}
	}
	// The injector needs patch on every kind it watches.
	if len(needs) != 7 {
		t.Errorf("the manifests' operator watches %d kinds of object, want the 6 workload kinds and nodes", len(needs))
	}
	for k := range needs {
		if !allows(rules, k, "patch") || !allows(rules, k, "watch") {
			t.Errorf("ClusterRoles do not allow patch and watch on %s", k)
		}
	}
	if !allows(rules, "nodes/proxy", "get") {
		t.Error("no get on nodes/proxy for --node-metrics")
	}
}

func allows(rules []rbacv1.PolicyRule, resource, verb string) bool {
	for _, r := range rules {
		if contains(r.Resources, resource) && contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
