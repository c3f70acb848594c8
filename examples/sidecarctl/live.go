package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/sidecarkit/sidecarkit/compat"
)

// maxMetricsBytes bounds a /metrics text read from the API server or a
// kubelet.
const maxMetricsBytes = 64 << 20

// pageSize is the list page size: lists stay bounded in memory and each
// page within --request-timeout.
const pageSize = 500

// nodeMetricsWorkers bounds the concurrent node proxy requests.
const nodeMetricsWorkers = 4

// get runs a GET request bounded by the request timeout and reads at most
// limit bytes of the body.
func (k *kube) get(ctx context.Context, req *rest.Request, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	rc, err := req.Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("response larger than %d MiB", limit>>20)
	}
	return b, nil
}

// call runs f with a context bounded by the request timeout.
func call[T any](ctx context.Context, k *kube, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	return f(ctx)
}

// describe says why a request failed, in one line, starting with
// "forbidden: " when RBAC refused it.
func describe(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		msg := oneLine(err.Error())
		if strings.HasPrefix(msg, "forbidden") {
			return msg
		}
		return "forbidden: " + msg
	case apierrors.IsNotFound(err):
		return "not found: " + oneLine(err.Error())
	}
	return "unavailable: " + oneLine(err.Error())
}

// apiServerReport is what the doctor learnt about the API server.
type apiServerReport struct {
	Version string `json:"version"`
	// Metrics says whether /metrics was read: "read", "forbidden: ..." or
	// "unavailable: ...".
	Metrics    string            `json:"metrics"`
	Capability compat.Capability `json:"capability"`
	Error      string            `json:"error,omitempty"`

	facts apiServerFacts
}

// readAPIServer reads the API server's version (an error here means the
// cluster cannot be reached) and its /metrics.
func readAPIServer(ctx context.Context, k *kube) (*apiServerReport, error) {
	v, err := k.client.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("API server: %w", err)
	}
	r := &apiServerReport{Version: v.GitVersion}
	c, err := compat.ParseAPIServerVersion(v.GitVersion)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	text, err := k.get(ctx, k.client.Discovery().RESTClient().Get().AbsPath("/metrics"), maxMetricsBytes)
	if err != nil {
		r.Metrics = describe(err)
	} else {
		r.Metrics = "read"
		g, err := compat.ParseFeatureMetrics(bytes.NewReader(text))
		if err != nil {
			errs = append(errs, fmt.Errorf("/metrics: %w", err))
		} else {
			m, err := compat.FromAPIServerMetrics(g, v.GitVersion)
			if err != nil {
				errs = append(errs, err)
			}
			c = c.Override(m)
		}
	}
	r.Capability = c
	if err := errors.Join(errs...); err != nil {
		r.Error = oneLine(err.Error())
	}
	r.facts = newAPIServerFacts(c, v.GitVersion, r.Metrics == "read")
	return r, nil
}

// listNodes lists every node, page by page.
func listNodes(ctx context.Context, k *kube) ([]corev1.Node, error) {
	var nodes []corev1.Node
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		page, err := call(ctx, k, func(ctx context.Context) (*corev1.NodeList, error) {
			return k.client.CoreV1().Nodes().List(ctx, opts)
		})
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, page.Items...)
		if opts.Continue = page.Continue; opts.Continue == "" {
			return nodes, nil
		}
	}
}

// readNodeReports reads every node's capability: its kubelet version and
// label, and, when asked, its kubelet's /metrics through the API server's
// node proxy (docs/doctor.md#kubelet-metrics-through-the-node-proxy).
func readNodeReports(ctx context.Context, k *kube, nodes []corev1.Node, withMetrics bool) []nodeReport {
	out := make([]nodeReport, len(nodes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, nodeMetricsWorkers)
	for i := range nodes {
		n := &nodes[i]
		out[i] = nodeReport{Name: n.Name, KubeletVersion: n.Status.NodeInfo.KubeletVersion, Metrics: "not requested",
			labelledNative: n.Labels[compat.NodeLabel] == "native"}
		if !withMetrics {
			c, err := compat.ParseNode(n)
			out[i].Capability = c
			if err != nil {
				out[i].Error = oneLine(err.Error())
			}
			continue
		}
		wg.Add(1)
		go func(r *nodeReport) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			readNodeMetrics(ctx, k, n, r)
		}(&out[i])
	}
	wg.Wait()
	return out
}

func readNodeMetrics(ctx context.Context, k *kube, n *corev1.Node, r *nodeReport) {
	c, err := compat.ParseNode(n)
	text, merr := k.get(ctx, k.client.CoreV1().RESTClient().Get().Resource("nodes").Name(n.Name).SubResource("proxy").Suffix("metrics"), maxMetricsBytes)
	if merr != nil {
		r.Metrics = describe(merr) + ": the version and labels decide"
	} else if g, perr := compat.ParseFeatureMetrics(bytes.NewReader(text)); perr != nil {
		r.Metrics = "unreadable: " + oneLine(perr.Error()) + ": the version and labels decide"
	} else {
		r.Metrics = "read"
		c, err = compat.FromNodeMetrics(n, g)
	}
	r.Capability = c
	if err != nil {
		r.Error = oneLine(err.Error())
	}
}

// admissionReport is what the doctor found about mutating admission.
type admissionReport struct {
	// Webhooks are the mutating webhooks whose rules cover Pod CREATE.
	Webhooks []webhookMatch `json:"webhooks"`
	// OtherWebhooks counts those whose rules do not.
	OtherWebhooks int `json:"otherWebhooks"`
	// WebhooksError says why the configurations could not be listed.
	WebhooksError string `json:"webhooksError,omitempty"`
	// Policies are the MutatingAdmissionPolicies covering Pod CREATE.
	Policies []policyMatch `json:"policies"`
	// PoliciesError says why they could not be listed ("not served" on
	// API servers before 1.36).
	PoliciesError string `json:"policiesError,omitempty"`
	// NamespaceLabels are the probe namespace's labels, as the selectors
	// see them; nil when unreadable.
	NamespaceLabels map[string]string `json:"namespaceLabels"`
	NamespaceError  string            `json:"namespaceError,omitempty"`
	// CallsObserved says whether the API server's metrics showed which
	// webhooks it called while the probe ran (and that it served the
	// probe); CallsNote says why not.
	CallsObserved bool   `json:"callsObserved"`
	CallsNote     string `json:"callsNote,omitempty"`

	// policiesNotServed: the API server has no MutatingAdmissionPolicy
	// API, so there are none.
	policiesNotServed bool
}

// readAdmission lists the mutating webhooks and policies and evaluates
// them against the probe.
func readAdmission(ctx context.Context, k *kube, t *probeTarget) *admissionReport {
	r := &admissionReport{Webhooks: []webhookMatch{}, Policies: []policyMatch{}}
	ns, err := call(ctx, k, func(ctx context.Context) (*corev1.Namespace, error) {
		return k.client.CoreV1().Namespaces().Get(ctx, t.namespace, metav1.GetOptions{})
	})
	if err != nil {
		t.nsError = describe(err)
		r.NamespaceError = t.nsError
	} else {
		t.nsLabels = ns.Labels
		if t.nsLabels == nil {
			t.nsLabels = map[string]string{}
		}
		r.NamespaceLabels = t.nsLabels
	}
	var configs []admissionregistrationv1.MutatingWebhookConfiguration
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		page, err := call(ctx, k, func(ctx context.Context) (*admissionregistrationv1.MutatingWebhookConfigurationList, error) {
			return k.client.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, opts)
		})
		if err != nil {
			r.WebhooksError = describe(err)
			break
		}
		configs = append(configs, page.Items...)
		if opts.Continue = page.Continue; opts.Continue == "" {
			r.Webhooks, r.OtherWebhooks = matchWebhooks(configs, *t)
			if r.Webhooks == nil {
				r.Webhooks = []webhookMatch{}
			}
			break
		}
	}
	policies, err := call(ctx, k, func(ctx context.Context) (*admissionregistrationv1.MutatingAdmissionPolicyList, error) {
		return k.client.AdmissionregistrationV1().MutatingAdmissionPolicies().List(ctx, metav1.ListOptions{})
	})
	if err != nil {
		r.PoliciesError = describe(err)
		if apierrors.IsNotFound(err) {
			r.PoliciesError = "not served (admissionregistration.k8s.io/v1 MutatingAdmissionPolicy is GA from 1.36)"
			r.policiesNotServed = true
		}
		return r
	}
	if len(policies.Items) == 0 {
		return r
	}
	bindings, err := call(ctx, k, func(ctx context.Context) (*admissionregistrationv1.MutatingAdmissionPolicyBindingList, error) {
		return k.client.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().List(ctx, metav1.ListOptions{})
	})
	var bound []admissionregistrationv1.MutatingAdmissionPolicyBinding
	if err != nil {
		// Without the bindings every policy covering Pods may apply.
		r.PoliciesError = "bindings " + describe(err)
	} else {
		bound = bindings.Items
	}
	r.Policies = matchPolicies(policies.Items, bound, err == nil, *t)
	if r.Policies == nil {
		r.Policies = []policyMatch{}
	}
	return r
}

// runProbe sends the probe as a server-side dry run, reads the API
// server's webhook counters before and after it when its metrics are
// readable, and explains the result.
func runProbe(ctx context.Context, k *kube, api *apiServerReport, adm *admissionReport, t probeTarget, extraLabels map[string]string) *probeReport {
	pod := probePod(t.namespace, extraLabels)
	r := &probeReport{Namespace: t.namespace, Labels: pod.Labels, Proven: []string{}, Inferred: []string{}}
	// The counters just before the probe, so that the window holds as few
	// other creates as possible.
	var before webhookCounters
	haveBefore := false
	if api.Metrics == "read" {
		text, err := k.get(ctx, k.client.Discovery().RESTClient().Get().AbsPath("/metrics"), maxMetricsBytes)
		var c webhookCounters
		if err == nil {
			c, err = parseWebhookCounters(text)
		} else {
			err = errors.New(describe(err))
		}
		switch {
		case err != nil:
			adm.CallsNote = "the API server's metrics cannot be read for webhook calls: " + oneLine(err.Error())
		case !c.found:
			adm.CallsNote = "the API server's metrics have no " + metricRequests
		default:
			before, haveBefore = c, true
		}
	} else {
		adm.CallsNote = "the API server's /metrics are " + api.Metrics
	}
	result, err := call(ctx, k, func(ctx context.Context) (*corev1.Pod, error) {
		return k.client.CoreV1().Pods(t.namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: fieldManager})
	})
	if err != nil {
		r.Result, r.Error = probeRejected, describe(err)
		return r
	}
	if haveBefore {
		after, served, err := countersAfter(ctx, k, before)
		switch {
		case err != nil:
			adm.CallsNote = "the API server's metrics after the probe: " + oneLine(err.Error())
		default:
			observeCalls(adm.Webhooks, before, after, served)
			adm.CallsObserved = served
			if !served {
				adm.CallsNote = "the API server whose metrics were read did not count a dry-run Pod create in the window: another API server served the probe, so its calls are not observed"
			}
		}
	}
	analyzeProbe(r, result, api.facts, adm)
	return r
}

// countersAfter reads the webhook counters after the probe. The request
// counter is updated when the API server has finished the request, which
// may be just after the client got the answer: one retry after a moment.
func countersAfter(ctx context.Context, k *kube, before webhookCounters) (webhookCounters, bool, error) {
	var after webhookCounters
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return after, false, ctx.Err()
			case <-time.After(300 * time.Millisecond):
			}
		}
		text, err := k.get(ctx, k.client.Discovery().RESTClient().Get().AbsPath("/metrics"), maxMetricsBytes)
		if err != nil {
			return after, false, errors.New(describe(err))
		}
		if after, err = parseWebhookCounters(text); err != nil {
			return after, false, err
		}
		if after.dryRunPodCreates > before.dryRunPodCreates {
			return after, true, nil
		}
	}
	return after, false, nil
}

// podReport is a live Pod with findings.
type podReport struct {
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Node      string           `json:"node,omitempty"`
	Findings  []compat.Finding `json:"findings"`
}

// podsReport is what the scan of live Pods found.
type podsReport struct {
	// Namespace is the namespace scanned, "" for all.
	Namespace string `json:"namespace"`
	Scanned   int    `json:"scanned"`
	// Pods are the Pods with findings, at most maxReportedPods of them;
	// Omitted counts the rest.
	Pods    []podReport `json:"pods"`
	Omitted int         `json:"omitted,omitempty"`
	Error   string      `json:"error,omitempty"`
}

// maxReportedPods bounds the Pods a report lists.
const maxReportedPods = 50

// podCodes are the findings the scan reports: sidecars blocking Init, a
// lost restartPolicy, kubelet rejections and a sidecar as kubectl's
// default container. `sidecarctl doctor pod NAME` gives the rest.
var podCodes = map[compat.Code]bool{
	compat.CodeSidecarBlocksInit: true,
	compat.CodeFieldDropped:      true,
	compat.CodeKubeletRejected:   true,
	compat.CodeSidecarDefault:    true,
}

// scanPods lists the Pods of a namespace ("" for all), page by page, and
// diagnoses each with the API server's capability joined with its node's.
func scanPods(ctx context.Context, k *kube, namespace string, api compat.Capability, nodes map[string]compat.Capability) podsReport {
	r := podsReport{Namespace: namespace, Pods: []podReport{}}
	opts := metav1.ListOptions{Limit: pageSize}
	for {
		page, err := call(ctx, k, func(ctx context.Context) (*corev1.PodList, error) {
			return k.client.CoreV1().Pods(namespace).List(ctx, opts)
		})
		if err != nil {
			r.Error = describe(err)
			return r
		}
		for i := range page.Items {
			p := &page.Items[i]
			r.Scanned++
			c := api
			if nc, ok := nodes[p.Spec.NodeName]; ok {
				c = api.Override(nc)
			}
			var fs []compat.Finding
			for _, f := range compat.Diagnose(compat.Facts{Pod: p, Capability: c}) {
				if podCodes[f.Code] {
					fs = append(fs, f)
				}
			}
			if len(fs) == 0 {
				continue
			}
			if len(r.Pods) == maxReportedPods {
				r.Omitted++
				continue
			}
			r.Pods = append(r.Pods, podReport{Namespace: p.Namespace, Name: p.Name, Node: p.Spec.NodeName, Findings: fs})
		}
		if opts.Continue = page.Continue; opts.Continue == "" {
			break
		}
	}
	sort.SliceStable(r.Pods, func(i, j int) bool {
		if r.Pods[i].Namespace != r.Pods[j].Namespace {
			return r.Pods[i].Namespace < r.Pods[j].Namespace
		}
		return r.Pods[i].Name < r.Pods[j].Name
	})
	return r
}
