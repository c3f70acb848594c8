package kubesim

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

// cstat is a container's status as the kubelet sees it.
type cstat uint8

const (
	cNone cstat = iota // no status (in the current sandbox, for init containers)
	cRunning
	cExited0
	cFailed // exited non-zero, or killed
)

func (c cstat) String() string {
	return [...]string{"-", "Running", "Exited(0)", "Failed"}[c]
}

// step is where a running twin's handshake process is.
type step uint8

const (
	sFresh      step = iota // about to observe and decide (in twin.phase)
	sDecided                // decided (twin.act, twin.claim); about to act
	sConfirming             // waiting for the probe
	sRunning                // the sidecar runs (exec'd)
	sStandBy                // standing by
	sExiting                // recorded its first run; about to exit 0
	sStopping               // L hands over: its sidecar runs until it exits
)

func (s step) String() string {
	return [...]string{"fresh", "decided", "confirming", "sidecar", "standby", "exiting", "stopping"}[s]
}

// twin is the kubelet's and the process's state of one twin.
type twin struct {
	st   cstat
	step step
	// phase and act hold a protocol.Phase and a protocol.Action, small
	// to keep states small.
	phase, act uint8
	claim      bool
	// started: the startup probe passed for this run (N only).
	started bool
	// probeFailed: the last startup probe of this run failed.
	probeFailed bool
	// active: it has a status in the current sandbox (L only; N's
	// status is always the current sandbox's).
	active bool
	// faulted: it crashed or was killed since it last started running
	// the sidecar.
	faulted bool
	// keyed: this run has read the sandbox identity (at its first step).
	keyed bool
	// degraded: this run carries on with a partly read identity, and so
	// another key (only a protocol that does not refuse does).
	degraded bool
	// noProbe: the kubelet will not probe this run (N only; the restart
	// of a kubelet with kubernetes#136910).
	noProbe bool
	// blind: this run decided to claim where no twin could know that the
	// node runs native sidecars (L only; see state.excused).
	blind bool
}

func (t twin) runsSidecar() bool {
	return t.st == cRunning && (t.step == sRunning || t.step == sStopping)
}

// plain is an ordinary container: I or A.
type plain struct {
	st     cstat
	active bool // A: has a status in the current sandbox
}

// pod phases.
type phase uint8

const (
	pLive phase = iota
	pSucceeded
	pFailed
	pRejected
	pDeleted // deleted and every container stopped
)

func (p phase) String() string {
	return [...]string{"Live", "Succeeded", "Failed", "Rejected", "Deleted"}[p]
}

func (p phase) terminal() bool { return p != pLive }

// who names a twin.
type who uint8

const (
	nobody who = iota
	native
	legacy
)

func (w who) String() string { return [...]string{"nobody", "native", "legacy"}[w] }

// maxFiles bounds the handshake directory: native, ack, early and one
// claim per sandbox.
const maxFiles = 9

// file is a file of the handshake directory: its name and content as
// indexes into the exploration's table of strings (0 is "").
type file struct{ name, data uint8 }

// state is one state of the model. It is comparable, and used as a map key.
type state struct {
	files [maxFiles]file
	// sandbox is the current sandbox's identity; ids counts the
	// identities handed out.
	sandbox, ids uint8
	n, l         twin
	i, a         plain
	deleting     bool
	phase        phase
	faults       uint8
	recreations  uint8
	// collided: a re-creation reused an earlier sandbox identity.
	collided bool
	// designated is the twin that first ran the sidecar in this sandbox;
	// handoff is set when the other one ran it later.
	designated who
	handoff    bool
	// handing: the legacy twin's sidecar exited to hand this sandbox
	// over, and the native twin does not run the sidecar yet.
	handing bool
	// needless: the legacy twin claimed a sandbox on a native kubelet
	// that a twin could tell from an old one (PropLegacyNeedless).
	needless bool
	// kind is the running kubelet's (Config.Kind until an upgrade);
	// upgraded: the in-place upgrade happened; restarts counts kubelet
	// restarts.
	kind     uint8
	upgraded bool
	restarts uint8
	losses   uint8 // re-creations that emptied the directory
	// iPrev is I's last status in an earlier sandbox, which kubelets
	// before 1.37 read as I's status until I runs in this one.
	iPrev cstat
	// sbOld: the current sandbox was created by a kubelet without native
	// sidecars (or the Pod started on one).
	sbOld bool
	// early: a kubelet that reads statuses of an earlier sandbox (1.28,
	// 1.29-1.36) started a container after N in this one before N
	// started.
	early bool
	// probed: N's startup probe ran (and could record an ack) since the
	// handshake directory was last emptied; nExited: a run of N in this
	// sandbox is over (it recorded its run and exits, or exited 0).
	probed, nExited bool
	// excused has bit id set when the legacy claim of identity id was
	// made where no twin could know the node runs native sidecars: on a
	// kubelet without them, or with no probe since the directory was
	// emptied and N's first run in the sandbox over (see the package
	// documentation).
	excused uint16
	// dormantFault: the legacy twin failed before it acted, while the
	// native twin acts or will; otherFault: any other fault.
	dormantFault, otherFault bool
	// loops: the native twin exited on a native kubelet while the legacy
	// twin acts in the sandbox, without waiting for its confirmation
	// (PropLoop).
	loops bool
}

// identity returns identity id as a protocol.Sandbox: what a process
// reads in sandbox id, in full, or, when degraded, with the network
// namespace's cookie unreadable (the same for every sandbox then, as on
// hosts where namespace inodes are reused).
func identity(id uint8, degraded bool) protocol.Sandbox {
	sb := protocol.Sandbox{BootID: "kubesim", Net: protocol.Namespace{Dev: 4, Ino: 4026531840}, NetCookie: uint64(id) + 1}
	if degraded {
		sb.NetCookie = 0
	}
	return sb
}

// keys are the sandbox keys of the identities, in full.
var keys = func() (k [maxFiles]string) {
	for i := range k {
		k[i] = identity(uint8(i), false).Key()
	}
	return k
}()

// degradedKey is the key of a degraded identity.
var degradedKey = identity(0, true).Key()

// key returns the sandbox key of identity id.
func key(id uint8) string { return keys[id] }

// table interns the names and contents of the handshake directory's files.
type table struct {
	strs []string
	idx  map[string]uint8
}

func newTable() *table { return &table{strs: []string{""}, idx: map[string]uint8{"": 0}} }

func (t *table) intern(s string) (uint8, error) {
	if i, ok := t.idx[s]; ok {
		return i, nil
	}
	if len(t.strs) > 255 {
		return 0, fmt.Errorf("kubesim: more than 255 distinct file names and contents")
	}
	i := uint8(len(t.strs))
	t.strs = append(t.strs, s)
	t.idx[s] = i
	return i, nil
}

func (s *state) twin(w who) *twin {
	if w == native {
		return &s.n
	}
	return &s.l
}

// running counts the twins that run the sidecar.
func (s *state) running() int {
	n := 0
	if s.n.runsSidecar() {
		n++
	}
	if s.l.runsSidecar() {
		n++
	}
	return n
}

// describe describes the state on one line, for traces.
func (s *state) describe(tab *table) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kubelet=%s sandbox=%d N=%s", Kind(s.kind), s.sandbox, s.n.st)
	if s.n.st == cRunning {
		fmt.Fprintf(&b, "/%s", s.describeStep(&s.n))
		if s.n.started {
			b.WriteString("/started")
		}
	}
	fmt.Fprintf(&b, " I=%s L=%s", s.i.st, s.l.st)
	if s.l.st == cRunning {
		fmt.Fprintf(&b, "/%s", s.describeStep(&s.l))
	}
	fmt.Fprintf(&b, " A=%s phase=%s", s.a.st, s.phase)
	if s.deleting {
		b.WriteString(" deleting")
	}
	for _, f := range s.files {
		if f.name != 0 {
			fmt.Fprintf(&b, " [%s: %s]", short(tab.strs[f.name]), short(strings.TrimSpace(tab.strs[f.data])))
		}
	}
	return b.String()
}

// short abbreviates the sandbox keys in a file's name or content to the
// identity they stand for ("#1"), "#?" for the degraded one.
func short(s string) string {
	for i, k := range keys {
		s = strings.ReplaceAll(s, k, fmt.Sprintf("#%d", i))
	}
	return strings.ReplaceAll(s, degradedKey, "#?")
}

func (s *state) describeStep(t *twin) string {
	switch t.step {
	case sFresh:
		s := "fresh(" + protocol.Phase(t.phase).String() + ")"
		if t.degraded {
			s += "/degraded"
		}
		return s
	case sDecided:
		d := protocol.Action(t.act).String()
		if t.claim {
			d += "+claim"
		}
		return "decided(" + d + ")"
	}
	return t.step.String()
}

// memDir is the handshake directory of a state: a protocol.Dir in memory.
type memDir struct {
	s   *state
	tab *table
}

var _ protocol.Dir = memDir{}

func (d memDir) find(name string) int {
	n, ok := d.tab.idx[name]
	if !ok {
		return -1
	}
	for i := range d.s.files {
		if d.s.files[i].name == n {
			return i
		}
	}
	return -1
}

func (d memDir) ReadFile(name string) ([]byte, error) {
	if i := d.find(name); i >= 0 && name != "" {
		return []byte(d.tab.strs[d.s.files[i].data]), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (d memDir) WriteFile(name string, data []byte) error {
	if i := d.find(name); i >= 0 && name != "" {
		v, err := d.tab.intern(string(data))
		d.s.files[i].data = v
		return err
	}
	return d.add(name, data)
}

func (d memDir) CreateFile(name string, data []byte) error {
	if d.find(name) >= 0 && name != "" {
		return &fs.PathError{Op: "link", Path: name, Err: fs.ErrExist}
	}
	return d.add(name, data)
}

// add inserts a file, keeping the files sorted by name so that equal
// directories are equal states.
func (d memDir) add(name string, data []byte) error {
	if name == "" {
		return fmt.Errorf("kubesim: empty file name")
	}
	n, err := d.tab.intern(name)
	if err != nil {
		return err
	}
	v, err := d.tab.intern(string(data))
	if err != nil {
		return err
	}
	f := &d.s.files
	i := 0
	for i < maxFiles && f[i].name != 0 {
		i++
	}
	if i == maxFiles {
		return fmt.Errorf("kubesim: more than %d files in the handshake directory", maxFiles)
	}
	f[i] = file{n, v}
	for ; i > 0 && d.tab.strs[f[i-1].name] > d.tab.strs[f[i].name]; i-- {
		f[i-1], f[i] = f[i], f[i-1]
	}
	return nil
}
