package protocol_test

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

const (
	sbA = "0123456789abcdef0123456789abcdef"
	sbB = "fedcba9876543210fedcba9876543210"
)

func TestParseMarker(t *testing.T) {
	cases := []struct {
		name, in string
		want     protocol.Marker
		err      string
	}{
		{name: "native", in: "sidecarkit-handshake/1 native seen " + sbA + "\n", want: protocol.Marker{Kind: protocol.KindNative, Value: "seen", Sandbox: sbA}},
		{name: "no-newline", in: "sidecarkit-handshake/1 ack probed " + sbA, want: protocol.Marker{Kind: protocol.KindAck, Value: "probed", Sandbox: sbA}},
		{name: "claim-native", in: "sidecarkit-handshake/1 claim native " + sbB + "\n", want: protocol.Marker{Kind: protocol.KindClaim, Value: "native", Sandbox: sbB}},
		{name: "claim-legacy", in: "sidecarkit-handshake/1 claim legacy " + sbB + "\n", want: protocol.Marker{Kind: protocol.KindClaim, Value: "legacy", Sandbox: sbB}},
		{name: "early", in: "sidecarkit-handshake/1 early started " + sbA + "\n", want: protocol.Marker{Kind: protocol.KindEarly, Value: "started", Sandbox: sbA}},
		{name: "handover", in: "sidecarkit-handshake/1 handover native " + sbA + "\n", want: protocol.Marker{Kind: protocol.KindHandover, Value: "native", Sandbox: sbA}},
		{name: "handover-legacy", in: "sidecarkit-handshake/1 handover legacy " + sbA, err: `kind handover has no value "legacy"`},
		{name: "early-wrong-value", in: "sidecarkit-handshake/1 early seen " + sbA, err: `kind early has no value "seen"`},
		{name: "empty", in: "", err: "want 4 space-separated fields, got 1"},
		{name: "two-newlines", in: "sidecarkit-handshake/1 native seen " + sbA + "\n\n", err: "is not 32 lowercase hex"},
		{name: "crlf", in: "sidecarkit-handshake/1 native seen " + sbA + "\r\n", err: "is not 32 lowercase hex"},
		{name: "version-2", in: "sidecarkit-handshake/2 native seen " + sbA, err: `want "sidecarkit-handshake/1" first`},
		{name: "unknown-kind", in: "sidecarkit-handshake/1 legacy running " + sbA, err: `unknown kind "legacy"`},
		{name: "wrong-value", in: "sidecarkit-handshake/1 native running " + sbA, err: `kind native has no value "running"`},
		{name: "claim-other", in: "sidecarkit-handshake/1 claim both " + sbA, err: `kind claim has no value "both"`},
		{name: "upper-hex", in: "sidecarkit-handshake/1 native seen " + strings.ToUpper(sbA), err: "is not 32 lowercase hex"},
		{name: "short-key", in: "sidecarkit-handshake/1 native seen abc", err: "is not 32 lowercase hex"},
		{name: "double-space", in: "sidecarkit-handshake/1  native seen " + sbA, err: "want 4 space-separated fields, got 5"},
		{name: "too-long", in: strings.Repeat("x", 129), err: "129 bytes is too long"},
		{name: "binary", in: "\x00\xff\xfe", err: "want 4 space-separated fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.ParseMarker([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, protocol.ErrBadMarker) {
					t.Fatalf("ParseMarker(%q) = %v, %v; want an ErrBadMarker containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if again, err := protocol.ParseMarker(got.Format()); err != nil || again != got {
				t.Errorf("round trip: %v, %v", again, err)
			}
		})
	}
}

func TestSandboxKey(t *testing.T) {
	a := protocol.Sandbox{BootID: "b1", Net: protocol.Namespace{Dev: 4, Ino: 4026532281}, IPC: protocol.Namespace{Dev: 4, Ino: 4026532208}, UTS: protocol.Namespace{Dev: 4, Ino: 4026532207}}
	if got, want := a.String(), "boot=b1 net=4:4026532281 ipc=4:4026532208 uts=4:4026532207"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (protocol.Sandbox{}).String(); got != "boot=? net=? ipc=? uts=?" {
		t.Errorf("zero String() = %q", got)
	}
	withCookie := a
	withCookie.NetCookie = 4097
	if got, want := withCookie.String(), "boot=b1 net=4:4026532281 ipc=4:4026532208 uts=4:4026532207 netcookie=4097"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	otherCookie := a
	otherCookie.NetCookie = 4098 // reused inodes, a new namespace
	withToken := withCookie
	withToken.Token = "0123456789abcdef0123456789abcdef" // a hostNetwork Pod's sandbox token
	if got, want := withToken.String(), "boot=b1 net=4:4026532281 ipc=4:4026532208 uts=4:4026532207 netcookie=4097 token=0123456789abcdef0123456789abcdef"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	keys := map[string]protocol.Sandbox{}
	for _, s := range []protocol.Sandbox{a, {BootID: "b2", Net: a.Net, IPC: a.IPC, UTS: a.UTS}, {BootID: "b1", Net: protocol.Namespace{Dev: 4, Ino: 1}, IPC: a.IPC, UTS: a.UTS}, {}, withCookie, otherCookie, withToken} {
		k := s.Key()
		if len(k) != 32 || strings.Trim(k, "0123456789abcdef") != "" {
			t.Errorf("Key() = %q: want 32 lowercase hex digits", k)
		}
		if o, dup := keys[k]; dup {
			t.Errorf("%v and %v share key %s", o, s, k)
		}
		keys[k] = s
		if s.Key() != k {
			t.Errorf("Key() is not deterministic")
		}
	}
	if got, want := a.Key(), "060847c135545a6a67ea8a9d3faf93f5"; got != want {
		t.Errorf("Key() = %s, want %s: the key of a sandbox must not change between versions of the handshake binary", got, want)
	}
}

// TestIdentify: a process that could not read its identity gets no key
// (it must not decide on a partial one), and one that could gets Key.
func TestIdentify(t *testing.T) {
	sb := protocol.Sandbox{BootID: "b1", NetCookie: 7}
	if k, err := protocol.Identify(sb, nil); err != nil || k != sb.Key() {
		t.Errorf("Identify(ok) = %q, %v; want %q", k, err, sb.Key())
	}
	k, err := protocol.Identify(sb, errors.New("network namespace cookie: socket: too many open files"))
	if k != "" || !errors.Is(err, protocol.ErrIdentity) || !strings.Contains(err.Error(), "too many open files") {
		t.Errorf("Identify(failed read) = %q, %v; want no key and an ErrIdentity saying why", k, err)
	}
}

// mapDir is a protocol.Dir in memory.
type mapDir map[string]string

func (d mapDir) ReadFile(name string) ([]byte, error) {
	v, ok := d[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(v), nil
}

func (d mapDir) WriteFile(name string, data []byte) error {
	d[name] = string(data)
	return nil
}

func (d mapDir) CreateFile(name string, data []byte) error {
	if _, ok := d[name]; ok {
		return &fs.PathError{Op: "link", Path: name, Err: fs.ErrExist}
	}
	d[name] = string(data)
	return nil
}

func (d mapDir) String() string {
	var names []string
	for n := range d {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %q\n", n, d[n])
	}
	return b.String()
}

// errDir fails every operation.
type errDir struct{}

func (errDir) ReadFile(string) ([]byte, error) { return nil, fs.ErrPermission }
func (errDir) WriteFile(string, []byte) error  { return fs.ErrPermission }
func (errDir) CreateFile(string, []byte) error { return fs.ErrPermission }

// errOn is a Dir of absent files, but for an I/O error reading the file
// it names.
type errOn string

func (e errOn) ReadFile(name string) ([]byte, error) {
	if name == string(e) {
		return nil, fs.ErrPermission
	}
	return nil, fs.ErrNotExist
}
func (errOn) WriteFile(string, []byte) error  { return fs.ErrPermission }
func (errOn) CreateFile(string, []byte) error { return fs.ErrPermission }

func line(k protocol.Kind, v, sb string) string {
	return string(protocol.Marker{Kind: k, Value: v, Sandbox: sb}.Format())
}

func TestObserve(t *testing.T) {
	cases := []struct {
		name     string
		dir      mapDir
		want     protocol.Markers
		problems int
	}{
		{name: "empty", dir: mapDir{}},
		{
			name: "all",
			dir:  mapDir{"native": line("native", "seen", sbB), "ack": line("ack", "probed", sbA), "early": line("early", "started", sbB), "claim-" + sbA: line("claim", "native", sbA), "claim-" + sbB: line("claim", "legacy", sbB)},
			want: protocol.Markers{Native: protocol.Marker{Kind: "native", Value: "seen", Sandbox: sbB}, Ack: protocol.Marker{Kind: "ack", Value: "probed", Sandbox: sbA}, Early: protocol.Marker{Kind: "early", Value: "started", Sandbox: sbB}, Claim: protocol.Marker{Kind: "claim", Value: "native", Sandbox: sbA}},
		},
		{
			name: "handover",
			dir:  mapDir{"claim-" + sbA: line("claim", "legacy", sbA), "handover-" + sbA: line("handover", "native", sbA), "handover-" + sbB: line("handover", "native", sbB)},
			want: protocol.Markers{Claim: protocol.Marker{Kind: "claim", Value: "legacy", Sandbox: sbA}, Handover: protocol.Marker{Kind: "handover", Value: "native", Sandbox: sbA}},
		},
		{
			name:     "corrupt-handover-reads-as-one",
			dir:      mapDir{"claim-" + sbA: line("claim", "legacy", sbA), "handover-" + sbA: "half"},
			want:     protocol.Markers{Claim: protocol.Marker{Kind: "claim", Value: "legacy", Sandbox: sbA}, Handover: protocol.Marker{Kind: "handover", Value: "native", Sandbox: sbA}},
			problems: 2,
		},
		{
			name:     "handover-of-other-sandbox-reads-as-one",
			dir:      mapDir{"claim-" + sbA: line("claim", "legacy", sbA), "handover-" + sbA: line("handover", "native", sbB)},
			want:     protocol.Markers{Claim: protocol.Marker{Kind: "claim", Value: "legacy", Sandbox: sbA}, Handover: protocol.Marker{Kind: "handover", Value: "native", Sandbox: sbA}},
			problems: 2,
		},
		{
			name:     "corrupt-early",
			dir:      mapDir{"early": line("ack", "probed", sbA)},
			problems: 1,
		},
		{
			name:     "corrupt-native-and-ack",
			dir:      mapDir{"native": "garbage", "ack": line("native", "seen", sbA)},
			problems: 2,
		},
		{
			name:     "corrupt-claim-reads-legacy",
			dir:      mapDir{"claim-" + sbA: "\x00"},
			want:     protocol.Markers{Claim: protocol.Marker{Kind: "claim", Value: "legacy", Sandbox: sbA}},
			problems: 2,
		},
		{
			name:     "claim-of-other-sandbox-reads-legacy",
			dir:      mapDir{"claim-" + sbA: line("claim", "native", sbB)},
			want:     protocol.Markers{Claim: protocol.Marker{Kind: "claim", Value: "legacy", Sandbox: sbA}},
			problems: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.Observe(tc.dir, sbA)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Problems) != tc.problems {
				t.Errorf("problems = %q, want %d", got.Problems, tc.problems)
			}
			got.Problems = nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	if _, err := protocol.Observe(errDir{}, sbA); err == nil || !strings.Contains(err.Error(), "universal: observe: read native") {
		t.Errorf("an I/O error: got %v", err)
	}
	// An I/O error on any one file fails the observation, naming it.
	for _, name := range []string{"native", "ack", "early", protocol.ClaimFile(sbA), protocol.HandoverFile(sbA)} {
		if _, err := protocol.Observe(errOn(name), sbA); err == nil || !strings.Contains(err.Error(), "universal: observe: read "+name) {
			t.Errorf("an I/O error on %s: got %v", name, err)
		}
	}
	if _, err := protocol.Observe(mapDir{}, "nope"); err == nil {
		t.Errorf("a bad sandbox key: want an error")
	}
}

func TestRecordAndClaim(t *testing.T) {
	d := mapDir{}
	if err := protocol.RecordSeen(d, sbA); err != nil {
		t.Fatal(err)
	}
	if err := protocol.Acknowledge(d, sbA); err != nil {
		t.Fatal(err)
	}
	if err := protocol.RecordEarly(d, sbA); err != nil {
		t.Fatal(err)
	}
	ok, err := protocol.Claim(d, sbA, protocol.Legacy)
	if !ok || err != nil {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	ok, err = protocol.Claim(d, sbA, protocol.Native)
	if ok || err != nil {
		t.Fatalf("second claim: %v, %v; want false, nil", ok, err)
	}
	for i := 0; i < 2; i++ { // again: no error
		if err := protocol.RecordHandover(d, sbA); err != nil {
			t.Fatalf("handover %d: %v", i, err)
		}
	}
	want := mapDir{
		"native":          "sidecarkit-handshake/1 native seen " + sbA + "\n",
		"ack":             "sidecarkit-handshake/1 ack probed " + sbA + "\n",
		"early":           "sidecarkit-handshake/1 early started " + sbA + "\n",
		"claim-" + sbA:    "sidecarkit-handshake/1 claim legacy " + sbA + "\n",
		"handover-" + sbA: "sidecarkit-handshake/1 handover native " + sbA + "\n",
	}
	if diff := cmp.Diff(want.String(), d.String()); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if err := protocol.RecordSeen(d, "bad"); err == nil {
		t.Errorf("RecordSeen with a bad key: want an error")
	}
	if _, err := protocol.Claim(d, sbA, "other"); err == nil {
		t.Errorf("Claim with a bad role: want an error")
	}
	if _, err := protocol.Claim(errDir{}, sbA, protocol.Native); err == nil || errors.Is(err, fs.ErrExist) {
		t.Errorf("Claim on a failing dir: %v", err)
	}
	if err := protocol.Acknowledge(errDir{}, sbA); err == nil {
		t.Errorf("Acknowledge on a failing dir: want an error")
	}
	if err := protocol.RecordEarly(errDir{}, sbA); err == nil {
		t.Errorf("RecordEarly on a failing dir: want an error")
	}
	if err := protocol.RecordHandover(errDir{}, sbA); err == nil || !strings.Contains(err.Error(), "universal: hand over") {
		t.Errorf("RecordHandover on a failing dir: %v, want an error", err)
	}
	if err := protocol.RecordHandover(d, "bad"); err == nil {
		t.Errorf("RecordHandover with a bad key: want an error")
	}
}
