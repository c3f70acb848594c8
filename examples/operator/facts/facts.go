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
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/crwebhook"
)

// Source answers what the cluster can do for a pod template with the given
// spec. The injector and the admission handler ask it before every
// injection.
type Source interface {
	Capability(ctx context.Context, spec *corev1.PodSpec) (compat.Capability, error)
}

// APIServer is what the API server says about itself.
type APIServer struct {
	// Version is the gitVersion of /version, "" when unknown.
	Version string
	// Gates are the feature gates of its /metrics, nil when not read.
	Gates *compat.FeatureGates
}

// Cluster is the Source of a live cluster: crwebhook.Cluster (the API
// server's facts and the weakest node that a pod with the spec may be
// scheduled on, by compat.Cluster.For, which honours nodeName,
// nodeSelector, required node affinity and the capability label) over the
// kubelet that the version-skew policy allows next to the API server.
type Cluster struct {
	// Nodes lists the cluster's Nodes, normally the manager's cache.
	Nodes client.Reader
	// APIServer returns the API server's facts (an APIServerCache's
	// Facts); nil means unknown.
	APIServer func(ctx context.Context) (APIServer, error)
	// RequireLabel makes a node without compat.NodeLabel count as Unknown
	// instead of being judged by its kubelet version: use it when the
	// labeler reads the kubelets' metrics, so that a node the labeler has
	// not judged yet (startup, unreadable metrics) is never guessed from
	// the version's default gate.
	RequireLabel bool
}

var _ Source = (*Cluster)(nil)

// Capability implements Source. When no node matches the spec, the
// kubelet side is the oldest the version-skew policy allows next to the
// API server (an autoscaler's new nodes obey it too). When some node
// cannot be judged or the nodes cannot be listed, the kubelet side is
// Unknown (the skew policy must not paper over it); when the API server's
// facts cannot be had, its side is Unknown. The error says what could not
// be read, and the capability is still returned from what is known, so
// that the caller decides with compat's rules, which never treat Unknown
// as yes or no.
func (c *Cluster) Capability(ctx context.Context, spec *corev1.PodSpec) (compat.Capability, error) {
	var api APIServer
	var errs []error
	if c.APIServer != nil {
		var err error
		if api, err = c.APIServer(ctx); err != nil {
			errs = append(errs, fmt.Errorf("api server: %w", err))
		}
	}
	var nodes client.Reader = c.Nodes
	if c.RequireLabel {
		nodes = unlabelledUnknown{c.Nodes}
	}
	cl := crwebhook.Cluster{Nodes: nodes, APIServerVersion: api.Version, APIServerMetrics: api.Gates}
	got, err := cl.Capability(ctx, spec)
	if err != nil {
		errs = append(errs, err)
	}
	out := got
	if api.Version != "" {
		if skew, serr := compat.FromSkewPolicy(api.Version); serr == nil {
			out = skew.Override(got)
		}
	}
	if err != nil && got.Kubelet == compat.KubeletUnknown {
		// A node the pod may land on could not be judged, the list
		// failed, or the pod's node selection is invalid: Override kept
		// the skew policy's answer for Unknown, which must not stand.
		out.Kubelet, out.OrderedTermination = compat.KubeletUnknown, compat.Unknown
	}
	return out, errors.Join(errs...)
}

// unlabelledUnknown lists Nodes through Reader and blanks the kubelet
// version of each node without compat.NodeLabel, which compat then judges
// Unknown (and names in its error).
type unlabelledUnknown struct{ client.Reader }

func (u unlabelledUnknown) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if u.Reader == nil {
		return errors.New("no node reader")
	}
	if err := u.Reader.List(ctx, list, opts...); err != nil {
		return err
	}
	if l, ok := list.(*corev1.NodeList); ok {
		for i := range l.Items { // the reader's copies
			if _, ok := l.Items[i].Labels[compat.NodeLabel]; !ok {
				l.Items[i].Status.NodeInfo.KubeletVersion = ""
			}
		}
	}
	return nil
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

// APIServerCache reads APIServerFacts and keeps them, so that a reconcile
// or an admission request does not ask the API server for its version
// each time. It is safe for concurrent use.
type APIServerCache struct {
	// Facts is where the facts come from.
	Facts APIServerFacts
	// ReadMetrics reads /metrics (the SidecarContainers gate) as well as
	// /version.
	ReadMetrics bool
	// TTL is how long facts are kept. Zero means DefaultTTL.
	TTL time.Duration
	// RetryAfter is how long a failure is kept before the next attempt.
	// Zero means DefaultRetryAfter.
	RetryAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	f        APIServer
	err      error
	fetched  time.Time
	tried    bool
	lastGood *APIServer
}

// Read returns the cached facts, refreshing them when they are older than
// TTL (or RetryAfter, after a failure). A failed refresh returns the last
// good facts with the error rather than forgetting what was known; before
// any success it returns what could be read with the error. It is a
// Cluster.APIServer.
func (a *APIServerCache) Read(ctx context.Context) (APIServer, error) {
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
		return a.f, a.err
	}
	f, err := a.fetch(ctx)
	a.tried, a.fetched = true, now()
	switch {
	case err == nil:
		a.lastGood = &f
	case a.lastGood != nil:
		f = *a.lastGood
	}
	a.f, a.err = f, err
	return f, err
}

func (a *APIServerCache) fetch(ctx context.Context) (APIServer, error) {
	v, err := a.Facts.Version(ctx)
	if err != nil {
		return APIServer{}, fmt.Errorf("read /version: %w", err)
	}
	f := APIServer{Version: v}
	if _, err := compat.ParseAPIServerVersion(v); err != nil || !a.ReadMetrics {
		return f, err
	}
	text, err := a.Facts.Metrics(ctx)
	if err != nil {
		return f, fmt.Errorf("read /metrics: %w", err)
	}
	defer text.Close()
	g, err := compat.ParseFeatureMetrics(text)
	if err != nil {
		return f, fmt.Errorf("api server /metrics: %w", err)
	}
	f.Gates = &g
	return f, nil
}
