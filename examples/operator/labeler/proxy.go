package labeler

import (
	"context"
	"io"

	"k8s.io/client-go/rest"
)

// ProxyMetrics reads a kubelet's /metrics through the API server's node
// proxy, GET /api/v1/nodes/<node>/proxy/metrics, which needs RBAC get on
// nodes/proxy (a powerful permission: it reaches every kubelet endpoint).
type ProxyMetrics struct {
	// Client is a core/v1 REST client, e.g. a clientset's
	// CoreV1().RESTClient().
	Client rest.Interface
}

var _ Metrics = ProxyMetrics{}

// NodeMetrics implements Metrics. The body is streamed:
// compat.ParseFeatureMetrics reads it in bounded memory.
func (p ProxyMetrics) NodeMetrics(ctx context.Context, node string) (io.ReadCloser, error) {
	return p.Client.Get().Resource("nodes").Name(node).SubResource("proxy").Suffix("metrics").Stream(ctx)
}
