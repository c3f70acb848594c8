package facts

import (
	"context"
	"io"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// REST reads the API server's facts over its REST API.
type REST struct {
	// Discovery reads /version.
	Discovery discovery.ServerVersionInterface
	// Client reads /metrics (RBAC: get on the non-resource URL /metrics);
	// a clientset's CoreV1().RESTClient() will do.
	Client rest.Interface
}

var _ APIServerFacts = REST{}

// Version implements APIServerFacts.
func (r REST) Version(context.Context) (string, error) {
	v, err := r.Discovery.ServerVersion()
	if err != nil {
		return "", err
	}
	return v.GitVersion, nil
}

// Metrics implements APIServerFacts: GET /metrics, streamed.
func (r REST) Metrics(ctx context.Context) (io.ReadCloser, error) {
	return r.Client.Get().AbsPath("/metrics").Stream(ctx)
}
