package injection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// The trust tests: the injection record is a hint, and the library
// recognises what it injected by content, modulo what the API server
// itself adds (defaults, the ServiceAccount plugin's token mount,
// LimitRanger's resources). Here the API server really adds them, and the
// library must see through them: a stored object injected with the same
// Spec gives an empty mutation, an update keeps the defaults, and a forged
// record cannot make the webhook keep or remove what it did not add.

// meshSpec is the sidecar of the trust tests, with every element the API
// server defaults: ports without protocol, probes of each kind without
// their defaults, a fieldRef without apiVersion, limits without requests,
// and volumes of each source with defaults (secret, configMap, projected
// with a token and downward API items, downwardAPI, emptyDir, hostPath).
// sidecar/testdata/inject/stored/mesh.yaml is a copy (TestTrustRecognisedAfterStorage
// writes it with the captured Pod).
const meshSpec = `container:
  name: mesh
  image: registry.invalid/mesh/agent:2.1
  command: ["/agent"]
  args: ["--admin=:15000", "--grpc=:15010"]
  ports:
  - name: admin
    containerPort: 15000
  - name: grpc
    containerPort: 15010
  env:
  - name: POD_NAME
    valueFrom:
      fieldRef: {fieldPath: metadata.name}
  - name: MESH_MODE
    value: sidecar
  resources:
    limits: {cpu: 200m, memory: 128Mi}
  startupProbe:
    grpc: {port: 15010}
    periodSeconds: 1
  livenessProbe:
    httpGet: {port: 15000}
  readinessProbe:
    tcpSocket: {port: admin}
  lifecycle:
    preStop:
      httpGet: {port: 15000, path: /drain}
  volumeMounts:
  - {name: mesh-certs, mountPath: /etc/mesh/certs, readOnly: true}
  - {name: mesh-config, mountPath: /etc/mesh/config, readOnly: true}
  - {name: mesh-token, mountPath: /var/run/secrets/mesh, readOnly: true}
  - {name: mesh-podinfo, mountPath: /etc/mesh/podinfo, readOnly: true}
  - {name: mesh-socket, mountPath: /var/run/mesh}
  - {name: mesh-logs, mountPath: /var/log/mesh}
volumes:
- name: mesh-certs
  secret: {secretName: mesh-certs}
- name: mesh-config
  configMap: {name: mesh-config}
- name: mesh-token
  projected:
    sources:
    - serviceAccountToken: {path: token, audience: mesh}
    - downwardAPI:
        items:
        - path: labels
          fieldRef: {fieldPath: metadata.labels}
- name: mesh-podinfo
  downwardAPI:
    items:
    - path: name
      fieldRef: {fieldPath: metadata.name}
- name: mesh-socket
  emptyDir: {}
- name: mesh-logs
  hostPath: {path: /var/log/mesh}
appMounts:
- {name: mesh-socket, mountPath: /var/run/mesh, readOnly: true}
appEnv:
- name: MESH_SOCKET
  value: /var/run/mesh/agent.sock
- name: MESH_NODE
  valueFrom:
    fieldRef: {fieldPath: spec.nodeName}
`

// meshSpecV returns meshSpec (version 1) or its next version (2): a new
// image and one more env var. In universal mode the startup probe runs a
// command: the universal pair's handshake runs the sidecar's startup check
// itself and cannot run a grpc check. With newer, the sidecar also has
// elements whose fields k8s.io/api v0.28 (the library's minimum) lacks and
// the API server defaults: an image volume (its pullPolicy; ImageVolume,
// on by default since v1.35) and an env var from a fileKeyRef (its
// optional; EnvFiles, on by default since v1.35).
func meshSpecV(t *testing.T, mode sidecar.Mode, v int, newer bool) sidecar.Spec {
	t.Helper()
	s := loadSpec(t, meshSpec, sidecarFirst)
	if mode == sidecar.Universal {
		s.Container.StartupProbe.ProbeHandler = corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/agent", "--check"}}}
	}
	if newer {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "mesh-filters", VolumeSource: corev1.VolumeSource{
			Image: &corev1.ImageVolumeSource{Reference: "registry.invalid/mesh/filters:1.0"}}})
		s.Container.VolumeMounts = append(s.Container.VolumeMounts, corev1.VolumeMount{Name: "mesh-filters", MountPath: "/etc/mesh/filters", ReadOnly: true})
		s.Container.Env = append(s.Container.Env, corev1.EnvVar{Name: "MESH_BOOTSTRAP", ValueFrom: &corev1.EnvVarSource{
			FileKeyRef: &corev1.FileKeySelector{VolumeName: "mesh-socket", Path: "bootstrap.env", Key: "TOKEN"}}})
	}
	if v == 2 {
		s.Container.Image = "registry.invalid/mesh/agent:2.2"
		s.Container.Env = append(s.Container.Env, corev1.EnvVar{Name: "MESH_TRACE", Value: "on"})
	}
	return s
}

// newerFields reports whether the API server defaults the fields of
// meshSpecV's newer elements (v1.35 or later).
func newerFields(c *cluster.Cluster) bool {
	v, err := version.ParseGeneric(c.Options().KubeVersion)
	return err == nil && v.AtLeast(version.MajorMinor(1, 35))
}

// plain returns a namespace of c without webhooks, for dry runs.
func plain(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	if c == shared.Cluster() {
		return plainNamespace(t, c)
	}
	return c.TestNamespace(t, nil)
}

// dryRunIn creates pod with ?dryRun=All in namespace ns.
func dryRunIn(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	p := pod.DeepCopy()
	p.Namespace, p.ResourceVersion, p.UID = ns, "", ""
	got, err := c.Client().CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	return got
}

// meshPlanner builds the universal pair of the trust tests.
var meshPlanner = universal.Planner{Handshake: []string{"/usr/local/bin/sidecarctl", "handshake"}}

// trustModes are the modes the cluster can store: all four, or only
// legacy with SidecarContainers=false (the API server drops restartPolicy).
func trustModes(c *cluster.Cluster) []sidecar.Mode {
	if gateOff(c) {
		return []sidecar.Mode{sidecar.Legacy}
	}
	return []sidecar.Mode{sidecar.Native, sidecar.Legacy, sidecar.Pinned, sidecar.Universal}
}

// mainMode is the mode of the tests that run in one mode.
func mainMode(c *cluster.Cluster) sidecar.Mode {
	if gateOff(c) {
		return sidecar.Legacy
	}
	return sidecar.Native
}

// EnvCapture, set to 1, makes the trust tests write the stored Pods they
// check into the repository as fixtures for tests without a cluster: the
// native case of TestTrustRecognisedAfterStorage with only the fields
// k8s.io/api v0.28 knows into sidecar/testdata/inject/stored (with the
// Spec, for sidecar/stored_test.go), the one with newer fields and that of
// TestTrustH2CProbeProtocol into testdata/stored (for TestStoredFixtures).
const EnvCapture = "SIDECARKIT_E2E_CAPTURE"

// The library's own webhook: admission.Webhook behind admission.Handler,
// wrapped so that the test sees every request and response.

// hookCall is one review the library's webhook answered.
type hookCall struct {
	Kind, Name string
	Object     json.RawMessage
	Allowed    bool
	Message    string
	Patch      patch.Ops
	Warnings   []string
}

// libHook records the reviews of the library's webhook.
type libHook struct {
	mu    sync.Mutex
	calls []hookCall
}

// serveLibrary registers the library's webhook (admission.New with
// Workloads, so Deployments are injected too) for Pods and Deployments
// created in ns.
func serveLibrary(t *testing.T, c *cluster.Cluster, ns string, s sidecar.Spec, opts sidecar.Options, capability compat.Capability) *libHook {
	t.Helper()
	return serveLibraryWith(t, c, ns, s, opts, capability, admissionregistrationv1.NeverReinvocationPolicy)
}

// serveLibraryWith is serveLibrary with the webhook's reinvocation policy.
func serveLibraryWith(t *testing.T, c *cluster.Cluster, ns string, s sidecar.Spec, opts sidecar.Options, capability compat.Capability, policy admissionregistrationv1.ReinvocationPolicyType) *libHook {
	t.Helper()
	inj, err := admission.New(admission.Config{
		Spec:      s,
		Options:   opts,
		Workloads: true,
		Capability: func(context.Context, *admission.Request) (compat.Capability, error) {
			return capability, nil
		},
	})
	if err != nil {
		t.Fatalf("admission.New: %v", err)
	}
	h := &libHook{}
	create := []admissionregistrationv1.OperationType{admissionregistrationv1.Create}
	serve(t, c, ns, h.record(&admission.Handler{Webhook: inj}), cluster.WebhookOptions{
		ReinvocationPolicy: policy,
		Rules: []admissionregistrationv1.RuleWithOperations{
			{Operations: create, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}},
			{Operations: create, Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}},
		},
	})
	return h
}

// record passes each review to next and keeps the request's object and
// the response's patch and warnings.
func (h *libHook) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())

		var in, out admissionv1.AdmissionReview
		call := hookCall{Message: fmt.Sprintf("HTTP %d: %s", rec.Code, strings.TrimSpace(rec.Body.String()))}
		if json.Unmarshal(body, &in) == nil && in.Request != nil {
			call.Kind, call.Name, call.Object = in.Request.Kind.Kind, in.Request.Name, in.Request.Object.Raw
		}
		if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &out) == nil && out.Response != nil {
			call.Allowed, call.Warnings, call.Message = out.Response.Allowed, out.Response.Warnings, ""
			if out.Response.Result != nil {
				call.Message = out.Response.Result.Message
			}
			if len(out.Response.Patch) > 0 {
				if err := json.Unmarshal(out.Response.Patch, &call.Patch); err != nil {
					call.Message = "undecodable patch: " + err.Error()
				}
			}
		}
		h.mu.Lock()
		h.calls = append(h.calls, call)
		h.mu.Unlock()
	})
}

// of returns the reviews of the object of kind named name, in order.
func (h *libHook) of(kind, name string) []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookCall
	for _, c := range h.calls {
		if c.Kind == kind && c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// only returns the single review of the object, failing t unless there is
// exactly one and it was allowed.
func (h *libHook) only(t *testing.T, kind, name string) hookCall {
	t.Helper()
	calls := h.of(kind, name)
	if len(calls) != 1 {
		t.Fatalf("the library's webhook reviewed %s %s %d times, want once: %+v", kind, name, len(calls), calls)
	}
	if !calls[0].Allowed {
		t.Fatalf("the library's webhook denied %s %s: %s", kind, name, calls[0].Message)
	}
	return calls[0]
}

// warningLog collects the warnings the API server returns to a client
// (admission webhooks' warnings included).
type warningLog struct {
	mu    sync.Mutex
	texts []string
}

func (w *warningLog) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts = append(w.texts, text)
}

func (w *warningLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.texts...)
}

// warningClient returns a client of c that collects the warnings of its
// responses.
func warningClient(t *testing.T, c *cluster.Cluster) (kubernetes.Interface, *warningLog) {
	t.Helper()
	cfg := c.Config()
	log := &warningLog{}
	cfg.WarningHandler = log
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client, log
}

// Checks.

// findContainer returns the container named name in either list, or nil.
func findContainer(spec *corev1.PodSpec, name string) *corev1.Container {
	for _, l := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range l {
			if l[i].Name == name {
				return &l[i]
			}
		}
	}
	return nil
}

const tokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// tokenMounts returns how many mounts of c are at the ServiceAccount
// token path.
func tokenMounts(c *corev1.Container) int {
	return countMounts(c, tokenMountPath)
}

// sidecarNames are the containers an injection of the mesh sidecar adds
// (the universal pair's legacy twin too).
var sidecarNames = []string{"mesh", universal.LegacyName("mesh")}

// checkDefaulted fails t unless the API server really defaulted the
// sidecar's elements in spec, so that recognising them after storage is
// not vacuous: imagePullPolicy, termination message, port protocol (and
// hostPort under hostNetwork), fieldRef apiVersion, probe and httpGet
// defaults, volume modes, token expiration and hostPath type; requests
// from limits in a Pod (pod is set) and not in a pod template; the
// ServiceAccount token mount when token is set.
func checkDefaulted(t *testing.T, what string, spec *corev1.PodSpec, pod, token bool) {
	t.Helper()
	found := 0
	for _, n := range sidecarNames {
		c := findContainer(spec, n)
		if c == nil {
			continue
		}
		found++
		errorf := func(format string, args ...any) {
			t.Helper()
			t.Errorf("%s: container %s: %s", what, n, fmt.Sprintf(format, args...))
		}
		if c.ImagePullPolicy != corev1.PullIfNotPresent {
			errorf("imagePullPolicy %q, want the default IfNotPresent", c.ImagePullPolicy)
		}
		if c.TerminationMessagePath != corev1.TerminationMessagePathDefault || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
			errorf("termination message %q %q, want the defaults", c.TerminationMessagePath, c.TerminationMessagePolicy)
		}
		for _, p := range c.Ports {
			if p.Protocol != corev1.ProtocolTCP {
				errorf("port %d protocol %q, want the default TCP", p.ContainerPort, p.Protocol)
			}
			if spec.HostNetwork && p.HostPort != p.ContainerPort {
				errorf("port %d hostPort %d under hostNetwork, want the default %d", p.ContainerPort, p.HostPort, p.ContainerPort)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.APIVersion != "v1" {
				errorf("env %s fieldRef apiVersion %q, want the default v1", e.Name, e.ValueFrom.FieldRef.APIVersion)
			}
			if e.ValueFrom != nil && e.ValueFrom.FileKeyRef != nil && e.ValueFrom.FileKeyRef.Optional == nil {
				errorf("env %s fileKeyRef without its default optional", e.Name)
			}
		}
		for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			if p == nil {
				continue
			}
			if p.TimeoutSeconds == 0 || p.PeriodSeconds == 0 || p.SuccessThreshold == 0 || p.FailureThreshold == 0 {
				errorf("probe without its defaults: %+v", p)
			}
			if g := p.HTTPGet; g != nil && (g.Path == "" || g.Scheme == "") {
				errorf("httpGet probe without its defaults: %+v", g)
			}
			if p.GRPC != nil && p.GRPC.Service == nil {
				errorf("grpc probe without its default service")
			}
		}
		if l := c.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.HTTPGet != nil && l.PreStop.HTTPGet.Scheme == "" {
			errorf("preStop httpGet without its default scheme")
		}
		if _, limited := c.Resources.Limits[corev1.ResourceCPU]; limited {
			if _, requested := c.Resources.Requests[corev1.ResourceCPU]; requested != pod {
				errorf("requests %v with limits %v: want requests defaulted from limits only in a Pod (pod=%v)", c.Resources.Requests, c.Resources.Limits, pod)
			}
		}
		want := 0
		if token {
			want = 1
		}
		if n := tokenMounts(c); n != want {
			errorf("%d ServiceAccount token mounts, want %d", n, want)
		}
	}
	if found == 0 {
		t.Fatalf("%s: no sidecar container: init %v, containers %v", what, names(spec.InitContainers), names(spec.Containers))
	}
	want := map[string]bool{"mesh-certs": true, "mesh-config": true, "mesh-token": true, "mesh-podinfo": true, "mesh-socket": true, "mesh-logs": true}
	for _, v := range spec.Volumes {
		if v.Name == "mesh-filters" && (v.Image == nil || v.Image.PullPolicy == "") {
			t.Errorf("%s: image volume %s without its default pullPolicy: %s", what, v.Name, mustJSON(v))
		}
		if !want[v.Name] {
			continue
		}
		delete(want, v.Name)
		s := v.VolumeSource
		ok := true
		switch v.Name {
		case "mesh-certs":
			ok = s.Secret != nil && s.Secret.DefaultMode != nil
		case "mesh-config":
			ok = s.ConfigMap != nil && s.ConfigMap.DefaultMode != nil
		case "mesh-token":
			ok = s.Projected != nil && s.Projected.DefaultMode != nil && len(s.Projected.Sources) == 2 &&
				s.Projected.Sources[0].ServiceAccountToken != nil && s.Projected.Sources[0].ServiceAccountToken.ExpirationSeconds != nil &&
				s.Projected.Sources[1].DownwardAPI != nil && s.Projected.Sources[1].DownwardAPI.Items[0].FieldRef.APIVersion == "v1"
		case "mesh-podinfo":
			ok = s.DownwardAPI != nil && s.DownwardAPI.DefaultMode != nil && s.DownwardAPI.Items[0].FieldRef.APIVersion == "v1"
		case "mesh-logs":
			ok = s.HostPath != nil && s.HostPath.Type != nil
		}
		if !ok {
			t.Errorf("%s: volume %s without its defaults: %s", what, v.Name, mustJSON(v))
		}
	}
	if len(want) > 0 {
		t.Errorf("%s: volumes %v missing", what, want)
	}
	if token {
		tv := false
		for _, v := range spec.Volumes {
			tv = tv || strings.HasPrefix(v.Name, "kube-api-access-") && v.Projected != nil
		}
		if !tv {
			t.Errorf("%s: no ServiceAccount token volume", what)
		}
	}
}

// restoreWarnings returns the warnings that say the library restored or
// left something it does not recognise as its own.
func restoreWarnings(ws []compat.Finding) []compat.Finding {
	var out []compat.Finding
	for _, w := range ws {
		if w.Code == compat.CodeRestored || w.Code == compat.CodeSpecNotApplied {
			out = append(out, w)
		}
	}
	return out
}

// restoreTexts is restoreWarnings for the warnings of a response, as text.
func restoreTexts(ws []string) []string {
	var out []string
	for _, w := range ws {
		if strings.Contains(w, "restored") || strings.Contains(w, "left in place") || strings.Contains(w, "itself") {
			out = append(out, w)
		}
	}
	return out
}

// checkConverged runs sidecar.Inject and sidecar.Injector.Inject with s on
// a copy of meta and spec and fails t unless both give an empty mutation
// (Skipped AlreadyInjected) with no warning about restored or foreign
// content.
func checkConverged(t *testing.T, what string, meta *metav1.ObjectMeta, spec *corev1.PodSpec, root patch.Root, s sidecar.Spec, capability compat.Capability, opts sidecar.Options) {
	t.Helper()
	res, err := sidecar.Inject(meta.DeepCopy(), spec.DeepCopy(), s, capability, opts)
	if err != nil {
		t.Fatalf("%s: Inject: %v", what, err)
	}
	in, err := sidecar.NewInjector(s)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := in.Inject(context.Background(), meta.DeepCopy(), spec.DeepCopy(), capability, opts)
	if err != nil {
		t.Fatalf("%s: Injector.Inject: %v", what, err)
	}
	for _, r := range []struct {
		name string
		res  sidecar.Result
	}{{"Inject", res}, {"Injector.Inject", res2}} {
		if !r.res.Mutation.Empty() || r.res.Skipped != sidecar.SkipAlreadyInjected {
			ops, _ := r.res.Mutation.JSONPatch(root)
			t.Errorf("%s: %s on the stored object: skipped %q, want %q; it would patch %s (warnings %q)",
				what, r.name, r.res.Skipped, sidecar.SkipAlreadyInjected, mustJSON(ops), r.res.Warnings)
		}
		if w := restoreWarnings(r.res.Warnings); len(w) > 0 {
			t.Errorf("%s: %s warns about the stored object: %q", what, r.name, w)
		}
	}
}

// defaultedFields are the JSON names of fields the API server defaults in
// the elements the library injects (and the ServiceAccount token mount's
// path): a patch that removes one strips a default.
var defaultedFields = map[string]bool{
	"imagePullPolicy": true, "terminationMessagePath": true, "terminationMessagePolicy": true,
	"protocol": true, "hostPort": true, "apiVersion": true, "timeoutSeconds": true, "periodSeconds": true,
	"successThreshold": true, "failureThreshold": true, "path": true, "scheme": true, "service": true,
	"defaultMode": true, "expirationSeconds": true, "type": true, "requests": true, "volumeMounts": true,
}

// checkNoRemoves fails t for every remove op in ops, naming those that
// strip a default. An update from meshSpec v1 to v2 (a new image, one
// more env var) removes nothing.
func checkNoRemoves(t *testing.T, what string, ops patch.Ops) {
	t.Helper()
	for _, op := range ops {
		if op.Op != "remove" {
			continue
		}
		last := op.Path[strings.LastIndexByte(op.Path, '/')+1:]
		kind := "remove op"
		if defaultedFields[last] || strings.Contains(op.Path, "/volumeMounts/") || strings.Contains(op.Path, "/resources/requests") {
			kind = "remove op of a default (or of the token mount or a request)"
		}
		t.Errorf("%s: %s %s in %s", what, kind, op.Path, mustJSON(ops))
	}
}

// applyRaw applies ops to the JSON document raw.
func applyRaw(t *testing.T, raw []byte, ops patch.Ops) []byte {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("apply %s: %v", b, err)
	}
	return out
}

// Objects.

// trustShape is a Pod to inject the mesh sidecar into.
type trustShape struct {
	name        string
	token       bool // automountServiceAccountToken
	hostNetwork bool
	oldFields   bool // only fields k8s.io/api v0.28 knows in the Spec
	init        []corev1.Container
	containers  []corev1.Container
}

var trustShapes = []trustShape{{
	name:       "token",
	token:      true,
	init:       []corev1.Container{container("setup")},
	containers: []corev1.Container{container("app"), container("worker")},
}, {
	name:       "no-token",
	containers: []corev1.Container{container("app")},
}, {
	name:        "host-network",
	hostNetwork: true,
	containers: []corev1.Container{{
		Name: "app", Image: "registry.invalid/app:v1",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
	}},
}}

func (s trustShape) pod(name string) *corev1.Pod {
	p := testPod(name, s.init, s.containers)
	p.Spec.AutomountServiceAccountToken = &s.token
	p.Spec.HostNetwork = s.hostNetwork
	return p
}

// meshTemplate is the pod template of the trust tests' Deployments: an
// init container and an application, automountServiceAccountToken left
// unset (the ServiceAccount plugin mounts the token into its Pods).
func meshTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      map[string]string{"app": "mesh-workload"},
			Annotations: map[string]string{"example.com/owner": "e2e"},
		},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{container("setup")},
			Containers:     []corev1.Container{container("app")},
		},
	}
}

func meshDeployment(name string, tmpl corev1.PodTemplateSpec) *appsv1.Deployment {
	replicas := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: tmpl,
		},
	}
}

// podFromTemplate is the Pod a ReplicaSet creates from tmpl (there is no
// controller-manager here): its labels, annotations and spec.
func podFromTemplate(name string, tmpl *corev1.PodTemplateSpec) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: tmpl.Labels, Annotations: tmpl.Annotations},
		Spec:       *tmpl.Spec.DeepCopy(),
	}
}

// createDeployment creates d in ns through the library's webhook and
// returns the stored Deployment and its raw JSON.
func createDeployment(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string, d *appsv1.Deployment) (*appsv1.Deployment, []byte) {
	t.Helper()
	if _, err := c.Client().AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Deployment: %v", err)
	}
	return getDeployment(ctx, t, c, ns, d.Name)
}

func getDeployment(ctx context.Context, t *testing.T, c *cluster.Cluster, ns, name string) (*appsv1.Deployment, []byte) {
	t.Helper()
	raw, err := c.Client().AppsV1().RESTClient().Get().Namespace(ns).Resource("deployments").Name(name).DoRaw(ctx)
	if err != nil {
		t.Fatalf("get Deployment: %v", err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return &d, raw
}

func createPod(ctx context.Context, t *testing.T, client kubernetes.Interface, ns string, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	stored, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", pod.Name, err)
	}
	return stored
}

// withoutTokenNames renames the ServiceAccount token volume of spec (and
// its mounts) to "kube-api-access-*": the plugin names it randomly.
func withoutTokenNames(spec *corev1.PodSpec) *corev1.PodSpec {
	s := spec.DeepCopy()
	rename := map[string]bool{}
	for i := range s.Volumes {
		if strings.HasPrefix(s.Volumes[i].Name, "kube-api-access-") {
			rename[s.Volumes[i].Name] = true
			s.Volumes[i].Name = "kube-api-access-*"
		}
	}
	for _, l := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range l {
			for j := range l[i].VolumeMounts {
				if rename[l[i].VolumeMounts[j].Name] {
					l[i].VolumeMounts[j].Name = "kube-api-access-*"
				}
			}
		}
	}
	return s
}

// TestTrustRecognisedAfterStorage injects the mesh sidecar in every mode
// through the library's webhook into Pods with and without the
// ServiceAccount token and under hostNetwork, reads the stored Pod back
// (defaulted by the API server, the token mounted into the sidecar by the
// ServiceAccount plugin's run after the webhook's patch) and checks that
// the library recognises its injection: Inject with the same Spec is
// empty. Uninject on the stored Pod gives the Pod as sent, as the API
// server stores it. The shape "token-v0.28" uses only fields k8s.io/api
// v0.28 knows (its native case is the one captured for the unit tests).
func TestTrustRecognisedAfterStorage(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	newer := newerFields(c)
	shapes := append(trustShapes, trustShape{
		name: "token-v0.28", token: true, oldFields: true,
		init:       []corev1.Container{container("setup")},
		containers: []corev1.Container{container("app")},
	})
	for _, mode := range trustModes(c) {
		for _, shape := range shapes {
			mode, shape := mode, shape
			t.Run(fmt.Sprintf("%s/%s", mode, shape.name), func(t *testing.T) {
				t.Parallel()
				stored := checkRecognised(t, c, capability, mode, shape, newer && !shape.oldFields)
				switch {
				case mode != sidecar.Native:
				case shape.oldFields:
					capture(t, c, stored, filepath.Join("..", "..", "sidecar", "testdata", "inject", "stored", "pod-native.json"), true)
				case shape.name == "token" && newer:
					capture(t, c, stored, filepath.Join("testdata", "stored", "pod-native-newer.json"), false)
				}
			})
		}
	}
}

// checkRecognised injects the mesh sidecar (meshSpecV v1) in mode into a
// Pod of shape through the library's webhook in c, checks the stored Pod
// (see TestTrustRecognisedAfterStorage) and returns it.
func checkRecognised(t *testing.T, c *cluster.Cluster, capability compat.Capability, mode sidecar.Mode, shape trustShape, newer bool) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns := namespace(t, c)
	s := meshSpecV(t, mode, 1, newer)
	opts := sidecar.Options{Mode: mode, Universal: meshPlanner}
	hook := serveLibrary(t, c, ns, s, opts, capability)

	pod := shape.pod("trust-" + shape.name)
	stored := createPod(ctx, t, c.Client(), ns, pod)
	call := hook.only(t, "Pod", pod.Name)
	if len(call.Patch) == 0 {
		t.Fatalf("the webhook did not inject: %+v", call)
	}
	checkDefaulted(t, "stored pod", &stored.Spec, true, shape.token)
	checkConverged(t, "stored pod", &stored.ObjectMeta, &stored.Spec, patch.PodRoot, s, capability, opts)

	// Uninject gives back the Pod as sent, as the API server stores it
	// (both made concrete by dry-run creates), apart from the token
	// volume's random name.
	m, err := sidecar.Uninject(stored.ObjectMeta.DeepCopy(), stored.Spec.DeepCopy(), "mesh")
	if err != nil {
		t.Fatalf("Uninject on the stored pod: %v", err)
	}
	unOps, err := m.JSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	pns := plain(t, c)
	un := dryRunIn(ctx, t, c, pns, applyOps(t, stored, unOps))
	sent := dryRunIn(ctx, t, c, pns, pod)
	if sent.Spec.Affinity == nil && emptyAffinity(un.Spec.Affinity) {
		// Found here: Uninject of a pinned sidecar removes the node
		// requirement it added but leaves the affinity and nodeAffinity
		// objects the injection created, empty.
		t.Logf("known difference: Uninject leaves an empty affinity %s (patch %s)", mustJSON(un.Spec.Affinity), mustJSON(unOps))
		un.Spec.Affinity = nil
	}
	if d := cmp.Diff(comparable{sent.Labels, sent.Annotations, *withoutTokenNames(&sent.Spec)},
		comparable{un.Labels, un.Annotations, *withoutTokenNames(&un.Spec)}); d != "" {
		t.Errorf("Uninject on the stored pod differs from the pod as sent (-sent +uninjected):\n%s\npatch: %s", d, mustJSON(unOps))
	}
	return stored
}

// emptyAffinity reports whether a is an affinity that constrains nothing
// (but is there).
func emptyAffinity(a *corev1.Affinity) bool {
	if a == nil || a.PodAffinity != nil || a.PodAntiAffinity != nil {
		return false
	}
	n := a.NodeAffinity
	return n == nil || n.RequiredDuringSchedulingIgnoredDuringExecution == nil && len(n.PreferredDuringSchedulingIgnoredDuringExecution) == 0
}

// capture writes the stored Pod (without managedFields) to path when
// $SIDECARKIT_E2E_CAPTURE is 1, and with spec meshSpec next to it as
// mesh.yaml.
func capture(t *testing.T, c *cluster.Cluster, stored *corev1.Pod, path string, spec bool) {
	t.Helper()
	if os.Getenv(EnvCapture) != "1" {
		return
	}
	p := stored.DeepCopy()
	p.ManagedFields = nil
	p.APIVersion, p.Kind = "v1", "Pod"
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if spec {
		if err := os.WriteFile(filepath.Join(filepath.Dir(path), "mesh.yaml"), []byte(meshSpec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("captured the stored pod (kube-apiserver %s, feature gates %v) into %s", c.Options().KubeVersion, c.Options().FeatureGates, path)
}

// TestTrustWorkloadTemplate injects the mesh sidecar into a Deployment's
// pod template through the library's webhook: the stored template (which
// the API server defaults as a template: no requests from limits, no
// token) is recognised, and so is a Pod created from it, which reaches the
// webhook carrying the sidecar with the token mounted into it and
// requests defaulted: the webhook leaves it alone, and the stored Pod is
// recognised too.
func TestTrustWorkloadTemplate(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	for _, mode := range trustModes(c) {
		mode := mode
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ns := namespace(t, c)
			s := meshSpecV(t, mode, 1, newerFields(c))
			opts := sidecar.Options{Mode: mode, Universal: meshPlanner}
			hook := serveLibrary(t, c, ns, s, opts, capability)

			d, _ := createDeployment(ctx, t, c, ns, meshDeployment("mesh-workload", meshTemplate()))
			if call := hook.only(t, "Deployment", d.Name); len(call.Patch) == 0 {
				t.Fatalf("the webhook did not inject the Deployment: %+v", call)
			}
			tmpl := &d.Spec.Template
			checkDefaulted(t, "stored template", &tmpl.Spec, false, false)
			checkConverged(t, "stored template", &tmpl.ObjectMeta, &tmpl.Spec, patch.TemplateRoot, s, capability, opts)

			pod := createPod(ctx, t, c.Client(), ns, podFromTemplate("from-template", tmpl))
			call := hook.only(t, "Pod", pod.Name)
			if len(call.Patch) > 0 || len(restoreTexts(call.Warnings)) > 0 {
				t.Errorf("the webhook changed a Pod of the injected template: patch %s, warnings %q", mustJSON(call.Patch), call.Warnings)
			}
			checkDefaulted(t, "pod from the template", &pod.Spec, true, true)
			checkConverged(t, "pod from the template", &pod.ObjectMeta, &pod.Spec, patch.PodRoot, s, capability, opts)
		})
	}
}

// TestTrustUpdateKeepsDefaults injects meshSpec v1, then v2 (a new image
// and one more env var) into the stored object: the update has no remove
// op (no default, token mount or request stripped), is complete (the API
// server has nothing to add to the result: the patched object equals what
// it stores of it), and Inject v2 on the stored result is empty. For a
// Deployment the patch is applied for real (JSON patch) and as a dry-run
// strategic merge patch; for a Pod, whose spec is immutable, the patched
// Pod is created in a dry run. A Pod created from the v1 template reaches
// a v2 webhook: its sidecar (with the token mount and requests the API
// server added) is updated without a warning and keeps them.
func TestTrustUpdateKeepsDefaults(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	newer := newerFields(c)
	for _, mode := range trustModes(c) {
		mode := mode
		opts := sidecar.Options{Mode: mode, Universal: meshPlanner}
		t.Run(string(mode)+"/pod", func(t *testing.T) {
			t.Parallel()
			checkPodUpdate(t, c, capability, mode, newer)
		})
		t.Run(string(mode)+"/deployment", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ns := namespace(t, c)
			v1, v2 := meshSpecV(t, mode, 1, newer), meshSpecV(t, mode, 2, newer)
			serveLibrary(t, c, ns, v1, opts, capability)
			d, raw := createDeployment(ctx, t, c, ns, meshDeployment("mesh-update", meshTemplate()))
			v1Template := d.Spec.Template.DeepCopy()

			obj, err := patch.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			res, err := sidecar.Inject(obj.Meta, obj.Spec, v2, capability, opts)
			if err != nil {
				t.Fatalf("Inject v2: %v", err)
			}
			if w := restoreWarnings(res.Warnings); len(w) > 0 {
				t.Errorf("updating the library's own v1 sidecar warns: %q", w)
			}
			ops, err := res.Mutation.JSONPatch(obj.Root)
			if err != nil {
				t.Fatal(err)
			}
			checkNoRemoves(t, "v1→v2 template patch", ops)
			smp, err := res.Mutation.StrategicMerge(obj.Root)
			if err != nil {
				t.Fatal(err)
			}
			local := applyRaw(t, raw, ops)
			var want appsv1.Deployment
			if err := json.Unmarshal(local, &want); err != nil {
				t.Fatal(err)
			}
			checkV2(t, "patched template", &want.Spec.Template.Spec, false)

			// The strategic merge patch, in a dry run, and the JSON patch,
			// for real, give what the JSON patch gives locally: the API
			// server has nothing to add.
			client := c.Client().AppsV1().Deployments(ns)
			dry, err := client.Patch(ctx, d.Name, types.StrategicMergePatchType, smp, metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				t.Fatalf("dry-run strategic merge patch: %v\n%s", err, smp)
			}
			if diff := cmp.Diff(want.Spec.Template, dry.Spec.Template); diff != "" {
				t.Errorf("the strategic merge patch gives another template (-JSON patch applied locally +stored):\n%s\npatch: %s", diff, smp)
			}
			opsJSON, err := json.Marshal(ops)
			if err != nil {
				t.Fatal(err)
			}
			got, err := client.Patch(ctx, d.Name, types.JSONPatchType, opsJSON, metav1.PatchOptions{})
			if err != nil {
				t.Fatalf("JSON patch: %v\n%s", err, opsJSON)
			}
			if diff := cmp.Diff(want.Spec.Template, got.Spec.Template); diff != "" {
				t.Errorf("the API server changes the patched template (-patched locally +stored):\n%s\npatch: %s", diff, opsJSON)
			}
			checkConverged(t, "v2 template", &got.Spec.Template.ObjectMeta, &got.Spec.Template.Spec, patch.TemplateRoot, v2, capability, opts)

			// A Pod of the v1 template (an old ReplicaSet's) reaches a v2
			// webhook: updated without a warning, its token mount and
			// requests kept; stored, it is v2 as specified.
			ns2 := namespace(t, c)
			hook2 := serveLibrary(t, c, ns2, v2, opts, capability)
			pod := createPod(ctx, t, c.Client(), ns2, podFromTemplate("old-template", v1Template))
			call := hook2.only(t, "Pod", pod.Name)
			if len(call.Patch) == 0 {
				t.Errorf("the v2 webhook did not update the v1 sidecar")
			}
			if w := restoreTexts(call.Warnings); len(w) > 0 {
				t.Errorf("the v2 webhook warns about the library's own v1 sidecar: %q", w)
			}
			checkNoRemoves(t, "v2 webhook's patch of a v1 pod", call.Patch)
			checkV2(t, "pod of the v1 template", &pod.Spec, true)
			checkDefaulted(t, "pod of the v1 template", &pod.Spec, true, true)
			checkConverged(t, "pod of the v1 template", &pod.ObjectMeta, &pod.Spec, patch.PodRoot, v2, capability, opts)
		})
	}
}

// checkPodUpdate injects meshSpecV v1 into a Pod with the token through
// the library's webhook in c, then v2 into the stored Pod (see
// TestTrustUpdateKeepsDefaults).
func checkPodUpdate(t *testing.T, c *cluster.Cluster, capability compat.Capability, mode sidecar.Mode, newer bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns := namespace(t, c)
	opts := sidecar.Options{Mode: mode, Universal: meshPlanner}
	v1, v2 := meshSpecV(t, mode, 1, newer), meshSpecV(t, mode, 2, newer)
	serveLibrary(t, c, ns, v1, opts, capability)
	stored := createPod(ctx, t, c.Client(), ns, trustShapes[0].pod("update"))

	res, err := sidecar.Inject(stored.ObjectMeta.DeepCopy(), stored.Spec.DeepCopy(), v2, capability, opts)
	if err != nil {
		t.Fatalf("Inject v2: %v", err)
	}
	if res.Mutation.Empty() {
		t.Fatal("Inject v2 on the v1 pod: empty mutation")
	}
	if w := restoreWarnings(res.Warnings); len(w) > 0 {
		t.Errorf("updating the library's own v1 sidecar warns: %q", w)
	}
	ops, err := res.Mutation.JSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	checkNoRemoves(t, "v1→v2 pod patch", ops)
	patched := applyOps(t, stored, ops)
	checkV2(t, "patched pod", &patched.Spec, true)

	// Complete: the API server stores the patched Pod as it is.
	dry := dryRunIn(ctx, t, c, plain(t, c), patched)
	if d := cmp.Diff(withoutTokenNames(&patched.Spec), withoutTokenNames(&dry.Spec)); d != "" {
		t.Errorf("the API server changes the patched pod (-patched +stored):\n%s\npatch: %s", d, mustJSON(ops))
	}
	checkConverged(t, "v2 pod", &dry.ObjectMeta, &dry.Spec, patch.PodRoot, v2, capability, opts)
}

// checkV2 fails t unless every sidecar container in spec has meshSpec
// v2's image and env var, and, in a Pod, its token mount.
func checkV2(t *testing.T, what string, spec *corev1.PodSpec, pod bool) {
	t.Helper()
	for _, n := range sidecarNames {
		c := findContainer(spec, n)
		if c == nil {
			continue
		}
		if c.Image != "registry.invalid/mesh/agent:2.2" || envValue(c, "MESH_TRACE") != "on" {
			t.Errorf("%s: container %s is not v2: image %s, env %s", what, n, c.Image, mustJSON(c.Env))
		}
		if pod && tokenMounts(c) != 1 {
			t.Errorf("%s: container %s has %d token mounts, want 1", what, n, tokenMounts(c))
		}
	}
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// equalQuantities compares quantities by value.
var equalQuantities = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

// limitRange creates in ns a LimitRange that gives containers the
// default limits and requests.
func limitRange(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string, limits, requests corev1.ResourceList) {
	t.Helper()
	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Default: limits, DefaultRequest: requests,
		}}},
	}
	if _, err := c.Client().CoreV1().LimitRanges(ns).Create(ctx, lr, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create LimitRange: %v", err)
	}
}

// TestTrustLimitRange runs the library's webhook in a namespace whose
// LimitRange defaults requests and limits (the LimitRanger admission
// plugin is on by default): the sidecar of a Pod created from an injected
// template gets the LimitRange's defaults for what the Spec leaves unset,
// and so does the sidecar the webhook injects into a plain Pod (the plugin
// runs again after the webhook's patch). Neither the webhook nor Inject on
// the stored Pod changes them, with a Spec that sets limits (only
// ephemeral-storage is left to the LimitRange) and with one that sets no
// resources at all. A Pod of the v1 template that reaches a v2 webhook is
// updated and stored with the LimitRange's values.
func TestTrustLimitRange(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	mode := mainMode(c)
	opts := sidecar.Options{Mode: mode, Universal: meshPlanner}
	for _, variant := range []string{"limits", "no-resources"} {
		variant := variant
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			ns := namespace(t, c)
			s := meshSpecV(t, mode, 1, newerFields(c))
			if variant == "no-resources" {
				s.Container.Resources = corev1.ResourceRequirements{}
			}
			q := resource.MustParse
			limits := corev1.ResourceList{corev1.ResourceCPU: q("500m"), corev1.ResourceMemory: q("256Mi"), corev1.ResourceEphemeralStorage: q("1Gi")}
			requests := corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("64Mi"), corev1.ResourceEphemeralStorage: q("256Mi")}
			limitRange(ctx, t, c, ns, limits, requests)
			hook := serveLibrary(t, c, ns, s, opts, capability)

			// What the sidecar must end up with: the Spec's resources,
			// requests defaulted from limits, the rest from the LimitRange.
			want := corev1.ResourceRequirements{Limits: limits.DeepCopy(), Requests: requests.DeepCopy()}
			for k, v := range s.Container.Resources.Limits {
				want.Limits[k], want.Requests[k] = v, v
			}

			d, _ := createDeployment(ctx, t, c, ns, meshDeployment("mesh-limits", meshTemplate()))
			if call := hook.only(t, "Deployment", d.Name); len(call.Patch) == 0 {
				t.Fatalf("the webhook did not inject the Deployment: %+v", call)
			}
			for _, p := range []struct {
				name     string
				pod      *corev1.Pod
				injected bool // by the webhook, in this request
			}{
				{"from-template", podFromTemplate("from-template", &d.Spec.Template), false},
				{"plain", trustShapes[0].pod("plain"), true},
			} {
				stored := createPod(ctx, t, c.Client(), ns, p.pod)
				call := hook.only(t, "Pod", p.pod.Name)
				if injected := len(call.Patch) > 0; injected != p.injected {
					t.Errorf("%s: the webhook patched %s, want a patch: %v", p.name, mustJSON(call.Patch), p.injected)
				}
				if w := restoreTexts(call.Warnings); len(w) > 0 {
					t.Errorf("%s: the webhook warns: %q", p.name, w)
				}
				sc := findContainer(&stored.Spec, "mesh")
				if sc == nil {
					t.Fatalf("%s: no sidecar in the stored pod", p.name)
				}
				if d := cmp.Diff(want, sc.Resources, equalQuantities); d != "" {
					t.Errorf("%s: stored sidecar resources (-want +got):\n%s", p.name, d)
				}
				checkConverged(t, p.name, &stored.ObjectMeta, &stored.Spec, patch.PodRoot, s, capability, opts)
			}

			// A Pod of the v1 template reaches a v2 webhook in a namespace
			// with the same LimitRange: the update drops what the spec
			// leaves unset (the record's spec is another: by design, so
			// that an update removes what an older spec set), and
			// LimitRanger, run again after the webhook's patch, sets it
			// again. The stored Pod has the LimitRange's values and is v2
			// as specified.
			ns2 := namespace(t, c)
			limitRange(ctx, t, c, ns2, limits, requests)
			v2 := meshSpecV(t, mode, 2, newerFields(c))
			v2.Container.Resources = s.Container.Resources
			hook2 := serveLibrary(t, c, ns2, v2, opts, capability)
			stored := createPod(ctx, t, c.Client(), ns2, podFromTemplate("old-template", &d.Spec.Template))
			call := hook2.only(t, "Pod", "old-template")
			var removes []string
			for _, op := range call.Patch {
				if op.Op == "remove" {
					removes = append(removes, op.Path)
				}
			}
			t.Logf("the v2 webhook's update removes %v (LimitRanger sets them again)", removes)
			checkV2(t, "pod of the v1 template", &stored.Spec, true)
			if sc := findContainer(&stored.Spec, "mesh"); sc != nil {
				if d := cmp.Diff(want, sc.Resources, equalQuantities); d != "" {
					t.Errorf("pod of the v1 template: stored sidecar resources (-want +got):\n%s", d)
				}
			}
			checkConverged(t, "pod of the v1 template", &stored.ObjectMeta, &stored.Spec, patch.PodRoot, v2, capability, opts)
		})
	}
}

// TestTrustReinvoked registers the library's webhook with
// reinvocationPolicy IfNeeded, as webhooks that must see other webhooks'
// containers do, in a namespace with a LimitRange: the webhook's patch
// makes the API server run its built-in plugins again (the ServiceAccount
// plugin mounts the token into the sidecar, LimitRanger sets its
// resources), which changes the Pod, so the webhook is called again; that
// call sees its own sidecar with the plugins' additions and answers
// without a patch or a warning.
func TestTrustReinvoked(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	mode := mainMode(c)
	opts := sidecar.Options{Mode: mode, Universal: meshPlanner}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns := namespace(t, c)
	limitRange(ctx, t, c, ns, corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")},
		corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("256Mi")})
	s := meshSpecV(t, mode, 1, newerFields(c))
	hook := serveLibraryWith(t, c, ns, s, opts, capability, admissionregistrationv1.IfNeededReinvocationPolicy)
	stored := createPod(ctx, t, c.Client(), ns, trustShapes[0].pod("reinvoked"))
	calls := hook.of("Pod", "reinvoked")
	if len(calls) != 2 {
		t.Fatalf("the webhook was called %d times, want 2 (the plugins changed the pod after its patch): %+v", len(calls), calls)
	}
	if len(calls[0].Patch) == 0 {
		t.Errorf("the first call did not inject")
	}
	if len(calls[1].Patch) > 0 || len(calls[1].Warnings) > 0 {
		t.Errorf("the reinvocation patches %s with warnings %q; want nothing", mustJSON(calls[1].Patch), calls[1].Warnings)
	}
	mesh := findContainer(&stored.Spec, "mesh")
	if mesh == nil || tokenMounts(mesh) != 1 || mesh.Resources.Limits.Name(corev1.ResourceEphemeralStorage, resource.BinarySI).IsZero() {
		t.Errorf("stored sidecar lacks the plugins' additions: %s", mustJSON(mesh))
	}
	checkConverged(t, "stored pod", &stored.ObjectMeta, &stored.Spec, patch.PodRoot, s, capability, opts)
}

// TestTrustForgedRecord sends through the library's webhook a Pod that its
// author built to look injected: the record annotation copied from a
// genuinely injected Pod, a container under the sidecar's name with
// another image, privileged, with an extra hostPath mount; a record that
// also claims a volume of the author's; an application env var of the
// Spec's name with the author's value. The stored Pod has exactly the
// Spec's sidecar (as the genuine Pod has it), the author's volume and
// value are kept, and the API server hands the webhook's warnings (the
// sidecar restored, the volume left in place) to the client. Uninject
// refuses the forged Pod.
func TestTrustForgedRecord(t *testing.T) {
	c := env(t)
	capability := serverCapability(t, c)
	mode := mainMode(c)
	opts := sidecar.Options{Mode: mode, Universal: meshPlanner}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ns := namespace(t, c)
	s := meshSpecV(t, mode, 1, newerFields(c))
	hook := serveLibrary(t, c, ns, s, opts, capability)
	genuine := createPod(ctx, t, c.Client(), ns, trustShapes[1].pod("genuine"))
	if len(hook.only(t, "Pod", "genuine").Patch) == 0 {
		t.Fatal("the webhook did not inject the genuine pod")
	}
	key := sidecar.Annotation("mesh")
	rec, ok, err := sidecar.ReadRecord(&genuine.ObjectMeta, "mesh")
	if err != nil || !ok {
		t.Fatalf("genuine record: %v %v", ok, err)
	}

	// The forgery: the genuine stored Pod, its sidecar replaced.
	forged := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "forged", Labels: genuine.Labels, Annotations: map[string]string{}},
		Spec:       *genuine.Spec.DeepCopy(),
	}
	for k, v := range genuine.Annotations {
		forged.Annotations[k] = v
	}
	sc := findContainer(&forged.Spec, "mesh")
	privileged := true
	sc.Image = "registry.invalid/evil/agent:6.6.6"
	sc.SecurityContext = &corev1.SecurityContext{Privileged: &privileged}
	sc.VolumeMounts = append(sc.VolumeMounts, corev1.VolumeMount{Name: "host-root", MountPath: "/host"})
	forged.Spec.Volumes = append(forged.Spec.Volumes,
		corev1.Volume{Name: "host-root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}},
		corev1.Volume{Name: "author-data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	// The record also claims the author's volume, with a digest the
	// genuine record holds for another.
	rec.Volumes["author-data"] = rec.Volumes["mesh-socket"]
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	forged.Annotations[key] = string(b)
	app := findContainer(&forged.Spec, "app")
	for i := range app.Env {
		if app.Env[i].Name == "MESH_SOCKET" {
			app.Env[i].Value = "/run/author/agent.sock"
		}
	}

	// Uninject does not take the forged record's word for the sidecar.
	if _, err := sidecar.Uninject(forged.ObjectMeta.DeepCopy(), forged.Spec.DeepCopy(), "mesh"); err == nil {
		t.Error("Uninject removes the forged sidecar")
	} else {
		t.Logf("Uninject on the forged pod: %v", err)
	}

	client, warnings := warningClient(t, c)
	stored := createPod(ctx, t, client, ns, forged)
	call := hook.only(t, "Pod", "forged")
	t.Logf("webhook warnings: %q; patch %s", call.Warnings, mustJSON(call.Patch))

	// Exactly the Spec's sidecar: the genuine one.
	if d := cmp.Diff(findContainer(&genuine.Spec, "mesh"), findContainer(&stored.Spec, "mesh")); d != "" {
		t.Errorf("stored sidecar differs from the genuine one (-genuine +stored):\n%s", d)
	}
	got := findContainer(&stored.Spec, "mesh")
	if got.SecurityContext != nil || got.Image != s.Container.Image || countMounts(got, "/host") != 0 {
		t.Errorf("stored sidecar keeps the forgery: image %s, securityContext %s, mounts %s", got.Image, mustJSON(got.SecurityContext), mustJSON(got.VolumeMounts))
	}
	vols := map[string]bool{}
	for _, v := range stored.Spec.Volumes {
		vols[v.Name] = true
	}
	if !vols["author-data"] || !vols["host-root"] {
		t.Errorf("the author's volumes were removed: %v", vols)
	}
	if v := envValue(findContainer(&stored.Spec, "app"), "MESH_SOCKET"); v != "/run/author/agent.sock" {
		t.Errorf("app's MESH_SOCKET is %q, want the author's value kept", v)
	}
	if r, _, err := sidecar.ReadRecord(&stored.ObjectMeta, "mesh"); err != nil || r.Volumes["author-data"] != "" {
		t.Errorf("stored record still claims the author's volume: %s (%v)", stored.Annotations[key], err)
	}

	// The warnings: in the webhook's response, and handed to the client.
	for _, want := range []string{`container "mesh" differed`, "and was restored to it", `volume "author-data" is left in place`} {
		inResponse, atClient := false, false
		for _, w := range call.Warnings {
			inResponse = inResponse || strings.Contains(w, want)
		}
		for _, w := range warnings.all() {
			atClient = atClient || strings.Contains(w, want)
		}
		if !inResponse || !atClient {
			t.Errorf("warning %q: in the webhook's response %v (%q), at the client %v (%q)", want, inResponse, call.Warnings, atClient, warnings.all())
		}
	}

	// Converged: the stored Pod is the library's, apart from the author's
	// env value, which it keeps (with a warning) and does not patch.
	res, err := sidecar.Inject(stored.ObjectMeta.DeepCopy(), stored.Spec.DeepCopy(), s, capability, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Mutation.Empty() {
		ops, _ := res.Mutation.JSONPatch(patch.PodRoot)
		t.Errorf("Inject on the stored pod is not empty: %s", mustJSON(ops))
	}
}

// TestTrustH2CProbeProtocol starts a v1.37 API server of its own with the
// alpha gate H2CContainerProbe, with which it defaults httpGet.protocol
// (a field k8s.io/api v0.28 lacks) to HTTP1 in the probes and hooks of a
// Pod's containers (not of a template's): the library recognises the
// stored Pod and updates it without removing the protocol.
func TestTrustH2CProbeProtocol(t *testing.T) {
	base := env(t)
	if v, err := version.ParseGeneric(base.Options().KubeVersion); err != nil || !v.AtLeast(version.MajorMinor(1, 37)) || len(base.Options().FeatureGates) > 0 {
		t.Skipf("the H2CContainerProbe gate exists from v1.37 on; this leg runs %s with gates %v", base.Options().KubeVersion, base.Options().FeatureGates)
	}
	c := cluster.ForTest(t, cluster.Options{FeatureGates: map[string]bool{"H2CContainerProbe": true}})
	capability := serverCapability(t, c)
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		mode := mode
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			stored := checkRecognised(t, c, capability, mode, trustShapes[0], true)
			if mode == sidecar.Native {
				capture(t, c, stored, filepath.Join("testdata", "stored", "pod-native-h2c.json"), false)
			}
			mesh := findContainer(&stored.Spec, "mesh")
			for what, g := range map[string]*corev1.HTTPGetAction{"livenessProbe": mesh.LivenessProbe.HTTPGet, "preStop": mesh.Lifecycle.PreStop.HTTPGet} {
				if g.Protocol == nil || *g.Protocol != corev1.HTTPProtocolHTTP1 {
					t.Errorf("stored sidecar's %s httpGet protocol %v: want the API server's default HTTP1 (is the gate on?)", what, g.Protocol)
				}
			}
			checkPodUpdate(t, c, capability, mode, true)
		})
	}
}

// TestStoredFixtures runs without a cluster, with the library built
// against this module's k8s.io/api (newer than the library's v0.28), on
// Pods that the API server stored (captured by the trust tests, see
// EnvCapture): with the ImageVolume and EnvFiles defaults
// (pod-native-newer.json, v1.37.2 default gates) and with httpGet
// protocols (pod-native-h2c.json, H2CContainerProbe on). Inject with the
// same Spec is empty; the update to v2 removes nothing and, applied,
// converges.
func TestStoredFixtures(t *testing.T) {
	for _, name := range []string{"pod-native-newer.json", "pod-native-h2c.json"} {
		name := name
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "stored", name))
			if err != nil {
				t.Fatal(err)
			}
			stored := mustPod(t, raw)
			opts := sidecar.Options{Mode: sidecar.Native}
			var capability compat.Capability
			v1, v2 := meshSpecV(t, sidecar.Native, 1, true), meshSpecV(t, sidecar.Native, 2, true)
			checkDefaulted(t, name, &stored.Spec, true, true)
			checkConverged(t, name, &stored.ObjectMeta, &stored.Spec, patch.PodRoot, v1, capability, opts)

			res, err := sidecar.Inject(stored.ObjectMeta.DeepCopy(), stored.Spec.DeepCopy(), v2, capability, opts)
			if err != nil {
				t.Fatal(err)
			}
			if w := restoreWarnings(res.Warnings); len(w) > 0 {
				t.Errorf("updating the library's own v1 sidecar warns: %q", w)
			}
			ops, err := res.Mutation.JSONPatch(patch.PodRoot)
			if err != nil {
				t.Fatal(err)
			}
			checkNoRemoves(t, "v1→v2", ops)
			patched := applyOps(t, stored, ops)
			checkV2(t, "patched", &patched.Spec, true)
			checkConverged(t, "patched", &patched.ObjectMeta, &patched.Spec, patch.PodRoot, v2, capability, opts)
		})
	}
}
