package patchtest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
	"github.com/sidecarkit/sidecarkit/internal/schema"
	"github.com/sidecarkit/sidecarkit/patch"
)

// errApply is wrapped by every [ApplyFailed] violation: an op that
// json-patch rejects (the applier's own error, such as
// jsonpatch.ErrMissing, is wrapped too), a malformed op, or a value that is
// not valid JSON.
var errApply = errors.New("patch: op does not apply")

// ErrInvalidDocument is wrapped by the error Verify returns when the
// original document is not a JSON object (or repeats a member name).
var ErrInvalidDocument = errors.New("patch: document is not a valid JSON object")

// errUnsupportedKind is wrapped by the error Verify returns when the
// document's "kind" has no pod spec that the library knows.
var errUnsupportedKind = errors.New("patch: unsupported kind")

// ViolationKind classifies a [Violation].
type ViolationKind uint8

// The violation kinds. The zero ViolationKind is Changed.
const (
	// Changed: a value differs from the original outside the patched
	// paths, or an unknown field kept its place but not its value.
	Changed ViolationKind = iota
	// Added: a value that the original lacks appeared outside the patched
	// paths.
	Added
	// Removed: a known value vanished outside the patched paths.
	Removed
	// Dropped: a field unknown to the compiled API types is gone, and no
	// remove op took out an element or object that held it.
	Dropped
	// Moved: an unknown field survived but is now attached to another
	// element (for example a container with another name) and no move op
	// carried it there.
	Moved
	// ApplyFailed: an op does not apply. Verification
	// stops at the first such op.
	ApplyFailed
	// Inconsistent: applying the ops one by one and all at once gave
	// different documents, or the verifier's model of an op disagrees with
	// json-patch. Nothing can be proved about such a patch.
	Inconsistent
)

var violationNames = [...]string{"changed", "added", "removed", "dropped", "moved", "apply failed", "inconsistent"}

// String returns the lower-case name of k.
func (k ViolationKind) String() string {
	if int(k) < len(violationNames) {
		return violationNames[k]
	}
	return "violation(" + strconv.Itoa(int(k)) + ")"
}

// Violation is one way in which a patch changes more than it says. The
// zero Violation is a Changed at the document root attributed to op 0.
type Violation struct {
	Kind ViolationKind
	// Path is the identity path of the value concerned (see
	// [schema.Path] in internal/schema): members joined by dots, list
	// elements by merge key ("spec.containers[name=app].x-foo") or by index
	// ("spec.tolerations[2]"). For ApplyFailed it is the op's JSON Pointer.
	Path string
	// Op is the index in the patch of the op that caused the violation,
	// or -1 when no single op can be named.
	Op int
	// Detail is a sentence saying what happened, naming the op.
	Detail string
	// Err is the cause of an ApplyFailed violation;
	// nil otherwise.
	Err error
}

// String renders v as "path: detail".
func (v Violation) String() string {
	if v.Path == "" {
		return v.Detail
	}
	return v.Path + ": " + v.Detail
}

// VerifyError is returned by [Verify] when a patch changes what it should
// not. The zero VerifyError has no violations.
type VerifyError struct {
	Violations []Violation
}

// Error lists the violations: "patch: verify: 2 violations: a; b".
func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("patch: verify: ")
	if len(e.Violations) == 1 {
		b.WriteString("1 violation: ")
	} else {
		b.WriteString(strconv.Itoa(len(e.Violations)))
		b.WriteString(" violations: ")
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// Unwrap returns the causes of the ApplyFailed violations, so that
// errors.Is(err, jsonpatch.ErrMissing) works.
func (e *VerifyError) Unwrap() []error {
	var errs []error
	for _, v := range e.Violations {
		if v.Err != nil {
			errs = append(errs, v.Err)
		}
	}
	return errs
}

// Has reports whether e has a violation of kind k.
func (e *VerifyError) Has(k ViolationKind) bool {
	for _, v := range e.Violations {
		if v.Kind == k {
			return true
		}
	}
	return false
}

// Verify proves that ops change only what they name. It applies ops to
// original with github.com/evanphx/json-patch/v5 in strict mode (no
// negative indices, no creation of missing parents), one op at a time and
// then all at once, and returns nil or a *VerifyError listing:
//   - every field unknown to the compiled API types (root type from the
//     document's "kind", Pod when absent) that is gone, changed, or
//     attached to another element, unless a remove op took out an element
//     or object that held it. Replacing such an object, or adding over it,
//     is a violation unless the new value carries the field unchanged at
//     the same place. A move carries the fields it moves;
//   - every difference between original and result, aligned by identity
//     paths, that lies outside the paths the ops resolve to (each op is
//     resolved against the document just before it; an insert into a
//     keyed list resolves to the new element's key, an insert that shifts
//     unkeyed elements to the whole list);
//   - the first op that does not apply, and any disagreement between
//     applying one by one and all at once.
//
// Verify returns a plain error wrapping ErrInvalidDocument or
// errUnsupportedKind when original cannot be checked at all. It never
// modifies original or ops.
func Verify(original []byte, ops patch.Ops) error {
	return verify(original, "", false, ops)
}

// VerifyAs is like [Verify] for a document whose kind is known beforehand,
// for example from an admission request's kind (see patch.DecodeAs): the
// document's own "kind", when present, must equal kind; when absent, kind
// is taken, where Verify would read a bare object as a Pod.
func VerifyAs(original []byte, kind string, ops patch.Ops) error {
	return verify(original, kind, true, ops)
}

func verify(original []byte, kind string, known bool, ops patch.Ops) error {
	v, err := newVerifier(original, kind, known)
	if err != nil {
		return err
	}
	v.run(original, ops)
	if len(v.out) == 0 {
		return nil
	}
	return &VerifyError{Violations: v.out}
}

// aKind names a JSON type with its indefinite article: "an array".
func aKind(k jsontree.Kind) string {
	if k == jsontree.Object || k == jsontree.Array {
		return "an " + k.String()
	}
	return "a " + k.String()
}

// rootSchema decodes doc and finds the schema for its kind: want when
// known (the document's own kind, if any, must agree), else the
// document's.
func rootSchema(doc []byte, want string, known bool) (*jsontree.Node, *schema.Type, error) {
	n, err := jsontree.Decode(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("patch: verify: %w: %v", ErrInvalidDocument, err)
	}
	if n.Kind() != jsontree.Object {
		return nil, nil, fmt.Errorf("patch: verify: %w: it is %s", ErrInvalidDocument, aKind(n.Kind()))
	}
	kind := ""
	if k, ok := n.Member("kind"); ok {
		if k.Kind() != jsontree.String {
			return nil, nil, fmt.Errorf("patch: verify: kind: %w: %s", errUnsupportedKind, aKind(k.Kind()))
		}
		kind = k.Text()
	}
	if known {
		if kind != "" && kind != want {
			return nil, nil, fmt.Errorf("patch: verify: kind %q: %w: the document is a %q", want, errUnsupportedKind, kind)
		}
		kind = want
	}
	t, ok := schema.ForKind(kind)
	if !ok {
		return nil, nil, fmt.Errorf("patch: verify: kind %q: %w; supported: %s", kind, errUnsupportedKind, strings.Join(schema.Kinds(), ", "))
	}
	return n, t, nil
}

// copySizeLimit bounds what "copy" ops may add, so that a hostile patch
// cannot exhaust memory.
const copySizeLimit = 64 << 20

// applyStrict applies ops with json-patch v5 in strict mode. A panic inside
// json-patch (v5.5.0 to v5.9.11 panic on a "test" of an array holding
// null) becomes an error.
func applyStrict(doc []byte, ops patch.Ops) (out []byte, err error) {
	raw, err := ops.MarshalJSON()
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, err
	}
	opts := jsonpatch.NewApplyOptions()
	opts.SupportNegativeIndices = false
	opts.EnsurePathExistsOnAdd = false
	opts.AllowMissingPathOnRemove = false
	opts.AccumulatedCopySizeLimit = copySizeLimit
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("json-patch panicked: %v", r)
		}
	}()
	return p.ApplyWithOptions(doc, opts)
}

// describe renders op k as "op 3 (replace /spec/containers/0)".
func describe(k int, op patch.Op) string {
	s := "op " + strconv.Itoa(k) + " (" + op.Op + " "
	if op.Op == "move" || op.Op == "copy" {
		s += op.From + " to "
	}
	return s + op.Path + ")"
}
