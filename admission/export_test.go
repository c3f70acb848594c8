package admission

import (
	"bytes"
	"context"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
)

// BoundWarnings exposes boundWarnings to tests.
var BoundWarnings = boundWarnings

// BoundMessage exposes boundMessage to tests.
var BoundMessage = boundMessage

// PooledBufferCap takes a body buffer from the pool, as a request does,
// returns its capacity and puts it back.
func PooledBufferCap() int {
	b := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(b)
	return b.Cap()
}

// Typed returns a copy of w that always decodes the object in full
// (patch.DecodeAs), the path the lean decode must agree with, and whether
// w itself decodes leanly.
func Typed(w *Webhook) (*Webhook, bool) {
	c := *w
	c.lean = false
	return &c, w.lean
}

// General returns a copy of w whose reviews all take the general path
// (sidecar.Injector.InjectObject and its Mutation), the path the fresh
// one must agree with.
func General(w *Webhook) *Webhook {
	c := *w
	c.general = true
	return &c
}

// FreshTaken reports whether w answers a review of the Pod object (its
// capability c) on the fresh path.
func FreshTaken(w *Webhook, object []byte, c compat.Capability) (bool, error) {
	obj, err := patch.DecodeAs(object, "Pod")
	if err != nil {
		return false, err
	}
	_, _, _, ok := w.fresh(context.Background(), obj, c, nil)
	return ok, nil
}
