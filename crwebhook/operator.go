package crwebhook

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sidecarkit/sidecarkit/patch"
)

// DecodeWorkload decodes a workload read as an unstructured object (so that
// fields the compiled API types do not know are never part of a typed round
// trip) for sidecar.Injector.InjectObject: patch.DecodeAs of its JSON, by
// its kind.
func DecodeWorkload(u *unstructured.Unstructured) (*patch.Object, error) {
	if u == nil {
		return nil, errors.New("crwebhook: decode workload: object is nil")
	}
	raw, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("crwebhook: decode %s: %w", workloadName(u), err)
	}
	obj, err := patch.DecodeAs(raw, u.GetKind())
	if err != nil {
		return nil, fmt.Errorf("crwebhook: decode %s: %w", workloadName(u), err)
	}
	return obj, nil
}

// PatchWorkload sends m, a mutation of u's pod template (the
// sidecar.Result.Mutation of InjectObject on DecodeWorkload(u)), to the API
// server through c, with u's resourceVersion as a precondition
// (patch.ResourceVersion): a patch computed from a stale read fails (409
// Conflict for a strategic merge patch, 422 for a failed JSON patch test)
// instead of applying to an object that changed meanwhile; read the
// workload again and retry.
//
// m renders at the pod template of u's kind (patch.RootFor), so a mutation
// made from DecodeWorkload(u)'s Meta and Spec by sidecar.Uninject or
// sidecar.Migrate (which render for a Pod by default) patches the template
// as well as one of InjectObject.
//
// It sends a strategic merge patch (Mutation.StrategicMerge), or, when m
// moves a container between lists (m.HasMoves: a migration between the
// legacy and the native form), an RFC 6902 JSON patch with patch.Guarded
// tests, since a strategic merge patch cannot move a container without
// losing the fields the compiled types do not know. It returns the patch
// type sent, or "" when m is empty (nothing is sent). On success u holds
// the API server's answer.
func PatchWorkload(ctx context.Context, c client.Client, u *unstructured.Unstructured, m *patch.Mutation) (types.PatchType, error) {
	switch {
	case c == nil:
		return "", errors.New("crwebhook: patch workload: client is nil")
	case u == nil:
		return "", errors.New("crwebhook: patch workload: object is nil")
	case m == nil:
		return "", fmt.Errorf("crwebhook: patch %s: mutation is nil", workloadName(u))
	case m.Empty():
		return "", nil
	}
	rv := u.GetResourceVersion()
	if rv == "" {
		return "", fmt.Errorf("crwebhook: patch %s: metadata.resourceVersion is empty; patch an object read from the API server", workloadName(u))
	}
	root, err := patch.RootFor(u.GetKind())
	if err != nil {
		return "", fmt.Errorf("crwebhook: patch %s: %w", workloadName(u), err)
	}
	pt := types.StrategicMergePatchType
	var body []byte
	if m.HasMoves() {
		pt = types.JSONPatchType
		body, err = m.MarshalJSONPatch(root, patch.Guarded(), patch.ResourceVersion(rv))
	} else {
		body, err = m.StrategicMerge(root, patch.ResourceVersion(rv))
	}
	if err != nil {
		return "", fmt.Errorf("crwebhook: patch %s: render: %w", workloadName(u), err)
	}
	if err := c.Patch(ctx, u, client.RawPatch(pt, body)); err != nil {
		return "", fmt.Errorf("crwebhook: patch %s: %w", workloadName(u), err)
	}
	return pt, nil
}

func workloadName(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", u.GetKind(), ns, u.GetName())
	}
	return fmt.Sprintf("%s %s", u.GetKind(), u.GetName())
}
