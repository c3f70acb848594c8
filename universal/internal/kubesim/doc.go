// Package kubesim is a deterministic model of how kubelets of each kind
// start, restart, probe and stop the universal pair, used to explore every
// interleaving of kubelet actions, handshake steps and faults up to a bound
// and check that exactly one twin acts.
//
// The twins run the production handshake logic of package universal
// (Next, Claim, RecordSeen, Probe and with them Observe, Decide and the
// marker format) against an in-memory handshake directory that, like an
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
//     startup; termination is unordered.
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
//     as Native, except that after a sandbox re-creation the Pod counts
//     as initialized because a regular container ran in an earlier
//     sandbox, so I is skipped and L and A start without waiting for N.
//
// # Events
//
// Kubelet: start or restart a container its rules allow (backoff delays
// are interleavings), run N's startup probe, complete a Job Pod, fail a
// Pod, kill containers during termination. Processes: a twin's handshake
// observes and decides, then acts (claim and exec, record and exit 0,
// exit 0, stand by, wait); a waiting native twin polls or times out; I and
// (for Job Pods) A exit 0. Faults, bounded by Config: a running container
// crashes (or is killed by a failing liveness or startup probe), the
// sandbox is re-created with a fresh identity or with any identity used
// before (hostNetwork and hostIPC Pods, reused namespace inodes), the Pod
// is deleted.
//
// # Properties
//
// Checked in every reachable state: never two twins run the sidecar; the
// twin that first ran it in a sandbox is the only one that ever does
// there; once one ran it, until termination, one runs it unless the one
// that acts is recovering from a fault; on native kinds (but
// NativeStaleInit) the application never runs unless the native twin
// acts; a Pod fails only after a fault. Checked from every reachable
// state, following only non-fault events (which, the state space being
// finite, means they happen under fair scheduling): the Pod can leave Init
// (Strip and native kinds); a twin that acts and faulted can act again; a
// Job Pod can complete (native kinds); a deleted Pod can finish
// terminating.
package kubesim
