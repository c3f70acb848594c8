// Package facts gathers what a cluster can do with native sidecars: the API
// server's capability (from its version, optionally its /metrics) and the
// weakest node a pod template may land on (from the Nodes in a cache, which
// the labeler keeps labelled with their kubelet's capability).
package facts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sidecarkit/sidecarkit/compat"
)

// Source answers what the cluster can do for a pod template with the given
// spec. The injector and the admission handler ask it before every
// injection.
type Source interface {
	Capability(ctx context.Context, spec *corev1.PodSpec) (compat.Capability, error)
}

// Cluster is the Source of a live cluster: the API server's capability joined
// (compat.Capability.Override) with the weakest node that a pod with the
// spec may be scheduled on (compat.Cluster.For, which honours nodeName,
// nodeSelector, required node affinity and the capability label).
type Cluster struct {
	// Nodes lists the cluster's Nodes, normally the manager's cache.
	Nodes client.Reader
	// APIServer returns the API server's capability; nil means unknown.
	APIServer func(ctx context.Context) (compat.Capability, error)
	// RequireLabel makes a node without compat.NodeLabel count as Unknown
	// instead of being judged by its kubelet version: use it when the
	// labeler reads the kubelets' metrics, so that a node the labeler has
	// not judged yet (startup, unreadable metrics) is never guessed from
	// the version's default gate.
	RequireLabel bool
}

var _ Source = (*Cluster)(nil)

// Capability implements Source. Nodes override the API server's skew policy
// field by field; no matching node at all leaves the skew policy's kubelet
// standing (an autoscaler's new nodes obey it too). When some node cannot be
// read, or the API
// server's capability cannot be had, the error says so and the capability
// is still returned from what is known (Unknown where nothing is known), so
// that the caller can decide with compat's rules, which never treat
// Unknown as yes or no.
func (c *Cluster) Capability(ctx context.Context, spec *corev1.PodSpec) (compat.Capability, error) {
	var out compat.Capability
	var errs []error
	if c.APIServer != nil {
		api, err := c.APIServer(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("api server: %w", err))
		}
		out = api
	}
	var nodes corev1.NodeList
	if err := c.Nodes.List(ctx, &nodes); err != nil {
		// Without nodes the kubelet side stays as the API server's skew
		// policy left it (see APIServerVersion).
		return out, errors.Join(append(errs, fmt.Errorf("list nodes: %w", err))...)
	}
	items := nodes.Items
	if c.RequireLabel {
		var unlabelled []string
		items, unlabelled = withoutVersionUnlabelled(items)
		if len(unlabelled) > 0 {
			errs = append(errs, fmt.Errorf("nodes without %s count as unknown: %s", compat.NodeLabel, strings.Join(unlabelled, ", ")))
		}
	}
	n, err := compat.Cluster{Nodes: items}.For(spec)
	out = out.Override(n)
	if err != nil {
		errs = append(errs, fmt.Errorf("nodes: %w", err))
		if n.Kubelet == compat.KubeletUnknown {
			// A node the pod may land on could not be judged (or the
			// pod's node selection is invalid): Override keeps the skew
			// policy's answer for Unknown, which must not paper over it.
			out.Kubelet, out.OrderedTermination = compat.KubeletUnknown, compat.Unknown
		}
	}
	return out, errors.Join(errs...)
}

// withoutVersionUnlabelled returns copies of the nodes in which the nodes
// without NodeLabel have no kubelet version, which compat reads as Unknown,
// and the names of those nodes.
func withoutVersionUnlabelled(nodes []corev1.Node) ([]corev1.Node, []string) {
	out := make([]corev1.Node, len(nodes))
	var names []string
	for i := range nodes {
		out[i] = nodes[i] // a shallow copy: only a status string changes
		if _, ok := nodes[i].Labels[compat.NodeLabel]; !ok {
			out[i].Status.NodeInfo.KubeletVersion = ""
			names = append(names, nodes[i].Name)
		}
	}
	sort.Strings(names)
	return out, names
}

// APIServerVersion returns the capability that an API server's version
// (the gitVersion of /version) implies: the API server's own, over the
// weakest kubelet that the version-skew policy allows next to it. Real
// nodes override the kubelet side (see Cluster).
func APIServerVersion(gitVersion string) (compat.Capability, error) {
	skew, err := compat.FromSkewPolicy(gitVersion)
	if err != nil {
		return compat.Capability{}, err
	}
	api, err := compat.ParseAPIServerVersion(gitVersion)
	if err != nil {
		return compat.Capability{}, err
	}
	return skew.Override(api), nil
}

// APIServerMetrics refines base (from APIServerVersion) with the API
// server's /metrics text: the SidecarContainers gate's series says whether
// the field is stored, where the version alone assumes the default.
func APIServerMetrics(base compat.Capability, metrics io.Reader, gitVersion string) (compat.Capability, error) {
	g, err := compat.ParseFeatureMetrics(metrics)
	if err != nil {
		return base, fmt.Errorf("api server /metrics: %w", err)
	}
	m, err := compat.FromAPIServerMetrics(g, gitVersion)
	if err != nil {
		return base.Override(m), fmt.Errorf("api server /metrics: %w", err)
	}
	return base.Override(m), nil
}

// APIServerFacts reads what the API server says about itself.
type APIServerFacts interface {
	// Version returns the gitVersion of /version.
	Version(ctx context.Context) (string, error)
	// Metrics returns the text of /metrics; the caller closes it.
	Metrics(ctx context.Context) (io.ReadCloser, error)
}

// Default intervals of APIServerCache.
const (
	DefaultTTL        = 10 * time.Minute
	DefaultRetryAfter = 30 * time.Second
)

// APIServerCache computes the API server's capability from APIServerFacts
// and keeps it, so that a reconcile or an admission request does not ask
// the API server for its version each time. It is safe for concurrent use.
type APIServerCache struct {
	// Facts is where the capability comes from.
	Facts APIServerFacts
	// ReadMetrics makes the capability come from /metrics as well as
	// /version.
	ReadMetrics bool
	// TTL is how long a capability is kept. Zero means DefaultTTL.
	TTL time.Duration
	// RetryAfter is how long a failure is kept before the next attempt.
	// Zero means DefaultRetryAfter.
	RetryAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	c        compat.Capability
	err      error
	fetched  time.Time
	tried    bool
	lastGood *compat.Capability
}

// Capability returns the cached capability, refreshing it when it is older
// than TTL (or RetryAfter, after a failure). A failed refresh returns the
// last good value with the error rather than forgetting what was known;
// before any success it returns what could be read (Unknown where nothing
// could) with the error.
func (a *APIServerCache) Capability(ctx context.Context) (compat.Capability, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	ttl, retry := a.TTL, a.RetryAfter
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if retry <= 0 {
		retry = DefaultRetryAfter
	}
	age := now().Sub(a.fetched)
	if a.tried && ((a.err == nil && age < ttl) || (a.err != nil && age < retry)) {
		return a.c, a.err
	}
	c, err := a.fetch(ctx)
	a.tried, a.fetched = true, now()
	switch {
	case err == nil:
		a.lastGood = &c
	case a.lastGood != nil:
		c = *a.lastGood
	}
	a.c, a.err = c, err
	return c, err
}

func (a *APIServerCache) fetch(ctx context.Context) (compat.Capability, error) {
	v, err := a.Facts.Version(ctx)
	if err != nil {
		return compat.Capability{}, fmt.Errorf("read /version: %w", err)
	}
	c, err := APIServerVersion(v)
	if err != nil || !a.ReadMetrics {
		return c, err
	}
	text, err := a.Facts.Metrics(ctx)
	if err != nil {
		return c, fmt.Errorf("read /metrics: %w", err)
	}
	defer text.Close()
	return APIServerMetrics(c, text, v)
}
