package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// ProbeAnnotation marks the dry-run objects that ServeWebhook and Close create
// to find out whether the API server calls a webhook. The webhook server
// answers them itself (allowed, no patch); the handler never sees them.
const ProbeAnnotation = "e2e.sidecarkit.io/webhook-probe"

// probeNamespace is where probes go when WebhookOptions.ProbeNamespace is
// empty. It exists from the start; its `default` ServiceAccount is created on
// first use (no controller-manager runs to create it).
const probeNamespace = "default"

// WebhookOptions configures the MutatingWebhookConfiguration that
// ServeWebhook registers: one webhook with a url clientConfig, the cluster CA
// as caBundle, sideEffects None and admissionReviewVersions [v1].
type WebhookOptions struct {
	// Name of the configuration and of its webhook; a fully qualified domain
	// name of at least three labels. Default "webhook-N.e2e.sidecarkit.io".
	Name string
	// Path of the webhook URL (no query string: the API server rejects
	// those). Default "/mutate".
	Path string
	// Rules default to CREATE of v1 pods.
	Rules []admissionregistrationv1.RuleWithOperations
	// NamespaceSelector and ObjectSelector are optional. With a
	// NamespaceSelector, ProbeNamespace must name a namespace it matches; with
	// an ObjectSelector, ProbeLabels must match it.
	NamespaceSelector *metav1.LabelSelector
	ObjectSelector    *metav1.LabelSelector
	// ReinvocationPolicy defaults to Never.
	ReinvocationPolicy admissionregistrationv1.ReinvocationPolicyType
	// FailurePolicy defaults to Fail.
	FailurePolicy admissionregistrationv1.FailurePolicyType
	// TimeoutSeconds defaults to 10.
	TimeoutSeconds int32

	// ProbeNamespace is the namespace of the readiness probe objects; it needs
	// a `default` ServiceAccount (CreateNamespace makes one). Default:
	// "default", whose ServiceAccount is created on demand.
	ProbeNamespace string
	// ProbeLabels are set on the probe objects.
	ProbeLabels map[string]string
	// Probe creates one dry-run object (?dryRun=All) that the webhook's
	// rules match, in namespace, carrying the given annotations and
	// ProbeLabels. Default: a Pod with one container. Needed when the rules
	// do not cover CREATE of pods.
	Probe func(ctx context.Context, client kubernetes.Interface, namespace string, labels, annotations map[string]string) error
	// ReadyTimeout bounds the wait until the API server calls the webhook,
	// and in Close until it no longer does. Default 30s.
	ReadyTimeout time.Duration
}

// Webhook is an in-process HTTPS webhook server plus its registration.
type Webhook struct {
	// Name of the MutatingWebhookConfiguration and its webhook.
	Name string
	// URL the API server calls.
	URL string
	// Config is the registered configuration as the API server returned it.
	Config *admissionregistrationv1.MutatingWebhookConfiguration
	// Ready is how long it took from registration until the API server
	// called the webhook.
	Ready time.Duration

	c        *Cluster
	opts     WebhookOptions
	srv      *http.Server
	served   chan struct{}
	handler  http.Handler
	probeSeq atomic.Int64
	seen     sync.Map // probe token -> struct{}
	calls    atomic.Int64
	inflight atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// ServeWebhook serves h over HTTPS on a free 127.0.0.1 port with the
// webhook serving certificate, registers a MutatingWebhookConfiguration that
// points at it, and returns once the API server calls it (polling with
// ?dryRun=All creates of a probe object). h receives AdmissionReview v1
// requests. To test an out-of-process webhook, pass a reverse proxy to it.
// Close the Webhook when done.
func (c *Cluster) ServeWebhook(ctx context.Context, h http.Handler, opts WebhookOptions) (*Webhook, error) {
	c.mu.Lock()
	c.webhookSeq++
	seq := c.webhookSeq
	c.mu.Unlock()
	if opts.Name == "" {
		opts.Name = fmt.Sprintf("webhook-%d.e2e.sidecarkit.io", seq)
	}
	if opts.Path == "" {
		opts.Path = "/mutate"
	}
	if !strings.HasPrefix(opts.Path, "/") || strings.ContainsAny(opts.Path, "?#") {
		return nil, fmt.Errorf("webhook %s: path %q must start with / and have no query or fragment", opts.Name, opts.Path)
	}
	if len(opts.Rules) == 0 {
		opts.Rules = []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
			Rule: admissionregistrationv1.Rule{
				APIGroups:   []string{""},
				APIVersions: []string{"v1"},
				Resources:   []string{"pods"},
			},
		}}
	}
	if opts.ReinvocationPolicy == "" {
		opts.ReinvocationPolicy = admissionregistrationv1.NeverReinvocationPolicy
	}
	if opts.FailurePolicy == "" {
		opts.FailurePolicy = admissionregistrationv1.Fail
	}
	if opts.TimeoutSeconds == 0 {
		opts.TimeoutSeconds = 10
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	if opts.Probe == nil {
		opts.Probe = probePod
	}
	if opts.ProbeNamespace == "" {
		if opts.NamespaceSelector != nil {
			return nil, fmt.Errorf("webhook %s: a NamespaceSelector needs a ProbeNamespace that it matches", opts.Name)
		}
		if err := c.ensureProbeNamespace(ctx); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", opts.Name, err)
		}
		opts.ProbeNamespace = probeNamespace
	}

	tlsConfig, err := c.PKI.WebhookTLSConfig()
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", opts.Name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook %s: listen: %w", opts.Name, err)
	}
	w := &Webhook{
		Name:    opts.Name,
		URL:     fmt.Sprintf("https://%s%s", ln.Addr(), opts.Path),
		c:       c,
		opts:    opts,
		handler: h,
		served:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.Handle(opts.Path, http.HandlerFunc(w.serveHTTP))
	w.srv = &http.Server{
		Handler:           mux,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		// The API server closes connections to webhooks freely; do not log
		// its TLS handshake noise.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(w.served)
		w.srv.ServeTLS(ln, "", "")
	}()

	sideEffects := admissionregistrationv1.SideEffectClassNone
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: opts.Name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: opts.Name,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				URL:      &w.URL,
				CABundle: c.PKI.CACert,
			},
			Rules:                   opts.Rules,
			FailurePolicy:           &opts.FailurePolicy,
			NamespaceSelector:       opts.NamespaceSelector,
			ObjectSelector:          opts.ObjectSelector,
			SideEffects:             &sideEffects,
			TimeoutSeconds:          &opts.TimeoutSeconds,
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      &opts.ReinvocationPolicy,
		}},
	}
	registered := time.Now()
	w.Config, err = c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{})
	if err != nil {
		w.shutdown()
		return nil, fmt.Errorf("webhook %s: register: %w", opts.Name, err)
	}
	if err := w.waitCalled(ctx, true); err != nil {
		return nil, errors.Join(fmt.Errorf("webhook %s: wait until active: %w", opts.Name, err), w.Close(ctx))
	}
	w.Ready = time.Since(registered)
	return w, nil
}

// Calls returns how many requests reached the handler (probes excluded).
func (w *Webhook) Calls() int { return int(w.calls.Load()) }

// Close deletes the configuration, waits until the API server no longer
// calls the webhook (so later requests do not fail on a closed server), and
// stops the server. Safe to call more than once.
func (w *Webhook) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		var errs []error
		err := w.c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, w.Name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			if err := w.waitCalled(ctx, false); err != nil {
				errs = append(errs, fmt.Errorf("wait until inactive: %w", err))
			}
		case apierrors.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("delete configuration: %w", err))
		}
		errs = append(errs, w.shutdown())
		if err := errors.Join(errs...); err != nil {
			w.closeErr = fmt.Errorf("close webhook %s: %w", w.Name, err)
		}
	})
	return w.closeErr
}

// shutdown waits (at most 5s) for requests in progress, then closes the
// server. http.Server.Shutdown is not used: the API server talks HTTP/2 to
// webhooks, and a graceful HTTP/2 shutdown waits a fixed second for GOAWAY.
func (w *Webhook) shutdown() error {
	deadline := time.Now().Add(5 * time.Second)
	for w.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	var errs []error
	if n := w.inflight.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("%d requests still in progress after 5s", n))
	}
	if err := w.srv.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close server: %w", err))
	}
	<-w.served
	return errors.Join(errs...)
}

// waitCalled polls with dry-run probe objects until the API server does
// (want true) or does not (want false) call the webhook.
func (w *Webhook) waitCalled(ctx context.Context, want bool) error {
	ctx, cancel := context.WithTimeout(ctx, w.opts.ReadyTimeout)
	defer cancel()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	var lastErr error
	for {
		token := fmt.Sprintf("%s/%d", w.Name, w.probeSeq.Add(1))
		annotations := map[string]string{ProbeAnnotation: token}
		err := w.opts.Probe(ctx, w.c.client, w.opts.ProbeNamespace, w.opts.ProbeLabels, annotations)
		_, called := w.seen.Load(token)
		switch {
		case called == want && (called || err == nil):
			return nil
		case err != nil:
			lastErr = err
		default:
			lastErr = fmt.Errorf("probe %s: called=%v", token, called)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last probe: %v", ctx.Err(), lastErr)
		case <-ticker.C:
		}
	}
}

// serveHTTP answers probes itself and passes everything else to the handler.
func (w *Webhook) serveHTTP(rw http.ResponseWriter, r *http.Request) {
	w.inflight.Add(1)
	defer w.inflight.Add(-1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(rw, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var review struct {
		Request *struct {
			UID    types.UID `json:"uid"`
			Object struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			} `json:"object"`
		} `json:"request"`
	}
	if json.Unmarshal(body, &review) == nil && review.Request != nil {
		if token, ok := review.Request.Object.Metadata.Annotations[ProbeAnnotation]; ok {
			w.seen.Store(token, struct{}{})
			resp := admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Response: &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true},
			}
			rw.Header().Set("Content-Type", "application/json")
			json.NewEncoder(rw).Encode(&resp)
			return
		}
	}
	w.calls.Add(1)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	w.handler.ServeHTTP(rw, r)
}

// probePod is the default probe: a dry-run Pod create.
func probePod(ctx context.Context, client kubernetes.Interface, namespace string, labels, annotations map[string]string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "webhook-probe-",
			Namespace:    namespace,
			Labels:       labels,
			Annotations:  annotations,
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "probe", Image: "registry.invalid/probe:v1"}},
		},
	}
	_, err := client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return err
}

// ensureProbeNamespace gives the default probe namespace its ServiceAccount.
func (c *Cluster) ensureProbeNamespace(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probeReady {
		return nil
	}
	if err := c.createDefaultServiceAccount(ctx, probeNamespace); err != nil {
		return err
	}
	c.probeReady = true
	return nil
}
