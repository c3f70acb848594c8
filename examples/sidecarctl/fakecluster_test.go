package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
)

// fakeCluster is an HTTP server that answers the requests of the live
// doctor commands as a kube-apiserver would: /version, /metrics, nodes
// and their node proxy, namespaces, mutating webhook configurations and
// policies, Pods, and a dry-run Pod create that runs fake webhooks and
// records the field manager before them, as the real one does
// (docs/field-stripping.md#who-dropped-it-the-managedfields-evidence).
// The e2e suite (e2e/doctor) runs the same commands against a real
// kube-apiserver.
type fakeCluster struct {
	version string
	// gates are the kubernetes_feature_enabled lines of /metrics;
	// metricsForbidden answers /metrics with 403.
	gates            []string
	metricsForbidden bool

	nodes []corev1.Node
	// nodeMetrics: per node, the kubelet's /metrics text; a node missing
	// from it answers 503 (no kubelet reachable), one in
	// nodeProxyForbidden 403, one in nodeProxyHangs never (until the
	// client gives up).
	nodeMetrics        map[string]string
	nodeProxyForbidden map[string]bool
	nodeProxyHangs     map[string]bool

	namespaces         map[string]map[string]string
	namespaceForbidden bool

	webhooks          []admissionregistrationv1.MutatingWebhookConfiguration
	webhooksForbidden bool
	// policiesNotServed answers MutatingAdmissionPolicy lists with 404
	// (API servers before 1.36).
	policiesNotServed bool
	policies          []admissionregistrationv1.MutatingAdmissionPolicy
	bindings          []admissionregistrationv1.MutatingAdmissionPolicyBinding

	// hooks are what the fake "calls" on a Pod create, in order.
	hooks []fakeHook
	// createForbidden answers Pod creates with 403.
	createForbidden bool
	// gateOff drops restartPolicy from init containers after the hooks,
	// as an API server with SidecarContainers off does.
	gateOff bool

	pods []corev1.Pod

	mu       sync.Mutex
	calls    map[string]int // webhook name → admit calls for CREATE
	dryRuns  int            // dry-run Pod creates served
	requests []string       // method and path of every request, for tests
}

// fakeHook is a webhook the fake API server calls for Pod creates in the
// given namespaces (all when nil): it may strip restartPolicy from every
// init container, as a webhook built with k8s.io/api older than v0.28 does
// when it re-encodes the Pod.
type fakeHook struct {
	name       string
	namespaces []string
	strip      bool
}

// serve starts the fake and returns the path of a kubeconfig for it, with
// context "fake" and namespace "shop".
func (f *fakeCluster) serve(t *testing.T) string {
	t.Helper()
	f.calls = map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {server: %q}
users:
- name: fake
  user: {token: fake}
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: shop}
current-context: fake
`, srv.URL)
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (f *fakeCluster) handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/version":
		writeJSON(w, map[string]string{"major": "1", "minor": "x", "gitVersion": f.version})
	case r.URL.Path == "/metrics":
		if f.metricsForbidden {
			status(w, http.StatusForbidden, "Forbidden", `forbidden: User "dev" cannot get path "/metrics"`)
			return
		}
		fmt.Fprint(w, f.metricsText())
	case r.URL.Path == "/api/v1/nodes":
		writeJSON(w, &corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: f.nodes})
	case len(parts) == 4 && parts[2] == "nodes":
		for i := range f.nodes {
			if f.nodes[i].Name == parts[3] {
				writeJSON(w, &f.nodes[i])
				return
			}
		}
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("nodes %q not found", parts[3]))
	case len(parts) == 6 && parts[2] == "nodes" && parts[4] == "proxy" && parts[5] == "metrics":
		name := parts[3]
		switch text, ok := f.nodeMetrics[name]; {
		case f.nodeProxyForbidden[name]:
			status(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(`nodes %q is forbidden: User "dev" cannot get resource "nodes/proxy" in API group "" at the cluster scope`, name))
		case f.nodeProxyHangs[name]:
			<-r.Context().Done()
		case ok:
			fmt.Fprint(w, text)
		default:
			status(w, http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("no kubelet answered for node %q", name))
		}
	case len(parts) == 4 && parts[2] == "namespaces":
		if f.namespaceForbidden {
			status(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(`namespaces %q is forbidden: User "dev" cannot get resource "namespaces"`, parts[3]))
			return
		}
		labels, ok := f.namespaces[parts[3]]
		if !ok {
			status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("namespaces %q not found", parts[3]))
			return
		}
		writeJSON(w, &corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: parts[3], Labels: labels}})
	case r.URL.Path == "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations":
		if f.webhooksForbidden {
			status(w, http.StatusForbidden, "Forbidden", `mutatingwebhookconfigurations.admissionregistration.k8s.io is forbidden: User "dev" cannot list resource "mutatingwebhookconfigurations"`)
			return
		}
		writeJSON(w, &admissionregistrationv1.MutatingWebhookConfigurationList{Items: f.webhooks})
	case r.URL.Path == "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies":
		if f.policiesNotServed {
			status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
			return
		}
		writeJSON(w, &admissionregistrationv1.MutatingAdmissionPolicyList{Items: f.policies})
	case r.URL.Path == "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicybindings":
		writeJSON(w, &admissionregistrationv1.MutatingAdmissionPolicyBindingList{Items: f.bindings})
	case r.URL.Path == "/api/v1/pods":
		writeJSON(w, &corev1.PodList{Items: f.pods})
	case len(parts) == 5 && parts[2] == "namespaces" && parts[4] == "pods" && r.Method == http.MethodGet:
		var list corev1.PodList
		for _, p := range f.pods {
			if p.Namespace == parts[3] {
				list.Items = append(list.Items, p)
			}
		}
		writeJSON(w, &list)
	case len(parts) == 5 && parts[2] == "namespaces" && parts[4] == "pods" && r.Method == http.MethodPost:
		f.create(w, r, parts[3])
	case len(parts) == 6 && parts[2] == "namespaces" && parts[4] == "pods":
		for i := range f.pods {
			if f.pods[i].Namespace == parts[3] && f.pods[i].Name == parts[5] {
				writeJSON(w, &f.pods[i])
				return
			}
		}
		status(w, http.StatusNotFound, "NotFound", fmt.Sprintf("pods %q not found", parts[5]))
	default:
		status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
	}
}

// create admits a dry-run Pod create: the field manager first, then the
// hooks, then the gate.
func (f *fakeCluster) create(w http.ResponseWriter, r *http.Request, namespace string) {
	if r.URL.Query().Get("dryRun") != "All" {
		status(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the fake only serves dry runs")
		return
	}
	if f.createForbidden {
		status(w, http.StatusForbidden, "Forbidden", fmt.Sprintf(`pods is forbidden: User "dev" cannot create resource "pods" in API group "" in the namespace %q`, namespace))
		return
	}
	// client-go sends protobuf or JSON; the scheme's deserializer reads both.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		status(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	var pod corev1.Pod
	if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, &pod); err != nil {
		status(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	pod.Name = pod.GenerateName + "x7k2p"
	pod.Namespace = namespace
	inits := map[string]any{}
	for _, c := range pod.Spec.InitContainers {
		fields := map[string]any{".": map[string]any{}, "f:image": map[string]any{}, "f:name": map[string]any{}}
		if c.RestartPolicy != nil {
			fields["f:restartPolicy"] = map[string]any{}
		}
		inits[fmt.Sprintf("k:{\"name\":%q}", c.Name)] = fields
	}
	raw, _ := json.Marshal(map[string]any{"f:spec": map[string]any{"f:initContainers": inits}})
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: r.URL.Query().Get("fieldManager"), Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: raw}}}
	f.mu.Lock()
	for _, h := range f.hooks {
		if h.namespaces != nil && !contains(h.namespaces, namespace) {
			continue
		}
		f.calls[h.name]++
		if h.strip {
			for i := range pod.Spec.InitContainers {
				pod.Spec.InitContainers[i].RestartPolicy = nil
			}
		}
	}
	f.dryRuns++
	f.mu.Unlock()
	if f.gateOff {
		for i := range pod.Spec.InitContainers {
			pod.Spec.InitContainers[i].RestartPolicy = nil
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(&pod)
}

// metricsText renders the API server's /metrics: the feature gates, the
// webhook calls and the dry-run Pod creates so far.
func (f *fakeCluster) metricsText() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	b.WriteString("# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.\n# TYPE kubernetes_feature_enabled gauge\n")
	for _, g := range f.gates {
		b.WriteString(g + "\n")
	}
	b.WriteString("# HELP apiserver_admission_webhook_request_total [ALPHA] Admission webhook request total.\n# TYPE apiserver_admission_webhook_request_total counter\n")
	names := make([]string, 0, len(f.calls))
	for n := range f.calls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "apiserver_admission_webhook_request_total{code=\"200\",name=%q,operation=\"CREATE\",rejected=\"false\",type=\"admit\"} %d\n", n, f.calls[n])
	}
	b.WriteString("# HELP apiserver_request_total [STABLE] Counter of apiserver requests.\n# TYPE apiserver_request_total counter\n")
	fmt.Fprintf(&b, "apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"namespace\",subresource=\"\",verb=\"LIST\",version=\"v1\"} 12\n")
	fmt.Fprintf(&b, "apiserver_request_total{code=\"201\",component=\"apiserver\",dry_run=\"All\",group=\"\",resource=\"pods\",scope=\"resource\",subresource=\"\",verb=\"POST\",version=\"v1\"} %d\n", f.dryRuns)
	return b.String()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func status(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(&metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: metav1.StatusReason(reason), Message: message})
}

// Scenario building blocks.

func fakeNode(name, version string, labels map[string]string) corev1.Node {
	return corev1.Node{TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: version}}}
}

func podCreateRules() []admissionregistrationv1.RuleWithOperations {
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
}

func fakeWebhook(name string, rules []admissionregistrationv1.RuleWithOperations, nsSel, objSel *metav1.LabelSelector) admissionregistrationv1.MutatingWebhookConfiguration {
	return admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: name, Rules: rules, NamespaceSelector: nsSel, ObjectSelector: objSel,
			ReinvocationPolicy: ptr.To(admissionregistrationv1.NeverReinvocationPolicy)}},
	}
}

const gateGA = `kubernetes_feature_enabled{name="SidecarContainers",stage=""} 1`

// mixedCluster is the cluster the READMEs' live commands run against: an
// API server v1.33.2 that stores the field; pool "current" (two v1.33
// nodes, one whose kubelet metrics answer, one without a reachable
// kubelet), pool "legacy" (a v1.27 node whose proxy RBAC forbids), and an
// unlabelled v1.29 node; a webhook that strips restartPolicy
// (legacy-injector.example.com), an Istio-style webhook for labelled
// namespaces, and one for Deployments only; Pods stuck in Init and with a
// sidecar as kubectl's default container.
func mixedCluster() *fakeCluster {
	pool := func(name string) map[string]string {
		return map[string]string{"eks.amazonaws.com/nodegroup": name}
	}
	injected := metav1.LabelSelector{MatchLabels: map[string]string{"istio-injection": "enabled"}}
	deployments := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
	}}
	always := ptr.To(corev1.ContainerRestartPolicyAlways)
	return &fakeCluster{
		version: "v1.33.2",
		gates:   []string{gateGA},
		nodes: []corev1.Node{
			fakeNode("ip-10-0-1-17", "v1.33.1-eks-1f2d3c4", pool("current")),
			fakeNode("ip-10-0-1-18", "v1.33.1-eks-1f2d3c4", pool("current")),
			fakeNode("ip-10-0-9-40", "v1.27.16-eks-aa11bb2", pool("legacy")),
			fakeNode("build-box", "v1.29.4+k3s1", nil),
		},
		nodeMetrics:        map[string]string{"ip-10-0-1-17": gateGA + "\n"},
		nodeProxyForbidden: map[string]bool{"ip-10-0-9-40": true},
		namespaces:         map[string]map[string]string{"shop": {"kubernetes.io/metadata.name": "shop", "team": "shop"}},
		policiesNotServed:  false,
		webhooks: []admissionregistrationv1.MutatingWebhookConfiguration{
			fakeWebhook("legacy-injector.example.com", podCreateRules(), nil, nil),
			fakeWebhook("istio-sidecar-injector", podCreateRules(), &injected, nil),
			fakeWebhook("deploy-defaults.example.com", deployments, nil, nil),
		},
		hooks: []fakeHook{{name: "legacy-injector.example.com", strip: true}},
		pods: []corev1.Pod{
			{
				// Stored through the stripping webhook: the client's field
				// manager lists restartPolicy, the spec lacks it, and the
				// kubelet runs the sidecar as a blocking init container.
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", ManagedFields: []metav1.ManagedFieldsEntry{{
					Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
					FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:initContainers":{"k:{\"name\":\"log-shipper\"}":{".":{},"f:image":{},"f:name":{},"f:restartPolicy":{}}}}}`)},
				}}},
				Spec: corev1.PodSpec{NodeName: "ip-10-0-1-17",
					InitContainers: []corev1.Container{{Name: "log-shipper", Image: "fluent-bit:3.1"}},
					Containers:     []corev1.Container{{Name: "web", Image: "shop/web:2.4"}}},
				Status: corev1.PodStatus{Phase: corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{{Name: "log-shipper", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
					ContainerStatuses:     []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}},
			},
			{
				ObjectMeta: metav1.ObjectMeta{Name: "cart", Namespace: "shop", Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "mesh-proxy"}},
				Spec: corev1.PodSpec{NodeName: "ip-10-0-1-18",
					InitContainers: []corev1.Container{{Name: "mesh-proxy", Image: "mesh/proxy:1.9", RestartPolicy: always}},
					Containers:     []corev1.Container{{Name: "cart", Image: "shop/cart:1.0"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			},
			{
				ObjectMeta: metav1.ObjectMeta{Name: "healthy", Namespace: "shop"},
				Spec: corev1.PodSpec{NodeName: "ip-10-0-1-18",
					InitContainers: []corev1.Container{{Name: "mesh-proxy", Image: "mesh/proxy:1.9", RestartPolicy: always}},
					Containers:     []corev1.Container{{Name: "app", Image: "shop/app:1.0"}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			},
		},
	}
}
