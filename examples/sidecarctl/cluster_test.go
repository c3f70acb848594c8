package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/golden"
)

// TestDoctorClusterGolden runs doctor cluster against fake API servers
// and compares the text and JSON reports, and the exit code, with golden
// files under testdata/cluster.
func TestDoctorClusterGolden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster func() *fakeCluster
		args    []string
		want    int
	}{
		{name: "mixed", cluster: mixedCluster, want: exitNotReady},
		{name: "ready", want: exitReady, cluster: func() *fakeCluster {
			f := mixedCluster()
			f.version = "v1.37.2"
			f.gates = nil // 1.37 has no SidecarContainers gate
			f.nodes = f.nodes[:2]
			f.hooks = []fakeHook{{name: "legacy-injector.example.com"}}
			f.pods = nil
			return f
		}},
		{name: "two-candidates-metrics-forbidden", want: exitNotReady, cluster: func() *fakeCluster {
			f := mixedCluster()
			f.metricsForbidden = true
			f.nodes = f.nodes[:2]
			f.webhooks = append(f.webhooks, fakeWebhook("aaa-labels.example.com", podCreateRules(), nil,
				&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app.kubernetes.io/name", Operator: metav1.LabelSelectorOpExists}}}))
			f.hooks = append([]fakeHook{{name: "aaa-labels.example.com"}}, f.hooks...)
			f.pods = nil
			return f
		}},
		{name: "gate-off-1.31", want: exitNotReady, cluster: func() *fakeCluster {
			f := mixedCluster()
			f.version = "v1.31.4"
			f.gates = []string{`kubernetes_feature_enabled{name="SidecarContainers",stage="BETA"} 0`}
			f.nodes = f.nodes[:1]
			f.nodeMetrics = nil
			f.hooks = nil
			f.gateOff = true
			f.pods = nil
			f.policiesNotServed = true
			return f
		}},
		{name: "undetermined-rbac", want: exitUndetermined, args: []string{"--pool-label", "kubernetes.io/os"}, cluster: func() *fakeCluster {
			f := mixedCluster()
			f.version = "v1.34.0"
			f.metricsForbidden = true
			f.nodes = f.nodes[:2]
			f.nodeProxyForbidden = map[string]bool{"ip-10-0-1-17": true, "ip-10-0-1-18": true}
			f.namespaceForbidden = true
			f.webhooksForbidden = true
			f.createForbidden = true
			f.pods = nil
			return f
		}},
		{name: "policies", want: exitNotReady, cluster: func() *fakeCluster {
			f := mixedCluster()
			f.version = "v1.37.2"
			f.gates = nil
			f.nodes = f.nodes[:2]
			f.webhooks = f.webhooks[1:]
			f.hooks = nil
			f.gateOff = true // stands for the policy's mutation: the fake does not run CEL
			f.policies = []admissionregistrationv1.MutatingAdmissionPolicy{
				{ObjectMeta: metav1.ObjectMeta{Name: "strip-sidecars"}, Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
					MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: podCreateRules()[0]}}}}},
				{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}, Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
					MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: podCreateRules()[0]}}}}},
			}
			f.bindings = []admissionregistrationv1.MutatingAdmissionPolicyBinding{
				{ObjectMeta: metav1.ObjectMeta{Name: "strip-sidecars-everywhere"}, Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: "strip-sidecars"}},
			}
			f.pods = nil
			return f
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kubeconfig := tc.cluster().serve(t)
			for _, out := range []string{"text", "json"} {
				args := append([]string{"doctor", "cluster", "--kubeconfig", kubeconfig, "-o", out}, tc.args...)
				var stdout, stderr bytes.Buffer
				code := run(args, nil, &stdout, &stderr)
				if code != tc.want {
					t.Errorf("-o %s: exit %d, want %d; stderr: %s", out, code, tc.want, stderr.String())
				}
				if stderr.Len() != 0 {
					t.Errorf("-o %s: stderr %q, want nothing", out, stderr.String())
				}
				if out == "json" {
					var r clusterReport
					if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
						t.Fatalf("-o json: %v", err)
					}
					if r.Verdict.ExitCode != code {
						t.Errorf("-o json: verdict exit code %d, process %d", r.Verdict.ExitCode, code)
					}
				}
				ext := map[string]string{"text": ".txt", "json": ".json"}[out]
				golden.Check(t, *update, filepath.Join("testdata/cluster", tc.name+ext), stdout.Bytes())
			}
		})
	}
}

// TestDoctorClusterFindings checks the mixed cluster's report field by
// field, so that a golden file rewritten by mistake cannot hide a wrong
// answer.
func TestDoctorClusterFindings(t *testing.T) {
	kubeconfig := mixedCluster().serve(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"doctor", "cluster", "--kubeconfig", kubeconfig, "-o", "json"}, nil, &stdout, &stderr); code != exitNotReady {
		t.Fatalf("exit %d, want %d: %s", code, exitNotReady, stderr.String())
	}
	var r clusterReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Context != "fake" || r.Namespace != "shop" {
		t.Errorf("context %q, namespace %q; want the kubeconfig's fake, shop", r.Context, r.Namespace)
	}
	if r.PoolLabel != "eks.amazonaws.com/nodegroup" {
		t.Errorf("pool label %q, want the EKS node group label", r.PoolLabel)
	}
	pools := map[string]string{}
	for _, p := range r.Pools {
		pools[p.Name] = p.Recommendation.Mode.String()
	}
	want := map[string]string{
		"eks.amazonaws.com/nodegroup=current": "native",
		"eks.amazonaws.com/nodegroup=legacy":  "universal",
		"kubelet v1.29.4+k3s1":                "native",
	}
	if !equalMaps(pools, want) {
		t.Errorf("pools %v, want %v", pools, want)
	}
	if r.Recommendation.Mode.String() != "universal" {
		t.Errorf("cluster-wide %v, want universal", r.Recommendation.Mode)
	}
	metrics := map[string]string{}
	for _, p := range r.Pools {
		for _, n := range p.Nodes {
			metrics[n.Name] = n.Metrics
		}
	}
	if metrics["ip-10-0-1-17"] != "read" || !strings.HasPrefix(metrics["ip-10-0-9-40"], "forbidden: ") || !strings.HasPrefix(metrics["ip-10-0-1-18"], "unavailable: ") {
		t.Errorf("node metrics %v: want read, forbidden, unavailable", metrics)
	}
	if r.Probe.Result != probeLost || r.Probe.Culprit != "legacy-injector.example.com" {
		t.Errorf("probe %s, culprit %q; want lost, legacy-injector.example.com", r.Probe.Result, r.Probe.Culprit)
	}
	if !r.Admission.CallsObserved {
		t.Errorf("calls not observed: %s", r.Admission.CallsNote)
	}
	found := map[string]bool{}
	for _, p := range r.Pods.Pods {
		for _, f := range p.Findings {
			found[p.Name+" "+string(f.Code)] = true
		}
	}
	for _, w := range []string{"web field-dropped", "web sidecar-blocks-init", "cart sidecar-default-container"} {
		if !found[w] {
			t.Errorf("pod finding %q missing; got %v", w, found)
		}
	}
	if found["healthy sidecar-default-container"] {
		t.Errorf("a Pod whose default container is the app has a finding")
	}
	if r.Verdict.Status != "not-ready" {
		t.Errorf("verdict %s", r.Verdict.Status)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDoctorClusterTimeout: a node proxy that never answers is given up
// after --request-timeout, reported for that node, and the rest of the
// report is still produced.
func TestDoctorClusterTimeout(t *testing.T) {
	f := mixedCluster()
	f.nodeProxyHangs = map[string]bool{"ip-10-0-1-18": true}
	kubeconfig := f.serve(t)
	start := time.Now()
	var stdout, stderr bytes.Buffer
	code := run([]string{"doctor", "cluster", "--kubeconfig", kubeconfig, "--request-timeout", "1s", "-o", "json"}, nil, &stdout, &stderr)
	if code != exitNotReady {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v with a 1s request timeout", d)
	}
	var r clusterReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Pools {
		for _, n := range p.Nodes {
			if n.Name == "ip-10-0-1-18" && !strings.HasPrefix(n.Metrics, "unavailable: ") {
				t.Errorf("hung node: metrics %q, want unavailable", n.Metrics)
			}
		}
	}
}

// TestDoctorClusterFlags covers the connection flags: --context and
// -n/--namespace as kubectl has them, and the errors (exit 1, one line).
func TestDoctorClusterFlags(t *testing.T) {
	kubeconfig := mixedCluster().serve(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"doctor", "cluster", "--kubeconfig", kubeconfig, "--context", "fake", "-n", "ns/other", "--probe=false", "-o", "json"}, nil, &stdout, &stderr); code != exitNotReady {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var r clusterReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Namespace != "other" || r.Probe.Result != probeSkipped || r.Pods.Namespace != "other" {
		t.Errorf("namespace %q, probe %q, pods in %q: want other, skipped, other", r.Namespace, r.Probe.Result, r.Pods.Namespace)
	}
	if !strings.Contains(r.Admission.NamespaceError, "not found") {
		t.Errorf("namespace error %q: want not found", r.Admission.NamespaceError)
	}

	stdout.Reset()
	if code := run([]string{"doctor", "cluster", "--kubeconfig", kubeconfig, "-A", "-o", "json"}, nil, &stdout, &stderr); code != exitNotReady {
		t.Fatalf("-A: exit %d: %s", code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Pods.Namespace != "" || r.Pods.Scanned != 3 || r.Probe.Namespace != "shop" {
		t.Errorf("-A: pods in %q (%d scanned), probe in %q; want all, 3, shop", r.Pods.Namespace, r.Pods.Scanned, r.Probe.Namespace)
	}
}

// TestDoctorPodLive reads a Pod by name and diagnoses it with its node.
func TestDoctorPodLive(t *testing.T) {
	kubeconfig := mixedCluster().serve(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"doctor", "pod", "web", "--kubeconfig", kubeconfig, "-o", "json"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, f := range r.Findings {
		codes = append(codes, string(f.Code))
	}
	if len(r.Subjects) != 2 || r.Subjects[1].Name != "node/ip-10-0-1-17" {
		t.Errorf("subjects %+v: want the API server and node/ip-10-0-1-17", r.Subjects)
	}
	if got := strings.Join(codes, ","); got != "field-dropped,sidecar-blocks-init" {
		t.Errorf("findings %s, want field-dropped,sidecar-blocks-init", got)
	}
	if !strings.Contains(r.Findings[0].Message, "so a mutating webhook removed it") {
		t.Errorf("field-dropped: %q: want the webhook named as the cause (the API server stores the field)", r.Findings[0].Message)
	}

	// Not scheduled: the weakest node it may land on decides.
	f := mixedCluster()
	f.pods = []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}}
	kubeconfig = f.serve(t)
	stdout.Reset()
	if code := run([]string{"doctor", "pod", "pending", "--kubeconfig", kubeconfig, "-o", "json"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Capability.Kubelet.String() != "strips" {
		t.Errorf("unscheduled Pod: kubelet %s, want strips (a v1.27 node is among those it may land on)", r.Capability.Kubelet)
	}
}

// TestDoctorLiveBadInput: the live commands' errors are one line, exit 1.
func TestDoctorLiveBadInput(t *testing.T) {
	kubeconfig := mixedCluster().serve(t)
	refused := filepath.Join(t.TempDir(), "refused")
	if err := os.WriteFile(refused, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"http://127.0.0.1:1\"}}]\n"+
		"users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"connection refused", []string{"doctor", "cluster", "--kubeconfig", refused, "--request-timeout", "5s"}, []string{"API server", "refused"}},
		{"missing kubeconfig", []string{"doctor", "cluster", "--kubeconfig", "nope.kubeconfig"}, []string{"kubeconfig", "nope.kubeconfig"}},
		{"unknown context", []string{"doctor", "cluster", "--kubeconfig", kubeconfig, "--context", "prod"}, []string{"kubeconfig", "prod"}},
		{"zero timeout", []string{"doctor", "cluster", "--kubeconfig", kubeconfig, "--request-timeout", "0"}, []string{"--request-timeout", "positive"}},
		{"bad timeout", []string{"doctor", "cluster", "--kubeconfig", kubeconfig, "--request-timeout", "soon"}, []string{"--request-timeout", "soon"}},
		{"cluster output", []string{"doctor", "cluster", "--kubeconfig", kubeconfig, "-o", "xml"}, []string{"xml"}},
		{"unreachable", []string{"doctor", "cluster", "--kubeconfig", kubeconfig, "--cluster", "nowhere"}, []string{"kubeconfig", "nowhere"}},
		{"pod not found", []string{"doctor", "pod", "nope", "--kubeconfig", kubeconfig}, []string{"shop/nope", "not found"}},
		{"pod name and file", []string{"doctor", "pod", "web", "-f", "x.json"}, []string{"not both"}},
		{"pod name and file facts", []string{"doctor", "pod", "web", "--apiserver-version", "v1.30.0"}, []string{"--apiserver-version", "live"}},
		{"pod file and kube flags", []string{"doctor", "pod", "-f", "x.json", "--context", "fake"}, []string{"--context", "NAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			msg := stderr.String()
			if code != 1 || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout.String())
			}
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "sidecarctl: ") {
				t.Errorf("stderr %q: want one line", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q does not mention %q", msg, w)
				}
			}
		})
	}
}
