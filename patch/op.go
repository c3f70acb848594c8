package patch

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sidecarkit/sidecarkit/internal/jsonstr"
)

// Op is one RFC 6902 operation. Path and From are JSON Pointers (RFC 6901)
// into the whole document (for example "/spec/initContainers/0"), already
// escaped. Value holds the operation's value as JSON; it is nil for
// "remove" and "move".
type Op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// The RFC 6902 operation names.
const (
	opAdd     = "add"
	opRemove  = "remove"
	opReplace = "replace"
	opMove    = "move"
	opCopy    = "copy"
	opTest    = "test"
)

// Ops is an RFC 6902 JSON patch. Its JSON form is always an array, "[]"
// when empty, never "null": admission responses and golden files rely on it.
type Ops []Op

// MarshalJSON encodes the ops as a compact JSON array with keys in the order
// op, from, path, value.
func (ops Ops) MarshalJSON() ([]byte, error) {
	n := 2
	for i := range ops {
		n += len(ops[i].Op) + len(ops[i].Path) + len(ops[i].From) + len(ops[i].Value) + 40
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteByte('[')
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := op.appendJSON(&b); err != nil {
			return nil, fmt.Errorf("patch: op %d (%s %s): %w", i, op.Op, op.Path, err)
		}
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

func (op Op) appendJSON(b *bytes.Buffer) error {
	b.WriteString(`{"op":`)
	writeString(b, op.Op)
	if op.From != "" || op.Op == opMove || op.Op == opCopy {
		b.WriteString(`,"from":`)
		writeString(b, op.From)
	}
	b.WriteString(`,"path":`)
	writeString(b, op.Path)
	if op.Op == opAdd || op.Op == opReplace || op.Op == opTest {
		b.WriteString(`,"value":`)
		if len(op.Value) == 0 {
			return fmt.Errorf("missing value")
		}
		if err := json.Compact(b, op.Value); err != nil {
			return fmt.Errorf("invalid value: %w", err)
		}
	}
	b.WriteByte('}')
	return nil
}

// writeString writes s as a JSON string, as encoding/json encodes it.
func writeString(b *bytes.Buffer, s string) {
	if jsonstr.Plain(s) {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	b.Write(jsonstr.Append(nil, s))
}

// appendString appends s as a JSON string, as encoding/json encodes it.
func appendString(b []byte, s string) []byte { return jsonstr.Append(b, s) }
