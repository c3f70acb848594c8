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
