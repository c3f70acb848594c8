// Package kubesim is a deterministic model of how kubelets of each kind
// start, restart, probe and stop the universal pair, used to explore every
// interleaving of kubelet actions, handshake steps and faults up to a bound
// and check that exactly one twin acts.
//
// The twins run the production handshake logic of package universal
// (Next, Claim, RecordSeen, RecordEarly, RecordHandover, Probe and with
// them Observe, Decide and the marker format) against an in-memory handshake directory that, like an
// emptyDir, survives sandbox re-creation. Only the kubelet and the
// processes are modelled.
//
// # The Pod
//
// initContainers: the native twin N (restartPolicy Always, with the
// wrapped startup probe), then optionally an ordinary init container I;
// containers: the legacy twin L, then the application A.
//
// # Node kinds
//
//   - Strip (kubelet 1.27 or older, or a node whose kubelet drops the
//     field): N is an ordinary init container that must exit 0; no probes
//     on init containers; init containers run in order; a failed one is
//     restarted unless the Pod's restartPolicy is Never, which fails the
//     Pod.
//   - Native128 (1.28 with the SidecarContainers gate on): as Native for
//     startup, except that v1.28.15 counts a regular container's status
//     of an earlier sandbox as "created" (hasAnyRegularContainerCreated),
//     so after a sandbox re-creation it starts the legacy twin and the
//     application without waiting for the native twin; termination is
//     unordered.
//   - Reject (1.28 to 1.32 with the gate off): kubelet admission rejects
//     the Pod; it fails at once, nothing runs.
//   - Native (1.29 and newer), after computeInitContainerActions and
//     computePodActions of k8s.io/kubernetes v1.37.2
//     pkg/kubelet/kuberuntime: N is restarted after any exit, whatever
//     the restartPolicy; the next container starts only once a run of N is
//     Running and its startup probe passed; the Pod is initialized when a
//     regular container has started in the current sandbox; for
//     restartPolicy Never and OnFailure the Pod completes (N is killed)
//     once no regular container runs or will be restarted; termination is
//     ordered (regular containers first, N after them).
//   - NativeStaleInit (1.29 to 1.36 before the fix of kubernetes#138514):
//     as Native, except that the kubelet reads I's status of an earlier
//     sandbox as its current one (FindContainerStatusByName), so after a
//     sandbox re-creation I is skipped and L and A start without waiting
//     for N.
//
// # Events
//
// Kubelet: start or restart a container its rules allow (backoff delays
// are interleavings), run N's startup probe, complete a Job Pod, fail a
// Pod, kill containers during termination. Processes: a twin's handshake
// observes and decides, then acts (claim and exec, record and exit 0,
// record an early start, exit 0, stand by, wait, hand over); a waiting
// twin polls, and a waiting native twin times out; the legacy twin,
// running the sidecar as its child, observes and, told to hand over,
// stops the sidecar (one step: it exits), then records the handover;
// I and (for Job Pods) A exit 0.
// Operations, bounded by Config: the kubelet restarts with the Pod
// running (probe results lost, v1.34 and earlier; a started sidecar's
// result kept, v1.35.4 and later; optionally the bug of
// kubernetes#136910); the kubelet is replaced in place by a newer kind
// (Upgrades: 1.27 to 1.28 with the gate on or off, to 1.29-1.36, to
// 1.37; the gate of 1.28 flipped), which re-admits the Pod, probes again
// and restarts the containers whose hash changed. Faults, bounded by
// Config: a running container crashes (or is killed by a failing
// liveness or startup probe), a twin or N's startup probe cannot read
// the sandbox identity, the sandbox is re-created with a fresh identity
// or with any identity used before (reused namespace inodes), optionally
// with the handshake directory emptied (its content lost), the Pod is
// deleted. Suite lists the explorations of the model check.
//
// # Properties
//
// Checked in every reachable state: never two twins run the sidecar (the
// legacy twin's sidecar counts until it exited); the twin that first ran
// it in a sandbox is the only one that ever does there, except that the
// native twin may follow the legacy twin's handover; once one ran it,
// until termination, one runs it unless the one that acts is recovering
// from a fault or the legacy twin's sidecar exited to hand over (and the
// native twin does not run it yet); the legacy twin claims no sandbox on
// a native kubelet unless its claim is excused (below); on Native and Native128 nodes the
// application never runs unless the native twin acts (except in a
// sandbox that a kubelet started early, whose identity collided, or
// whose legacy claim is excused, below); on native kinds the native twin
// never exits while the legacy twin acts in its sandbox unless its
// confirmation timed out (else the kubelet would restart it in a loop); a
// Pod fails only after a fault.
// Checked from every reachable state, following only non-fault events
// (which, the state space being finite, means they happen under fair
// scheduling): the Pod can leave Init (Strip and native kinds); a twin
// that acts and faulted, or was handed over to, can act again; a Job Pod
// can complete, and a restartPolicy Always Pod can become Ready with one
// twin acting (native kinds, after an in-place upgrade from an old
// kubelet too); a deleted Pod can finish terminating.
//
// A legacy claim is excused when no twin could tell the node from an old
// one: an old kubelet made it (an in-place upgrade came later), or the
// handshake directory was emptied and the native twin's first run in the
// sandbox was over before any startup probe. The legacy twin hands such a
// sandbox over once the kubelet probes the native twin there; until then
// the application may run without the native twin acting
// (docs/universal.md lists what that costs).
package kubesim
