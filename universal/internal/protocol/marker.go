package protocol

import (
	"bytes"
	"errors"
	"fmt"
)

// Kind is what a marker file records.
type Kind string

// The kinds of marker. Each kind lives in its own file of the handshake
// directory and has a single kind of writer, so that no two processes ever
// race to replace the same file with different content.
const (
	// KindNative records that the native twin ran in a sandbox (value
	// "seen"). Written by the native twin's first run, which then exits 0.
	// File "native".
	KindNative Kind = "native"
	// KindAck records that the kubelet ran the native twin's startup probe
	// in a sandbox (value "probed"): proof that the node runs native
	// sidecars, because kubelets that strip restartPolicy never probe init
	// containers. Written by the probe. File "ack".
	KindAck Kind = "ack"
	// KindClaim records which twin acts in a sandbox (value "native" or
	// "legacy"). Created exclusively, once per sandbox, by the twin that
	// starts acting. File "claim-<sandbox key>".
	KindClaim Kind = "claim"
	// KindEarly records that the kubelet started the legacy twin in a
	// sandbox before the native twin's first run there ended (value
	// "started"): proof that the node runs native sidecars, because a
	// kubelet that strips restartPolicy runs every init container to
	// completion first. Written by the legacy twin. File "early".
	KindEarly Kind = "early"
	// KindHandover records that the legacy twin, acting in a sandbox
	// where the kubelet then probed the native twin (a native kubelet
	// took over: an in-place upgrade, or an early start in a sandbox
	// whose handshake directory was emptied), stopped its sidecar and
	// handed the sandbox over to the native twin (value "native").
	// Created exclusively, once per sandbox, by the legacy twin once its
	// sidecar exited. File "handover-<sandbox key>".
	KindHandover Kind = "handover"
)

// The values a marker of each kind may hold.
const (
	ValueSeen    = "seen"
	ValueProbed  = "probed"
	ValueStarted = "started"
)

// markerMagic starts every marker; the "/1" is the format version.
const markerMagic = "sidecarkit-handshake/1"

// maxMarker bounds what ParseMarker reads; a marker is one short line.
const maxMarker = 128

// ErrBadMarker is wrapped by ParseMarker's errors.
var ErrBadMarker = errors.New("universal: not a handshake marker")

// Marker is the content of one marker file: a single line
//
//	sidecarkit-handshake/1 <kind> <value> <sandbox key>
//
// for example "sidecarkit-handshake/1 native seen 0f1e…" (the key is 32
// lowercase hex digits, see [Sandbox.Key]). The zero Marker means the file
// is absent.
type Marker struct {
	Kind    Kind
	Value   string
	Sandbox string
}

// IsZero reports whether m is the zero Marker (an absent file).
func (m Marker) IsZero() bool { return m == Marker{} }

// In reports whether m is a marker recorded in the sandbox with key sandbox.
func (m Marker) In(sandbox string) bool { return !m.IsZero() && m.Sandbox == sandbox }

// Format returns the marker's file content, with a trailing newline. It
// does not validate m; ParseMarker(m.Format()) does.
func (m Marker) Format() []byte {
	return []byte(markerMagic + " " + string(m.Kind) + " " + m.Value + " " + m.Sandbox + "\n")
}

// String returns the marker's line without the newline.
func (m Marker) String() string {
	if m.IsZero() {
		return "(none)"
	}
	return string(bytes.TrimSuffix(m.Format(), []byte("\n")))
}

// ParseMarker parses a marker file's content. It accepts exactly the
// output of Format (the trailing newline may be missing) for a known kind
// with one of its values and a well-formed sandbox key; anything else is
// an error wrapping ErrBadMarker. It never panics.
func ParseMarker(b []byte) (Marker, error) {
	if len(b) > maxMarker {
		return Marker{}, fmt.Errorf("%w: %d bytes is too long", ErrBadMarker, len(b))
	}
	line := bytes.TrimSuffix(b, []byte("\n"))
	f := bytes.Split(line, []byte(" "))
	if len(f) != 4 {
		return Marker{}, fmt.Errorf("%w: want 4 space-separated fields, got %d in %q", ErrBadMarker, len(f), line)
	}
	if string(f[0]) != markerMagic {
		return Marker{}, fmt.Errorf("%w: want %q first, got %q", ErrBadMarker, markerMagic, f[0])
	}
	m := Marker{Kind: Kind(f[1]), Value: string(f[2]), Sandbox: string(f[3])}
	if err := m.validate(); err != nil {
		return Marker{}, err
	}
	return m, nil
}

func (m Marker) validate() error {
	var want []string
	switch m.Kind {
	case KindNative:
		want = []string{ValueSeen}
	case KindAck:
		want = []string{ValueProbed}
	case KindClaim:
		want = []string{string(Native), string(Legacy)}
	case KindEarly:
		want = []string{ValueStarted}
	case KindHandover:
		want = []string{string(Native)}
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrBadMarker, m.Kind)
	}
	ok := false
	for _, v := range want {
		ok = ok || m.Value == v
	}
	if !ok {
		return fmt.Errorf("%w: kind %s has no value %q", ErrBadMarker, m.Kind, m.Value)
	}
	if !validKey(m.Sandbox) {
		return fmt.Errorf("%w: sandbox key %q is not %d lowercase hex digits", ErrBadMarker, m.Sandbox, keyLen)
	}
	return nil
}

// validKey reports whether s has the form of a Sandbox.Key.
func validKey(s string) bool {
	if len(s) != keyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
