package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// proxySpec is the sidecar of the injection tests (e2e/injection): probes,
// resources, a volume shared with the application, a mount and an env var
// for every application container.
const proxySpec = `
container:
  name: proxy
  image: registry.invalid/mesh/proxy:1.9
  command: ["/proxy"]
  args: ["--listen=unix:///var/run/proxy/proxy.sock"]
  resources:
    requests: {cpu: 50m, memory: 32Mi}
    limits: {memory: 64Mi}
  startupProbe:
    exec: {command: ["/proxy", "--check"]}
    periodSeconds: 1
  readinessProbe:
    exec: {command: ["/proxy", "--ready"]}
  volumeMounts:
  - name: proxy-socket
    mountPath: /var/run/proxy
volumes:
- name: proxy-socket
  emptyDir: {medium: Memory}
appMounts:
- name: proxy-socket
  mountPath: /var/run/proxy
  readOnly: true
appEnv:
- name: DATABASE_SOCKET
  value: /var/run/proxy/proxy.sock
`

func loadSpec(t *testing.T, p sidecar.Placement) sidecar.Spec {
	t.Helper()
	s, err := sidecar.LoadSpec([]byte(proxySpec))
	if err != nil {
		t.Fatalf("load sidecar spec: %v", err)
	}
	s.Placement = p
	return s
}

func container(name string) corev1.Container {
	return corev1.Container{Name: name, Image: "registry.invalid/" + name + ":v1"}
}

func nativeSidecar(name string) corev1.Container {
	c := container(name)
	c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	return c
}

// podShape is a Pod to inject into: typed, or raw JSON (for nulls and
// fields the typed client would drop).
type podShape struct {
	name      string
	placement sidecar.Placement
	modes     []sidecar.Mode // default: all three
	pod       func() *corev1.Pod
	raw       string
}

func testPod(name string, init, containers []corev1.Container) func() *corev1.Pod {
	return func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      map[string]string{"app": name},
				Annotations: map[string]string{"example.com/owner": "e2e"},
			},
			Spec: corev1.PodSpec{
				InitContainers:               append([]corev1.Container(nil), init...),
				Containers:                   append([]corev1.Container(nil), containers...),
				AutomountServiceAccountToken: ptr.To(false),
			},
		}
	}
}

// The Pod shapes of e2e/injection's TestInjectModes, and more: null and
// absent lists, an application container that has the sidecar's env var
// and mount already, the sidecar's volume already there, fields newer
// than the library's k8s.io/api, existing node affinity terms (pinned),
// the ServiceAccount token.
var shapes = []podShape{
	{name: "no-init", pod: testPod("no-init", nil, []corev1.Container{container("app")})},
	{name: "one-init", pod: testPod("one-init", []corev1.Container{container("setup")}, []corev1.Container{container("app")})},
	{name: "three-init-two-apps", pod: testPod("three-init-two-apps",
		[]corev1.Container{container("setup-1"), container("setup-2"), container("setup-3")},
		[]corev1.Container{container("app"), container("worker")})},
	{name: "existing-native-sidecar", pod: testPod("existing-native-sidecar",
		[]corev1.Container{nativeSidecar("log-shipper"), container("setup")}, []corev1.Container{container("app")})},
	{name: "before-named-init", placement: sidecar.Placement{Position: sidecar.Before, Name: "setup-2"},
		pod: testPod("before-named-init", []corev1.Container{container("setup-1"), container("setup-2"), container("setup-3")},
			[]corev1.Container{container("app")})},
	{name: "after-named-native-sidecar", placement: sidecar.Placement{Position: sidecar.After, Name: "net-proxy"},
		pod: testPod("after-named-native-sidecar", []corev1.Container{nativeSidecar("net-proxy"), container("setup")},
			[]corev1.Container{container("app")})},
	{name: "after-named-app", placement: sidecar.Placement{Position: sidecar.After, Name: "app"},
		pod: testPod("after-named-app", []corev1.Container{container("setup")},
			[]corev1.Container{container("app"), container("worker")})},
	{name: "last", placement: sidecar.Placement{Position: sidecar.Last},
		pod: testPod("last", []corev1.Container{container("setup")}, []corev1.Container{container("app"), container("worker")})},
	{name: "missing-anchor", placement: sidecar.Placement{Position: sidecar.Before, Name: "nowhere"},
		pod: testPod("missing-anchor", []corev1.Container{container("setup")}, []corev1.Container{container("app")})},
	{name: "null-lists", raw: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "null-lists", "annotations": null, "labels": null},
	  "spec": {"automountServiceAccountToken": false, "initContainers": null, "volumes": null,
	    "containers": [{"name": "app", "image": "registry.invalid/app:v1", "env": null, "volumeMounts": null}]}}`},
	{name: "has-env-mount-volume", raw: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "has-env-mount-volume"},
	  "spec": {"automountServiceAccountToken": false,
	    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "proxy-socket", "emptyDir": {"medium": "Memory"}}],
	    "containers": [
	      {"name": "app", "image": "registry.invalid/app:v1",
	       "env": [{"name": "DATABASE_SOCKET", "value": "/own/socket"}, {"name": "OTHER", "value": "x"}],
	       "volumeMounts": [{"name": "proxy-socket", "mountPath": "/var/run/proxy", "readOnly": true}]},
	      {"name": "worker", "image": "registry.invalid/worker:v1", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}`},
	{name: "newer-fields", raw: `{"apiVersion": "v1", "kind": "Pod",
	  "metadata": {"name": "newer-fields", "annotations": {"example.com/team-owner": "payments~eu", "x.example.com/a.b_c": "a~1b/c~0d", "plain": "~/~"}},
	  "spec": {"automountServiceAccountToken": false, "hostnameOverride": "custom-host",
	    "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
	    "containers": [{"name": "app", "image": "registry.invalid/app:v1", "restartPolicy": "Never",
	      "restartPolicyRules": [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42, 43]}}]}]}}`},
	{name: "affinity-terms", modes: []sidecar.Mode{sidecar.Pinned}, raw: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "affinity-terms"},
	  "spec": {"automountServiceAccountToken": false,
	    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
	      {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
	      {"matchExpressions": [{"key": "node.sidecarkit.io/sidecars", "operator": "In", "values": ["native"]}]},
	      {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}},
	      "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {"topologyKey": "zone", "labelSelector": {"matchLabels": {"a": "b"}}}}]}},
	    "containers": [{"name": "app", "image": "registry.invalid/app:v1"}]}}`},
	{name: "affinity-without-required", modes: []sidecar.Mode{sidecar.Pinned}, raw: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "affinity-without-required"},
	  "spec": {"automountServiceAccountToken": false,
	    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}}]}},
	    "containers": [{"name": "app", "image": "registry.invalid/app:v1"}]}}`},
	{name: "service-account-token", raw: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "service-account-token"},
	  "spec": {"initContainers": [{"name": "setup", "image": "registry.invalid/setup:v1"}], "containers": [{"name": "app", "image": "registry.invalid/app:v1"}]}}`},
}

var modes = []sidecar.Mode{sidecar.Native, sidecar.Legacy, sidecar.Pinned}

// body is the shape as sent: its raw JSON (nulls, newer fields), or the
// typed Pod's.
func (s podShape) body(t *testing.T) []byte {
	t.Helper()
	if s.pod != nil {
		return mustJSON(s.pod())
	}
	return []byte(s.raw)
}

func createRaw(ctx context.Context, c *cluster.Cluster, ns string, body []byte, dryRun bool) (*corev1.Pod, error) {
	req := c.Client().CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Body(body).SetHeader("Content-Type", "application/json")
	if dryRun {
		req = req.Param("dryRun", "All")
	}
	var out corev1.Pod
	err := req.Do(ctx).Into(&out)
	return &out, err
}

// install creates the set's objects with every binding restricted to the
// namespaces labelled sel (and, when it has one, keeping the compiled
// namespace selector's expressions), and removes them when t ends. It
// returns a function that removes them earlier.
func install(t testing.TB, c *cluster.Cluster, set *policy.Set, sel map[string]string) func() {
	var removers []func()
	remove := func() {
		for _, r := range removers {
			r()
		}
		removers = nil
	}
	t.Cleanup(remove)
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	restrict := func(m *admissionregistrationv1.MatchResources) *admissionregistrationv1.MatchResources {
		if m == nil {
			m = &admissionregistrationv1.MatchResources{}
		}
		if m.NamespaceSelector == nil {
			m.NamespaceSelector = &metav1.LabelSelector{}
		}
		m.NamespaceSelector.MatchLabels = sel
		return m
	}
	ar := c.Client().AdmissionregistrationV1()
	for i := range set.Mutating {
		m, b := set.Mutating[i].DeepCopy(), set.MutatingBindings[i].DeepCopy()
		b.Spec.MatchResources = restrict(b.Spec.MatchResources)
		if _, err := ar.MutatingAdmissionPolicies().Create(ctx, m, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", m.Name, err)
		}
		if _, err := ar.MutatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", b.Name, err)
		}
		removers = append(removers, func() {
			ctx := context.Background()
			_ = ar.MutatingAdmissionPolicyBindings().Delete(ctx, b.Name, metav1.DeleteOptions{})
			_ = ar.MutatingAdmissionPolicies().Delete(ctx, m.Name, metav1.DeleteOptions{})
		})
	}
	for i := range set.Validating {
		v, b := set.Validating[i].DeepCopy(), set.ValidatingBindings[i].DeepCopy()
		b.Spec.MatchResources = restrict(b.Spec.MatchResources)
		if _, err := ar.ValidatingAdmissionPolicies().Create(ctx, v, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", v.Name, err)
		}
		if _, err := ar.ValidatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", b.Name, err)
		}
		removers = append(removers, func() {
			ctx := context.Background()
			_ = ar.ValidatingAdmissionPolicyBindings().Delete(ctx, b.Name, metav1.DeleteOptions{})
			_ = ar.ValidatingAdmissionPolicies().Delete(ctx, v.Name, metav1.DeleteOptions{})
		})
	}
	return remove
}

// waitActive polls dry-run creates of a plain Pod in ns until the policy
// injects the sidecar named name (the API server picks up new policies
// and bindings through informers) and a look-alike is refused (the
// validating policy is active).
func waitActive(t testing.TB, c *cluster.Cluster, ns, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	probe := func(containers []corev1.Container) ([]byte, error) {
		return json.Marshal(&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "policy-probe"},
			Spec:       corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), Containers: containers},
		})
	}
	plain, _ := probe([]corev1.Container{container("app")})
	fake, _ := probe([]corev1.Container{container("app"), container(name)})
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := createRaw(ctx, c, ns, plain, true)
		injected := err == nil && hasContainer(p, name)
		_, err = createRaw(ctx, c, ns, fake, true)
		guarded := apierrors.IsInvalid(err) || apierrors.IsForbidden(err)
		if injected && guarded {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("policies for %s not active in %s after 30s (injected %v, look-alike refused %v, last error %v)", name, ns, injected, guarded, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitWorkloadsActive waits until the templates' and the CronJobs'
// policies (Options.Workloads) inject too: each policy object becomes
// active on its own (the API server refreshes its policies
// asynchronously), so a waitActive that saw the Pods' policy at work says
// nothing about the others'.
func waitWorkloadsActive(t testing.TB, c *cluster.Cluster, ns, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "probe"}},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), RestartPolicy: corev1.RestartPolicyOnFailure,
			Containers: []corev1.Container{container("app")}},
	}
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	injected := func(s corev1.PodSpec) bool { return hasContainer(&corev1.Pod{Spec: s}, name) }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		job, jerr := c.Client().BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "policy-probe"},
			Spec: batchv1.JobSpec{Template: tmpl}}, dry)
		cj, cerr := c.Client().BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "policy-probe"},
			Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}}, dry)
		if jerr == nil && cerr == nil && injected(job.Spec.Template.Spec) && injected(cj.Spec.JobTemplate.Spec.Template.Spec) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("workload policies for %s not active in %s after 30s (job: %v, cronjob: %v)", name, ns, jerr, cerr)
		}
	}
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, l := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range l {
			if l[i].Name == name {
				return true
			}
		}
	}
	return false
}

var (
	plainMu sync.Mutex
	plainNS = map[*cluster.Cluster]string{}
)

// plainNamespace returns a namespace of c that no policy binds, for dry
// runs (one per cluster: TestPolicyV1beta1 has a cluster of its own).
func plainNamespace(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	plainMu.Lock()
	defer plainMu.Unlock()
	if ns, ok := plainNS[c]; ok {
		return ns
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns, err := c.CreateNamespace(ctx, "policy-plain", nil)
	if err != nil {
		t.Fatalf("plain namespace: %v", err)
	}
	plainNS[c] = ns
	return ns
}

// predict is what the library's webhook path stores: the API server
// defaults the Pod and its built-in plugins (ServiceAccount) mutate it
// before any webhook (a dry-run create in a namespace without policies);
// the library injects s into that (forced mode), applied with the typed
// Apply; the API server defaults the result and runs its plugins again
// (the reinvocation after a webhook's change), in a second dry run.
func predict(ctx context.Context, t *testing.T, c *cluster.Cluster, body []byte, s sidecar.Spec, mode sidecar.Mode) *corev1.Pod {
	t.Helper()
	ns := plainNamespace(t, c)
	admitted, err := createRaw(ctx, c, ns, body, true)
	if err != nil {
		t.Fatalf("dry-run create of the pod as sent: %v", err)
	}
	res, err := sidecar.Inject(admitted.ObjectMeta.DeepCopy(), admitted.Spec.DeepCopy(), s, compat.Capability{}, sidecar.Options{Mode: mode})
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: admitted.Name, Labels: admitted.Labels, Annotations: admitted.Annotations}, Spec: *admitted.Spec.DeepCopy()}
	if err := res.Mutation.Apply(&p.ObjectMeta, &p.Spec); err != nil {
		t.Fatalf("typed Apply: %v", err)
	}
	p.Namespace = ns
	got, err := c.Client().CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run create of the predicted pod: %v", err)
	}
	return got
}

type comparable struct {
	Labels      map[string]string
	Annotations map[string]string
	Spec        corev1.PodSpec
}

// tokenVolume is the prefix of the ServiceAccount plugin's volume, whose
// name is random: the comparison renames it.
const tokenVolume = "kube-api-access-"

func normal(meta metav1.ObjectMeta, spec corev1.PodSpec) comparable {
	s := *spec.DeepCopy()
	rename := func(n string) string {
		if strings.HasPrefix(n, tokenVolume) {
			return tokenVolume + "x"
		}
		return n
	}
	for i := range s.Volumes {
		s.Volumes[i].Name = rename(s.Volumes[i].Name)
	}
	for _, l := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range l {
			for k := range l[i].VolumeMounts {
				l[i].VolumeMounts[k].Name = rename(l[i].VolumeMounts[k].Name)
			}
		}
	}
	return comparable{meta.Labels, meta.Annotations, s}
}

func diffPods(want, got *corev1.Pod) string {
	return cmp.Diff(normal(want.ObjectMeta, want.Spec), normal(got.ObjectMeta, got.Spec))
}

// policyNamespace creates a namespace labelled for one test's bindings.
func policyNamespace(t *testing.T, c *cluster.Cluster, test string) (string, map[string]string) {
	t.Helper()
	sel := map[string]string{"e2e.sidecarkit.io/policy-test": test}
	return c.TestNamespace(t, sel), sel
}

// compile compiles s for mode (and workloads), failing t on an error.
func compile(t *testing.T, s sidecar.Spec, o policy.Options) *policy.Set {
	t.Helper()
	set, err := policy.Compile(s, o)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return set
}

// TestPolicyPods compiles the proxy sidecar for each mode and placement,
// installs the policies (and only them) for a namespace of their own, and
// creates Pods of every shape there: the stored Pod must equal the
// library's injection into the same Pod, defaulted by the same API server
// (labels, annotations with the library's record, spec: containers, their
// order, volumes, env, mounts, affinity); the library must recognise the
// stored Pod as injected; and a second admission of the stored Pod must
// leave it unchanged.
func TestPolicyPods(t *testing.T) {
	c := env(t)
	for _, mode := range modes {
		for _, shape := range shapes {
			if shape.modes != nil && !containsMode(shape.modes, mode) {
				continue
			}
			mode, shape := mode, shape
			t.Run(fmt.Sprintf("%s/%s", mode, shape.name), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				s := loadSpec(t, shape.placement)
				ns, sel := policyNamespace(t, c, fmt.Sprintf("pods-%s-%s", mode, shape.name))
				install(t, c, compile(t, s, policy.Options{Mode: mode, Name: "p-" + string(mode) + "-" + shape.name}), sel)
				waitActive(t, c, ns, s.Container.Name)

				body := shape.body(t)
				stored, err := createRaw(ctx, c, ns, body, false)
				if err != nil {
					t.Fatalf("create pod: %v", err)
				}
				want := predict(ctx, t, c, body, s, mode)
				if d := diffPods(want, stored); d != "" {
					t.Errorf("stored pod differs from the library's injection (-library +policy):\n%s", d)
				}
				// The webhook path itself: the library's admission.Handler
				// (forced mode, reinvocation IfNeeded) for a namespace of its
				// own, the same Pod sent there.
				viaWebhook := webhookStore(ctx, t, c, s, mode, body)
				if d := diffPods(viaWebhook, stored); d != "" {
					t.Errorf("stored pod differs from what the library's webhook stores (-webhook +policy):\n%s", d)
				}
				res, err := sidecar.Inject(&stored.ObjectMeta, &stored.Spec, s, compat.Capability{}, sidecar.Options{Mode: mode})
				if err != nil {
					t.Fatalf("Inject on the stored pod: %v", err)
				}
				if res.Skipped != sidecar.SkipAlreadyInjected {
					p, _ := res.Mutation.JSONPatch()
					t.Errorf("the library does not recognise the policy's injection: %s; its patch: %s", res.Reason, p)
				}
				again := stored.DeepCopy()
				again.ObjectMeta = metav1.ObjectMeta{Name: stored.Name + "-again", Labels: stored.Labels, Annotations: stored.Annotations}
				againBody := mustJSON(again)
				second, err := createRaw(ctx, c, ns, againBody, true)
				if err != nil {
					t.Fatalf("second admission (dry run) of the stored pod: %v", err)
				}
				if d := diffPods(stored, second); d != "" {
					t.Errorf("second admission changed the pod (-stored +second):\n%s", d)
				}
			})
		}
	}
}

func containsMode(l []sidecar.Mode, m sidecar.Mode) bool {
	for _, x := range l {
		if x == m {
			return true
		}
	}
	return false
}

// TestPolicyWorkloads creates a Deployment and a CronJob under the
// workload policies: the stored template equals the library's injection
// into the template, and a Pod made from the stored template passes both
// policies unchanged.
func TestPolicyWorkloads(t *testing.T) {
	c := env(t)
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		mode := mode
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			s := loadSpec(t, sidecar.Placement{})
			ns, sel := policyNamespace(t, c, "workloads-"+string(mode))
			install(t, c, compile(t, s, policy.Options{Mode: mode, Name: "w-" + string(mode), Workloads: true}), sel)
			waitActive(t, c, ns, s.Container.Name)
			waitWorkloadsActive(t, c, ns, s.Container.Name)

			tmpl := corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr.To(false),
					InitContainers:               []corev1.Container{container("setup")},
					Containers:                   []corev1.Container{container("app")},
				},
			}
			res, err := sidecar.Inject(tmpl.ObjectMeta.DeepCopy(), tmpl.Spec.DeepCopy(), s, compat.Capability{}, sidecar.Options{Mode: mode})
			if err != nil {
				t.Fatalf("Inject: %v", err)
			}
			injected := *tmpl.DeepCopy()
			if err := res.Mutation.Apply(&injected.ObjectMeta, &injected.Spec); err != nil {
				t.Fatalf("typed Apply: %v", err)
			}
			dep := func(t corev1.PodTemplateSpec) *appsv1.Deployment {
				return &appsv1.Deployment{
					ObjectMeta: metav1.ObjectMeta{Name: "web"},
					Spec: appsv1.DeploymentSpec{
						Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
						Template: t,
					},
				}
			}
			plain := plainNamespace(t, c)
			wantDep, err := c.Client().AppsV1().Deployments(plain).Create(ctx, dep(injected), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				t.Fatalf("dry-run create of the predicted deployment: %v", err)
			}
			gotDep, err := c.Client().AppsV1().Deployments(ns).Create(ctx, dep(tmpl), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create deployment: %v", err)
			}
			if d := cmp.Diff(normal(wantDep.Spec.Template.ObjectMeta, wantDep.Spec.Template.Spec), normal(gotDep.Spec.Template.ObjectMeta, gotDep.Spec.Template.Spec)); d != "" {
				t.Errorf("deployment: stored template differs from the library's injection (-library +policy):\n%s", d)
			}

			cj := func(t corev1.PodTemplateSpec) *batchv1.CronJob {
				t = *t.DeepCopy()
				t.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
				return &batchv1.CronJob{
					ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
					Spec: batchv1.CronJobSpec{
						Schedule:    "0 3 * * *",
						JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: t}},
					},
				}
			}
			wantCJ, err := c.Client().BatchV1().CronJobs(plain).Create(ctx, cj(injected), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				t.Fatalf("dry-run create of the predicted cronjob: %v", err)
			}
			gotCJ, err := c.Client().BatchV1().CronJobs(ns).Create(ctx, cj(tmpl), metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create cronjob: %v", err)
			}
			wt, gt := wantCJ.Spec.JobTemplate.Spec.Template, gotCJ.Spec.JobTemplate.Spec.Template
			if d := cmp.Diff(normal(wt.ObjectMeta, wt.Spec), normal(gt.ObjectMeta, gt.Spec)); d != "" {
				t.Errorf("cronjob: stored template differs from the library's injection (-library +policy):\n%s", d)
			}

			// A Pod of the stored template, as its controller would create
			// it: both policies leave it as it is.
			pod := &corev1.Pod{ObjectMeta: *gotDep.Spec.Template.ObjectMeta.DeepCopy(), Spec: *gotDep.Spec.Template.Spec.DeepCopy()}
			pod.Name = "web-1"
			body, _ := json.Marshal(pod)
			stored, err := createRaw(ctx, c, ns, body, false)
			if err != nil {
				t.Fatalf("create a pod of the stored template: %v", err)
			}
			direct, err := createRaw(ctx, c, plain, body, true)
			if err != nil {
				t.Fatalf("dry-run create of the template's pod: %v", err)
			}
			if d := diffPods(direct, stored); d != "" {
				t.Errorf("the policies changed a pod of the injected template (-as sent +stored):\n%s", d)
			}
		})
	}
}

// TestPolicySelection: the opt-out label (or annotation) keeps a Pod as
// sent, and a namespace the Options exclude is left alone through the
// binding's namespace selector.
func TestPolicySelection(t *testing.T) {
	c := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s := loadSpec(t, sidecar.Placement{})
	s.Container.Name = "selproxy" // its own name: the binding below spans two namespaces
	sel := map[string]string{"e2e.sidecarkit.io/policy-test": "selection"}
	ns := c.TestNamespace(t, sel)
	excluded := c.TestNamespace(t, sel)
	install(t, c, compile(t, s, policy.Options{Mode: sidecar.Native, Name: "selection", ExcludeNamespaces: []string{excluded}}), sel)
	waitActive(t, c, ns, s.Container.Name)

	for _, tc := range []struct {
		name   string
		ns     string
		meta   metav1.ObjectMeta
		inject bool
	}{
		{"opt-out-label", ns, metav1.ObjectMeta{Labels: map[string]string{policy.DefaultSelectionKey: "false"}}, false},
		{"opt-out-label-disabled", ns, metav1.ObjectMeta{Labels: map[string]string{policy.DefaultSelectionKey: "Disabled"}}, false},
		{"opt-out-annotation", ns, metav1.ObjectMeta{Annotations: map[string]string{policy.DefaultSelectionKey: "FALSE"}}, false},
		{"label-true-wins", ns, metav1.ObjectMeta{Labels: map[string]string{policy.DefaultSelectionKey: "true"}, Annotations: map[string]string{policy.DefaultSelectionKey: "false"}}, true},
		{"excluded-namespace", excluded, metav1.ObjectMeta{}, false},
		{"selected-namespace", ns, metav1.ObjectMeta{}, true},
	} {
		pod := &corev1.Pod{ObjectMeta: tc.meta, Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{container("app")}}}
		pod.Name = tc.name
		stored, err := c.Client().CoreV1().Pods(tc.ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: create: %v", tc.name, err)
		}
		if got := hasContainer(stored, s.Container.Name); got != tc.inject {
			t.Errorf("%s: injected %v, want %v", tc.name, got, tc.inject)
		}
	}
}

// TestPolicyRefusesLookAlikes: with the policies installed, a Pod that
// brings its own container under the sidecar's name (or its own version of
// the sidecar's volume, or another volume at the application mount path)
// is refused by the validating policy, naming what differs.
func TestPolicyRefusesLookAlikes(t *testing.T) {
	c := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s := loadSpec(t, sidecar.Placement{})
	ns, sel := policyNamespace(t, c, "lookalike")
	install(t, c, compile(t, s, policy.Options{Mode: sidecar.Native, Name: "lookalike"}), sel)
	waitActive(t, c, ns, s.Container.Name)

	// The genuine injection, as stored, to derive look-alikes from.
	genuine, err := createRaw(ctx, c, ns, mustJSON(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "genuine"},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{container("app")}}}), false)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	variant := func(name string, edit func(p *corev1.Pod)) podCase {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: *genuine.Spec.DeepCopy()}
		edit(p)
		return podCase{name, p}
	}
	cases := []podCase{
		{"other-image", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other-image"}, Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
			InitContainers: []corev1.Container{{Name: "proxy", Image: "evil.invalid/proxy:1.9", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
			Containers:     []corev1.Container{container("app")}}}},
		{"plain-container", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain-container"}, Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{container("app"), {Name: "proxy", Image: "registry.invalid/mesh/proxy:1.9"}}}}},
		variant("root", func(p *corev1.Pod) {
			p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)}
		}),
		variant("extra-mount", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
			p.Spec.InitContainers[0].VolumeMounts = append(p.Spec.InitContainers[0].VolumeMounts, corev1.VolumeMount{Name: "host", MountPath: "/host"})
		}),
		variant("other-args", func(p *corev1.Pod) { p.Spec.InitContainers[0].Args = []string{"--debug"} }),
		variant("host-volume", func(p *corev1.Pod) {
			for i := range p.Spec.Volumes {
				if p.Spec.Volumes[i].Name == "proxy-socket" {
					p.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/run"}}
				}
			}
		}),
		{"app-mounts-other-volume", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-mounts-other-volume"}, Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
			Volumes: []corev1.Volume{{Name: "mine", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:v1",
				VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: "/var/run/proxy"}}}}}}},
	}
	for _, tc := range cases {
		_, err := createRaw(ctx, c, ns, mustJSON(tc.pod), false)
		if err == nil {
			t.Errorf("%s: stored, want refused", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), "ValidatingAdmissionPolicy 'lookalike-guard' with binding") {
			t.Errorf("%s: %v, want a refusal by the validating policy", tc.name, err)
			continue
		}
		t.Logf("%s: refused: %v", tc.name, err)
	}
	// The genuine sidecar, sent by a client (a copy of a stored Pod), is
	// accepted: the policy's own injection passes its guard.
	again := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "copy", Annotations: genuine.Annotations}, Spec: *genuine.Spec.DeepCopy()}
	if _, err := createRaw(ctx, c, ns, mustJSON(again), false); err != nil {
		t.Errorf("a copy of the genuine pod: %v", err)
	}
}

type podCase struct {
	name string
	pod  *corev1.Pod
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestPolicyUpgrade: a Deployment injected under the policy of sidecar
// v1; the policies replaced by those of v2 (another image, an argument, a
// second app env var); a Pod made from the stored v1 template is stored
// with the v2 sidecar, exactly as the library's webhook restores a sidecar
// its record claims (stored = library), and the library recognises it.
func TestPolicyUpgrade(t *testing.T) {
	c := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	v1 := loadSpec(t, sidecar.Placement{})
	v2 := loadSpec(t, sidecar.Placement{})
	v2.Container.Image = "registry.invalid/mesh/proxy:2.0"
	v2.Container.Args = append(v2.Container.Args, "--v2")
	v2.AppEnv = append(v2.AppEnv, corev1.EnvVar{Name: "PROXY_VERSION", Value: "2"})
	// worker sets v1's env var itself (identically): the author's under
	// both policies. app sets v2's new one itself: the author's under v2.
	// The record's presetEnv says so; the library must agree.
	app, worker := container("app"), container("worker")
	app.Env = []corev1.EnvVar{{Name: "PROXY_VERSION", Value: "2"}}
	worker.Env = []corev1.EnvVar{{Name: "DATABASE_SOCKET", Value: "/var/run/proxy/proxy.sock"}}
	ns, sel := policyNamespace(t, c, "upgrade")
	remove := install(t, c, compile(t, v1, policy.Options{Mode: sidecar.Native, Name: "upgrade-v1", Workloads: true}), sel)
	waitActive(t, c, ns, v1.Container.Name)
	waitWorkloadsActive(t, c, ns, v1.Container.Name)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
					Containers: []corev1.Container{app, worker}},
			},
		},
	}
	stored, err := c.Client().AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	remove()
	install(t, c, compile(t, v2, policy.Options{Mode: sidecar.Native, Name: "upgrade-v2", Workloads: true}), sel)
	// Until the v1 policies are gone and v2's are active, a plain Pod gets
	// either; wait for v2's image.
	probe := mustJSON(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{container("app")}}})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		p, err := createRaw(ctx, c, ns, probe, true)
		if err == nil && len(p.Spec.InitContainers) == 1 && p.Spec.InitContainers[0].Image == v2.Container.Image {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("v2 policies not active after 30s (last: %v)", err)
		}
	}
	rec, _, err := sidecar.ReadRecord(&stored.Spec.Template.ObjectMeta, v1.Container.Name)
	if err != nil || len(rec.PresetEnv) != 1 || len(rec.PresetEnv["DATABASE_SOCKET"]) != 1 || rec.PresetEnv["DATABASE_SOCKET"][0] != "worker" {
		t.Errorf("v1 template's record: presetEnv %v (%v), want DATABASE_SOCKET: [worker]", rec.PresetEnv, err)
	}
	pod := &corev1.Pod{ObjectMeta: *stored.Spec.Template.ObjectMeta.DeepCopy(), Spec: *stored.Spec.Template.Spec.DeepCopy()}
	pod.Name = "web-v1-template"
	body := mustJSON(pod)
	got, err := createRaw(ctx, c, ns, body, false)
	if err != nil {
		t.Fatalf("create a pod of the v1 template under the v2 policies: %v", err)
	}
	if d := diffPods(predict(ctx, t, c, body, v2, sidecar.Native), got); d != "" {
		t.Errorf("stored pod differs from the library's update (-library +policy):\n%s", d)
	}
	if rec, _, err := sidecar.ReadRecord(&got.ObjectMeta, v2.Container.Name); err != nil || len(rec.PresetEnv) != 2 {
		t.Errorf("v2 pod's record: presetEnv %v (%v), want DATABASE_SOCKET: [worker], PROXY_VERSION: [app]", rec.PresetEnv, err)
	}
	res, err := sidecar.Inject(&got.ObjectMeta, &got.Spec, v2, compat.Capability{}, sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		t.Fatalf("Inject v2 on the stored pod: %v", err)
	}
	if res.Skipped != sidecar.SkipAlreadyInjected {
		p, _ := res.Mutation.JSONPatch()
		t.Errorf("the library does not recognise the updated pod: %s; its patch: %s", res.Reason, p)
	}
}

// webhookStore serves the library's webhook (admission.Handler over
// admission.Webhook, mode forced) for a namespace of its own, creates the
// Pod body there and returns the stored Pod.
func webhookStore(ctx context.Context, t *testing.T, c *cluster.Cluster, s sidecar.Spec, mode sidecar.Mode, body []byte) *corev1.Pod {
	t.Helper()
	ns := c.TestNamespace(t, map[string]string{"e2e.sidecarkit.io/policy-test": "webhook"})
	hook, err := admission.New(admission.Config{Spec: s, Options: sidecar.Options{Mode: mode}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.ServeWebhook(ctx, &admission.Handler{Webhook: hook}, cluster.WebhookOptions{
		NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
		ProbeNamespace:     ns,
		ReinvocationPolicy: admissionregistrationv1.IfNeededReinvocationPolicy,
	})
	if err != nil {
		t.Fatalf("serve webhook: %v", err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	stored, err := createRaw(ctx, c, ns, body, false)
	if err != nil {
		t.Fatalf("create pod through the webhook: %v", err)
	}
	return stored
}
