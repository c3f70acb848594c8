package crwebhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	sidecaradmission "github.com/sidecarkit/sidecarkit/admission"
)

// Register serves h on srv (the manager's mgr.GetWebhookServer()) at path,
// for example "/mutate-pods", as a controller-runtime admission.Webhook
// whose request bodies are limited to sidecarkit/admission.DefaultMaxBodyBytes
// (3 MiB, above the API server's largest object wrapped in an
// AdmissionReview): controller-runtime v0.16 reads a body whole, whatever
// its length; later ones (v0.19.4 and v0.25.3 checked) stop at 7 MiB. A
// longer body is answered as a bad request.
//
// webhook.Server is an interface throughout the supported range
// (controller-runtime v0.15 made it one), so srv may be a
// webhook.NewServer or any other implementation. Register returns an error
// instead of panicking when srv, path or h is unusable, or when srv's
// Register panics (controller-runtime's DefaultServer does for a path
// registered twice).
func Register(srv webhook.Server, path string, h *Handler) (err error) {
	switch {
	case srv == nil:
		return errors.New("crwebhook: register: webhook.Server is nil")
	case h == nil:
		return errors.New("crwebhook: register: handler is nil")
	case !strings.HasPrefix(path, "/"):
		return fmt.Errorf("crwebhook: register: path %q does not start with /", path)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("crwebhook: register %s: %v", path, r)
		}
	}()
	srv.Register(path, http.MaxBytesHandler(&admission.Webhook{Handler: h}, sidecaradmission.DefaultMaxBodyBytes))
	return nil
}
