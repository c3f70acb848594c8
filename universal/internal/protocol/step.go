package protocol

// Next is the step every handshake run takes, again after each Confirm and
// after a lost claim: it observes d for in.Sandbox and decides (in.Markers
// is ignored and replaced by what d holds). Package handshake and the
// simulation both call it.
func Next(d Dir, in Input) (Decision, Markers, error) {
	m, err := Observe(d, in.Sandbox)
	if err != nil {
		return Decision{}, Markers{}, err
	}
	in.Markers = m
	return Decide(in), m, nil
}

// Probe is a wrapped probe's step: it observes d and answers
// ProbeVerdict; the native twin's startup probe also records the ack
// when this sandbox has none (the kubelet probes the native twin only on
// nodes that run native sidecars).
func Probe(d Dir, role Role, typ ProbeType, sandbox string) (Verdict, Markers, error) {
	m, err := Observe(d, sandbox)
	if err != nil {
		return Fail, Markers{}, err
	}
	if role == Native && typ == StartupProbe && !m.Ack.In(sandbox) {
		if err := Acknowledge(d, sandbox); err != nil {
			return Fail, Markers{}, err
		}
		m.Ack = Marker{Kind: KindAck, Value: ValueProbed, Sandbox: sandbox}
	}
	return ProbeVerdict(role, typ, sandbox, m), m, nil
}
