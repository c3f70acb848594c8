package kubesim

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Config is one exploration: a node kind, a Pod and a bound.
type Config struct {
	// Family is the Suite family the exploration belongs to (a label).
	Family Family
	Kind   Kind
	// RestartPolicy is the Pod's; empty means Always.
	RestartPolicy corev1.RestartPolicy
	// ExtraInit adds an ordinary init container after the native twin.
	ExtraInit bool
	// Faults bounds the crashes and probe kills in one run, Recreations
	// the sandbox re-creations.
	Faults, Recreations int
	// Delete explores the Pod's deletion at any point.
	Delete bool
	// Protocol is the handshake logic; nil means Production.
	Protocol Protocol
	// NoStartupProbe leaves the native twin without its startup probe,
	// to show what the probe is for.
	NoStartupProbe bool
	// KubeletRestarts bounds the restarts of the kubelet (same binary)
	// in one run.
	KubeletRestarts int
	// Upgrade explores, once per run at any point, the replacement of
	// the kubelet in place by one of kind To (see Upgrades).
	Upgrade bool
	To      Kind
	// Losses bounds the sandbox re-creations (within Recreations) that
	// also empty the handshake directory.
	Losses int
	// IdentityFaults adds, within the Faults bound, a twin's or the
	// native twin's startup probe's failure to read the sandbox
	// identity.
	IdentityFaults bool
	// Bug136910 adds the kubelet restart of v1.35 releases before the
	// fix of kubernetes#136910: a started sidecar is neither seeded nor
	// probed again.
	Bug136910 bool
	// CheckDormant checks PropDormantFailed, which no protocol can keep
	// (see there).
	CheckDormant bool
}

func (c Config) String() string {
	p := c.RestartPolicy
	if p == "" {
		p = corev1.RestartPolicyAlways
	}
	s := fmt.Sprintf("%s %s faults=%d recreations=%d", c.Kind, p, c.Faults, c.Recreations)
	if c.ExtraInit {
		s += " +init"
	}
	if c.Delete {
		s += " +delete"
	}
	if c.NoStartupProbe {
		s += " -startupProbe"
	}
	if c.KubeletRestarts > 0 {
		s += fmt.Sprintf(" kubelet-restarts=%d", c.KubeletRestarts)
	}
	if c.Upgrade {
		s += " upgrade-to=" + c.To.String()
	}
	if c.Losses > 0 {
		s += fmt.Sprintf(" losses=%d", c.Losses)
	}
	if c.IdentityFaults {
		s += " +identity-faults"
	}
	if c.Bug136910 {
		s += " +kubernetes#136910"
	}
	return s
}

// Result is what an exploration found.
type Result struct {
	Config Config
	// States and Transitions count what was explored.
	States, Transitions int
	// Violations holds, per property violated, the shortest trace to it.
	Violations []Violation
	// Rejected: the kubelet rejected the Pod at admission (Reject).
	Rejected bool
	// Succeeded: some run ends with the Pod Succeeded.
	Succeeded bool
}

// Violation is a property that does not hold, with a trace from the
// initial state: the events and the states they lead to.
type Violation struct {
	Property string
	Trace    []string
}

func (v Violation) String() string {
	return v.Property + ":\n  " + strings.Join(v.Trace, "\n  ")
}

// The properties.
const (
	PropTwoRun     = "two twins run the sidecar at once"
	PropHandoff    = "both twins ran the sidecar in one sandbox"
	PropNoneRuns   = "no twin runs the sidecar, though one did and none faulted"
	PropAppFirst   = "the application runs while the native twin does not act (native node)"
	PropFailed     = "the Pod failed without a fault"
	PropProtocol   = "the handshake returned an error"
	PropOldWait    = "the native twin waits for a confirmation on an old node though no fault or identity collision made the sandbox ambiguous"
	PropStuckInit  = "the Pod cannot leave Init"
	PropNoRecovery = "the acting twin cannot run the sidecar again after a fault or a handover"
	PropJobStuck   = "the Job Pod cannot complete"
	PropNoStop     = "the deleted Pod cannot finish terminating"
	PropNotReady   = "the Pod cannot become Ready (native node, restartPolicy Always)"
	// PropLoop: a native kubelet restarts a native twin after any exit,
	// with backoff, and the Pod is not Ready meanwhile: a native twin
	// that exits 0 on a native node while the legacy twin acts, without
	// waiting for the probe that would make it stand by, loops. (The
	// liveness properties cannot see it: the race with the probe can
	// always end well.)
	PropLoop = "the native twin exits on a native node while the legacy twin acts, without waiting for its startup probe (a restart loop)"
	// PropLegacyNeedless: the legacy twin claims a sandbox on a native
	// kubelet where a twin could know that it runs native sidecars (the
	// claim is not excused, see the package documentation). The handover
	// repairs such a claim once the native twin is probed, but the
	// sidecar restarts on the way and, on 1.28, the application ran
	// before the native twin acted.
	PropLegacyNeedless = "the legacy twin claims a sandbox on a native node that a twin could tell from an old one"
	// PropDormantFailed: a Pod failed whose only faults hit the legacy
	// twin before it acted, while the native twin acts or would. Checked
	// with Config.CheckDormant only: under restartPolicy Never a crash of
	// any regular container fails the Pod, and no protocol can keep a
	// twin from crashing (see docs/universal.md).
	PropDormantFailed = "the Pod failed because the legacy twin crashed before it acted, on a native node"
)

// maxStates bounds an exploration's memory.
const maxStates = 20_000_000

type model struct {
	cfg   Config
	proto Protocol
	tab   *table
	// stale: a kubelet of the run reads statuses of earlier sandboxes
	// and the Pod has I, so state.iPrev is kept; early: PropAppFirst may
	// be checked in a sandbox such a kubelet started, so state.early is
	// kept. track: the directory may lack any proof of
	// a native node on a native kubelet (it may be emptied, or the Pod
	// started on an old kubelet), so state.probed and nExited are kept.
	stale, early, track bool
	memo                map[memoKey]memoVal
}

// Explore explores every interleaving of cfg's Pod on cfg's node kind, up
// to cfg's fault bounds, breadth first, and checks the properties.
func Explore(cfg Config) (Result, error) {
	if cfg.Faults < 0 || cfg.Recreations < 0 || cfg.Recreations > maxFiles-4 || cfg.KubeletRestarts < 0 || cfg.KubeletRestarts > 255 || cfg.Losses < 0 || cfg.Losses > cfg.Recreations {
		return Result{}, fmt.Errorf("kubesim: bounds out of range: faults=%d recreations=%d (0..%d) losses=%d (0..recreations) kubelet restarts=%d", cfg.Faults, cfg.Recreations, maxFiles-4, cfg.Losses, cfg.KubeletRestarts)
	}
	if cfg.Upgrade {
		ok := false
		for _, k := range Upgrades(cfg.Kind) {
			ok = ok || k == cfg.To
		}
		if !ok {
			return Result{}, fmt.Errorf("kubesim: no in-place upgrade from %s to %s (see Upgrades)", cfg.Kind, cfg.To)
		}
	}
	m := &model{cfg: cfg, proto: cfg.Protocol, tab: newTable(), memo: map[memoKey]memoVal{}, stale: cfg.ExtraInit && (cfg.Kind.staleStatus() || cfg.Upgrade && cfg.To.staleStatus()),
		early: cfg.Kind == Native128 || cfg.Upgrade && (cfg.Kind.staleStatus() || cfg.To == Native128),
		track: cfg.Losses > 0 || cfg.Upgrade && !cfg.Kind.native()}
	if m.proto == nil {
		m.proto = Production()
	}
	res := Result{Config: cfg}
	init := state{ids: 1, kind: uint8(cfg.Kind), sbOld: !cfg.Kind.native()}
	if cfg.Kind == Reject {
		// Kubelet admission: InitContainerRestartPolicyForbidden.
		init.phase = pRejected
		res.Rejected = true
	}
	g := graph{index: map[state]int32{init: 0}, states: []state{init}, parent: []int32{-1}, via: []event{{}}}
	seen := map[string]bool{}
	report := func(prop string, at int32) {
		if !seen[prop] {
			seen[prop] = true
			res.Violations = append(res.Violations, Violation{Property: prop, Trace: g.trace(at, m.tab)})
		}
	}
	var buf []event
	for q := int32(0); int(q) < len(g.states); q++ {
		s := g.states[q]
		for _, p := range m.violations(&s) {
			report(p, q)
		}
		if s.phase == pSucceeded {
			res.Succeeded = true
		}
		buf = m.events(&s, buf)
		for _, e := range buf {
			t, err := m.apply(s, e)
			res.Transitions++
			if err != nil {
				report(PropProtocol+": "+err.Error(), q)
				continue
			}
			to, err := g.add(t, q, e)
			if err != nil {
				return res, err
			}
			if !e.fault() {
				g.from, g.to = append(g.from, q), append(g.to, to)
			}
		}
	}
	res.States = len(g.states)
	for _, l := range m.liveness() {
		if at := g.unreachable(l.applies, l.goal); at >= 0 {
			report(l.prop, at)
		}
	}
	return res, nil
}

// violations returns the safety properties s violates.
func (m *model) violations(s *state) []string {
	var v []string
	if s.running() > 1 {
		v = append(v, PropTwoRun)
	}
	if s.handoff {
		v = append(v, PropHandoff)
	}
	if !s.deleting && !s.phase.terminal() && s.designated != nobody && s.running() == 0 && !s.twin(s.designated).faulted && !s.handing {
		v = append(v, PropNoneRuns)
	}
	if k := Kind(s.kind); (k == Native || k == Native128) && s.a.st == cRunning && s.designated != native && !s.sbOld && !s.early && !s.collided && !s.excusedLegacy() {
		v = append(v, PropAppFirst)
	}
	if Kind(s.kind) == Strip && s.n.st == cRunning && s.n.step == sConfirming && s.faults == 0 && !s.collided {
		v = append(v, PropOldWait)
	}
	if s.loops {
		v = append(v, PropLoop)
	}
	if s.needless {
		v = append(v, PropLegacyNeedless)
	}
	if s.phase == pFailed && s.faults == 0 && s.recreations == 0 {
		v = append(v, PropFailed)
	}
	if m.cfg.CheckDormant && s.phase == pFailed && s.dormantFault && !s.otherFault {
		v = append(v, PropDormantFailed)
	}
	return v
}

// excusedLegacy reports whether the current sandbox's claim is a legacy
// claim made where no twin could know that the node runs native sidecars
// (Config and docs/universal.md): an old kubelet made the claim (and an
// in-place upgrade came later), or the directory held no proof of a
// native node once the native twin's first run in the sandbox was over.
func (s *state) excusedLegacy() bool { return s.excused&(1<<s.sandbox) != 0 }

type liveness struct {
	prop          string
	applies, goal func(*state) bool
}

// liveness returns the goals that must stay reachable through non-fault
// events from every state they apply to.
func (m *model) liveness() []liveness {
	live := func(s *state) bool { return !s.deleting && !s.phase.terminal() }
	var l []liveness
	if m.cfg.Kind != Reject {
		l = append(l, liveness{PropStuckInit, live, func(s *state) bool {
			_, initialized, _ := m.initActions(s)
			return initialized || s.phase.terminal()
		}})
		l = append(l, liveness{PropNoRecovery,
			func(s *state) bool {
				if !live(s) || s.designated == nobody || s.running() > 0 {
					return false
				}
				// Under Never the kubelet restarts no regular container.
				return !(s.designated == legacy && m.policy() == corev1.RestartPolicyNever)
			},
			func(s *state) bool { return s.running() == 1 || s.phase.terminal() }})
	}
	native := func(s *state) bool { return live(s) && Kind(s.kind).native() }
	if m.policy() != corev1.RestartPolicyAlways {
		l = append(l, liveness{PropJobStuck, native,
			func(s *state) bool { return s.phase.terminal() }})
	} else {
		l = append(l, liveness{PropNotReady, native, func(s *state) bool {
			return s.phase.terminal() || s.n.st == cRunning && s.n.started && s.l.st == cRunning && s.a.st == cRunning && s.running() == 1
		}})
	}
	l = append(l, liveness{PropNoStop, func(s *state) bool { return s.deleting && !s.phase.terminal() },
		func(s *state) bool { return s.phase.terminal() }})
	return l
}

// graph is the explored state space.
type graph struct {
	index  map[state]int32
	states []state
	parent []int32
	via    []event
	// from and to are the non-fault transitions.
	from, to []int32
}

var errTooMany = errors.New("kubesim: too many states; lower the bounds")

func (g *graph) add(s state, parent int32, e event) (int32, error) {
	if id, ok := g.index[s]; ok {
		return id, nil
	}
	if len(g.states) >= maxStates {
		return 0, errTooMany
	}
	id := int32(len(g.states))
	g.index[s] = id
	g.states = append(g.states, s)
	g.parent = append(g.parent, parent)
	g.via = append(g.via, e)
	return id, nil
}

// trace describes the path from the initial state to state at.
func (g *graph) trace(at int32, tab *table) []string {
	var rev []string
	for i := at; i >= 0; i = g.parent[i] {
		s := g.states[i]
		line := s.describe(tab)
		if g.parent[i] >= 0 {
			line = g.via[i].String() + " → " + line
		} else {
			line = "start: " + line
		}
		rev = append(rev, line)
	}
	out := make([]string, len(rev))
	for i := range rev {
		out[i] = rev[len(rev)-1-i]
	}
	return out
}

// unreachable returns the first state (in exploration order) that applies
// holds in and from which no goal state is reachable through non-fault
// transitions, or -1.
func (g *graph) unreachable(applies, goal func(*state) bool) int32 {
	n := len(g.states)
	// Reverse adjacency in compressed form.
	start := make([]int32, n+1)
	for _, t := range g.to {
		start[t+1]++
	}
	for i := 0; i < n; i++ {
		start[i+1] += start[i]
	}
	pos := append([]int32(nil), start[:n]...)
	rev := make([]int32, len(g.to))
	for i, t := range g.to {
		rev[pos[t]] = g.from[i]
		pos[t]++
	}
	ok := make([]bool, n)
	var queue []int32
	for i := range g.states {
		if goal(&g.states[i]) {
			ok[i] = true
			queue = append(queue, int32(i))
		}
	}
	for len(queue) > 0 {
		t := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, f := range rev[start[t]:start[t+1]] {
			if !ok[f] {
				ok[f] = true
				queue = append(queue, f)
			}
		}
	}
	for i := range g.states {
		if !ok[i] && applies(&g.states[i]) {
			return int32(i)
		}
	}
	return -1
}
