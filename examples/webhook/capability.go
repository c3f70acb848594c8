package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
)

// staticCapability is the capability the --kubelet-version and
// --apiserver-version flags describe: the API server's, joined with the
// oldest kubelet (the flag, else the version-skew policy's oldest).
func staticCapability(apiserverVersion, kubeletVersion string) (compat.Capability, error) {
	var c compat.Capability
	if apiserverVersion != "" {
		api, err := compat.ParseAPIServerVersion(apiserverVersion)
		if err != nil {
			return c, fmt.Errorf("--apiserver-version: %w", err)
		}
		skew, err := compat.FromSkewPolicy(apiserverVersion)
		if err != nil {
			return c, fmt.Errorf("--apiserver-version: %w", err)
		}
		c = skew.Override(api)
	}
	if kubeletVersion != "" {
		k, err := compat.ParseKubeletVersion(kubeletVersion)
		if err != nil {
			return c, fmt.Errorf("--kubelet-version: %w", err)
		}
		c = c.Override(k)
	}
	return c, nil
}

// nodeSource answers the capability of a Pod from a Node informer: the
// weakest node the Pod may be scheduled to (compat.Cluster.For), joined with
// the API server's capability from discovery. Flags given explicitly
// (base) are overridden by what the cluster shows.
type nodeSource struct {
	base     compat.Capability
	log      *slog.Logger
	informer cache.SharedIndexInformer
	nodes    atomic.Pointer[[]corev1.Node] // snapshot, sorted by name
	mu       sync.Mutex                    // serialises snapshot rebuilds
}

func newNodeSource(ctx context.Context, client kubernetes.Interface, base compat.Capability, log *slog.Logger) (*nodeSource, error) {
	s := &nodeSource{base: base, log: log}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	api, err := compat.ParseAPIServerVersion(v.GitVersion)
	if err != nil {
		return nil, fmt.Errorf("API server version: %w", err)
	}
	s.base = s.base.Override(api)
	log.Info("API server", "version", v.GitVersion, "capability", s.base.String())
	f := informers.NewSharedInformerFactory(client, 0)
	s.informer = f.Core().V1().Nodes().Informer()
	rebuild := func(interface{}) { s.rebuild() }
	if _, err := s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    rebuild,
		UpdateFunc: func(_, n interface{}) { s.rebuild() },
		DeleteFunc: rebuild,
	}); err != nil {
		return nil, err
	}
	f.Start(ctx.Done())
	return s, nil
}

// synced reports whether the informer has listed the nodes once.
func (s *nodeSource) synced() bool { return s.informer.HasSynced() }

func (s *nodeSource) rebuild() {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs := s.informer.GetStore().List()
	nodes := make([]corev1.Node, 0, len(objs))
	for _, o := range objs {
		if n, ok := o.(*corev1.Node); ok {
			nodes = append(nodes, *n)
		}
	}
	sort.Slice(nodes, func(a, b int) bool { return nodes[a].Name < nodes[b].Name })
	s.nodes.Store(&nodes)
}

// capability is the admission.Config.Capability of the source. Before the
// informer has synced it fails (HTTP 500, so the failurePolicy decides);
// a node that cannot be read makes the answer more cautious, never an
// error.
func (s *nodeSource) capability(_ context.Context, r *admission.Request) (compat.Capability, error) {
	if !s.synced() {
		return compat.Capability{}, fmt.Errorf("the node informer has not synced yet")
	}
	nodes := s.nodes.Load()
	if nodes == nil {
		return s.base, nil
	}
	c, err := compat.Cluster{Nodes: *nodes}.For(r.SchedulingSpec) // without our own earlier pin
	if err != nil {
		s.log.Warn("reading nodes", "uid", r.UID, "err", err)
	}
	return s.base.Override(c), nil
}
