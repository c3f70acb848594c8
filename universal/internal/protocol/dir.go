package protocol

import (
	"errors"
	"fmt"
	"io/fs"
)

// Dir is the handshake directory, the emptyDir volume both twins mount.
// Package handshake implements it on a real directory; tests and the
// simulation use memory.
type Dir interface {
	// ReadFile returns a file's content, or an error that wraps
	// fs.ErrNotExist when there is no such file.
	ReadFile(name string) ([]byte, error)
	// WriteFile replaces a file atomically: a reader sees the old content
	// or the new, never a part (a temporary file renamed over it).
	WriteFile(name string, data []byte) error
	// CreateFile creates a file atomically with its content, or fails
	// with an error that wraps fs.ErrExist when it exists (a temporary
	// file hard-linked to the name).
	CreateFile(name string, data []byte) error
}

// The names of the marker files in a Dir.
const (
	nativeFile = "native"
	ackFile    = "ack"
	earlyFile  = "early"
	claimFile  = "claim-"    // + sandbox key
	handFile   = "handover-" // + sandbox key
)

// ClaimFile returns the name of the claim file of the sandbox with key
// sandbox.
func ClaimFile(sandbox string) string { return claimFile + sandbox }

// HandoverFile returns the name of the handover file of the sandbox with
// key sandbox.
func HandoverFile(sandbox string) string { return handFile + sandbox }

// Markers is what a twin reads from the Dir: the native, ack and early
// markers (of any sandbox: Decide compares them with the current one), and
// the claim and the handover of the current sandbox.
type Markers struct {
	Native, Ack, Early, Claim, Handover Marker
	// Problems describe files whose content is not a valid marker. A
	// corrupt native or ack file reads as absent; a corrupt claim reads as
	// a legacy claim, so that both twins agree on which of them acts (the
	// legacy twin, which needs no kubelet support); a corrupt handover
	// file reads as a handover (its exclusive creation, after the legacy
	// twin's sidecar exited, is what counts, and both twins agree on it).
	Problems []string
}

// Observe reads the markers relevant to the sandbox with key sandbox. Only
// I/O errors (other than an absent file) are errors; corrupt content is
// reported in Markers.Problems.
func Observe(d Dir, sandbox string) (Markers, error) {
	var m Markers
	var err error
	if !validKey(sandbox) {
		return m, fmt.Errorf("universal: observe: sandbox key %q is not %d lowercase hex digits", sandbox, keyLen)
	}
	read := func(name string, kind Kind) (Marker, bool, error) {
		b, err := d.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			return Marker{}, true, nil
		}
		if err != nil {
			return Marker{}, false, fmt.Errorf("universal: observe: read %s: %w", name, err)
		}
		mk, err := ParseMarker(b)
		if err == nil && mk.Kind != kind {
			err = fmt.Errorf("%w: a %s marker in file %s", ErrBadMarker, mk.Kind, name)
		}
		if err != nil {
			m.Problems = append(m.Problems, name+": "+err.Error())
			return Marker{}, false, nil
		}
		return mk, true, nil
	}
	if m.Native, _, err = read(nativeFile, KindNative); err != nil {
		return Markers{}, err
	}
	if m.Ack, _, err = read(ackFile, KindAck); err != nil {
		return Markers{}, err
	}
	if m.Early, _, err = read(earlyFile, KindEarly); err != nil {
		return Markers{}, err
	}
	claim, ok, err := read(ClaimFile(sandbox), KindClaim)
	if err != nil {
		return Markers{}, err
	}
	if ok && !claim.IsZero() && claim.Sandbox != sandbox {
		ok = false
		m.Problems = append(m.Problems, fmt.Sprintf("%s: %v: it names sandbox %s", ClaimFile(sandbox), ErrBadMarker, claim.Sandbox))
	}
	if !ok {
		claim = Marker{Kind: KindClaim, Value: string(Legacy), Sandbox: sandbox}
		m.Problems = append(m.Problems, ClaimFile(sandbox)+": read as a legacy claim")
	}
	m.Claim = claim
	hand, ok, err := read(HandoverFile(sandbox), KindHandover)
	if err != nil {
		return Markers{}, err
	}
	if ok && !hand.IsZero() && hand.Sandbox != sandbox {
		ok = false
		m.Problems = append(m.Problems, fmt.Sprintf("%s: %v: it names sandbox %s", HandoverFile(sandbox), ErrBadMarker, hand.Sandbox))
	}
	if !ok {
		hand = Marker{Kind: KindHandover, Value: string(Native), Sandbox: sandbox}
		m.Problems = append(m.Problems, HandoverFile(sandbox)+": read as a handover")
	}
	m.Handover = hand
	return m, nil
}

// RecordSeen records that the native twin ran in the sandbox.
func RecordSeen(d Dir, sandbox string) error {
	return write(d, nativeFile, Marker{Kind: KindNative, Value: ValueSeen, Sandbox: sandbox})
}

// Acknowledge records that the kubelet probed the native twin in the
// sandbox. Only the native twin's startup probe calls it.
func Acknowledge(d Dir, sandbox string) error {
	return write(d, ackFile, Marker{Kind: KindAck, Value: ValueProbed, Sandbox: sandbox})
}

// RecordEarly records that the kubelet started the legacy twin in the
// sandbox before the native twin's first run there ended. Only the legacy
// twin calls it.
func RecordEarly(d Dir, sandbox string) error {
	return write(d, earlyFile, Marker{Kind: KindEarly, Value: ValueStarted, Sandbox: sandbox})
}

func write(d Dir, name string, m Marker) error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("universal: record %s: %w", name, err)
	}
	if err := d.WriteFile(name, m.Format()); err != nil {
		return fmt.Errorf("universal: record %s: %w", name, err)
	}
	return nil
}

// RecordHandover records that the legacy twin handed the sandbox over to the
// native twin. Only the legacy twin calls it, after its sidecar exited
// (or when it does not run it): from then on the native twin acts (see
// Decide). The file is created exclusively; finding it there already is
// no error.
func RecordHandover(d Dir, sandbox string) error {
	m := Marker{Kind: KindHandover, Value: string(Native), Sandbox: sandbox}
	if err := m.validate(); err != nil {
		return fmt.Errorf("universal: hand over: %w", err)
	}
	err := d.CreateFile(HandoverFile(sandbox), m.Format())
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("universal: hand over: %w", err)
	}
	return nil
}

// Claim makes role the twin that acts in the sandbox. It reports false,
// with no error, when the sandbox was claimed already (by either twin):
// the caller observes again and decides again.
func Claim(d Dir, sandbox string, role Role) (bool, error) {
	m := Marker{Kind: KindClaim, Value: string(role), Sandbox: sandbox}
	if err := m.validate(); err != nil {
		return false, fmt.Errorf("universal: claim: %w", err)
	}
	err := d.CreateFile(ClaimFile(sandbox), m.Format())
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("universal: claim: %w", err)
	}
	return true, nil
}
