package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/sidecarkit/sidecarkit/admission"
)

// readManifest decodes the single-kind documents of a deploy/ file
// strictly into v.
func readManifest(t *testing.T, name string, v interface{}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Split(string(b), "\n---\n")[0]
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// The manifests decode strictly into their API types and agree with each
// other and with the server's flags; the ConfigMap's config loads.
func TestDeployManifests(t *testing.T) {
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	readManifest(t, "mutatingwebhookconfiguration.yaml", &mwc)
	if len(mwc.Webhooks) != 1 {
		t.Fatalf("%d webhooks", len(mwc.Webhooks))
	}
	w := mwc.Webhooks[0]
	if *w.SideEffects != admissionregistrationv1.SideEffectClassNone || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy ||
		len(w.AdmissionReviewVersions) != 1 || w.AdmissionReviewVersions[0] != "v1" || w.TimeoutSeconds == nil || w.FailurePolicy == nil ||
		w.NamespaceSelector == nil || w.ObjectSelector == nil || w.ClientConfig.Service == nil || *w.ClientConfig.Service.Path != "/mutate" {
		t.Errorf("webhook %+v", w)
	}

	var ns corev1.Namespace
	readManifest(t, "namespace.yaml", &ns)
	excluded := false
	for _, e := range w.NamespaceSelector.MatchExpressions {
		if v, ok := ns.Labels[e.Key]; ok && e.Operator == "NotIn" && contains(e.Values, v) {
			excluded = true
		}
	}
	if !excluded || w.ClientConfig.Service.Namespace != ns.Name {
		t.Errorf("the webhook's namespace %q is not excluded by its namespaceSelector", ns.Name)
	}

	var d appsv1.Deployment
	readManifest(t, "deployment.yaml", &d)
	if *d.Spec.Replicas < 2 || d.Namespace != ns.Name {
		t.Errorf("deployment replicas %d namespace %q", *d.Spec.Replicas, d.Namespace)
	}
	c := d.Spec.Template.Spec.Containers[0]
	f, err := parseFlags(c.Args, os.Stderr)
	if err != nil {
		t.Fatalf("container args: %v", err)
	}
	// The server's timeouts derive from the webhook's.
	if f.webhookTimeout != time.Duration(*w.TimeoutSeconds)*time.Second {
		t.Errorf("--webhook-timeout %v, but timeoutSeconds is %d", f.webhookTimeout, *w.TimeoutSeconds)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		*c.SecurityContext.AllowPrivilegeEscalation || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("container %+v", c)
	}

	var cm corev1.ConfigMap
	readManifest(t, "configmap.yaml", &cm)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cm.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admission.New(cfg); err != nil {
		t.Fatal(err)
	}
	if !contains(cfg.ExcludeNamespaces, ns.Name) {
		t.Errorf("config does not exclude %q", ns.Name)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
