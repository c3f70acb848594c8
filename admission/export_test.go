package admission

import "bytes"

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
