// Package universal injects a sidecar as a native and legacy pair, for
// clusters whose nodes may or may not run native sidecars, and decides at
// run time which of the two twins acts.
//
//   - [Planner] builds the pair from a [sidecar.Spec]; [sidecar.Inject]
//     places it (Options.Mode Universal, or Auto, with Options.Universal).
//   - Package [github.com/sidecarkit/sidecarkit/universal/handshake] is the
//     runner both twins use as their entrypoint wrapper: a sidecar image
//     ships a program that calls its Main.
//   - The handshake's state machine, a pure function of the markers in the
//     shared emptyDir, the twin's role, the Pod's restartPolicy, the
//     sandbox and the phase, is internal (universal/internal/protocol);
//     this documentation and docs/universal.md describe it.
//
// # The pair
//
// From one Spec the Planner makes:
//
//   - the native twin, named like the sidecar: an init container with
//     restartPolicy Always, at the Spec's placement, and a startup probe
//     that passes only once the native twin acts;
//   - the legacy twin, "<name>-legacy": a regular container;
//   - the handshake volume, "<name>-handshake", an emptyDir both mount at
//     [DefaultMountPath] (Planner.MountPath);
//   - in both, the environment SIDECARKIT_HANDSHAKE_ROLE,
//     SIDECARKIT_HANDSHAKE_DIR, SIDECARKIT_POD_RESTART_POLICY (the
//     downward API cannot expose the Pod's restartPolicy) and
//     SIDECARKIT_POD_IP, and the sidecar's command and arguments run under the
//     handshake: "<handshake> --role=… --dir=… -- <command> <args>". A
//     Spec without a command is an error: a webhook cannot read an image's
//     entrypoint.
//
// The native twin keeps the sidecar's name because on nodes with native
// sidecars (every node, eventually) it is the one that acts: kubectl logs
// -c <name>, dashboards keyed by container name and other injectors that
// look for the sidecar by name find the acting copy. On older nodes the
// acting copy is "<name>-legacy".
//
// Probes. The native twin's startup probe is an exec of "handshake probe":
// it records an ack (see below), fails until the native twin acts (without
// a check of the sidecar's own, it waits up to 2 s for the
// twin to act and passes in the same call, a probe period sooner), then
// runs the sidecar's own startup check (httpGet, tcpSocket or exec, run by
// the handshake from inside the container, the host defaulting to the Pod
// IP as with the kubelet). The twins' other probes (the legacy twin's
// startup, liveness and readiness, the native twin's liveness and
// readiness) are wrapped the same way, keeping their timing: they check
// while their twin acts and pass without checking while the other twin
// acts, so that a dormant twin is neither restarted nor makes the Pod
// unready, even with exec checks that would fail there (checks on ports
// would otherwise reach the other twin's sidecar through the shared
// network namespace); while no twin acts yet, liveness passes and startup
// and readiness fail. A native twin is dormant where a native kubelet
// took over a Pod that the legacy twin serves (see the protocol below):
// its startup probe then passes too. gRPC probes cannot be wrapped (use
// an exec check such as grpc_health_probe).
//
// Hooks. A preStop hook runs only in the acting twin: the dormant twin's
// hook would drain the other twin's sidecar through the shared network
// namespace. postStart is refused: it runs before the handshake decides.
//
// Ports. Only the legacy twin declares the ports: the kubelet builds the
// sandbox's hostPort mappings from regular containers only (kuberuntime
// generatePodSandboxConfig), Services resolve named target ports in
// regular containers first, the scheduler would count a hostPort twice,
// and the API server warns about ports declared twice. Traffic reaches
// whichever twin acts, through the shared network namespace.
//
// Resources. Both twins' requests and limits count, on every node: the
// Plan's warning and sidecar.Inject's resource report show by how much.
//
// # Getting the handshake binary into the twins
//
//   - In the sidecar image (Planner.Handshake): the sidecar author ships
//     the handshake in the image (for example sidecarctl, or a small
//     program calling handshake.Main) and names its path. Nothing else
//     runs; the versions of sidecar and handshake move together; but
//     every sidecar image must be rebuilt.
//   - Copied (Planner.Copier): an extra init container, "<name>-install", placed just
//     before the native twin, runs "handshake install" from a small image,
//     which copies the binary into the handshake volume, where the twins
//     run it. Sidecar images stay as they are (their command must still be
//     known), but the copied binary must run in any of them: build it
//     statically (CGO_ENABLED=0) for the nodes' architectures. The costs:
//     one more init container on the Pod's startup path, one more image to
//     pull and trust, an executable in an emptyDir (nodes or policies that
//     mount Pod volumes noexec break it), the binary's size in the
//     volume, and a copier whose security context must satisfy the Pod's
//     security policy (it defaults to the sidecar's).
//
// # The handshake protocol
//
// The website tutorial's third strategy ("Adopting Sidecar Containers") is
// a marker file that the native twin's first run creates before exiting 0
// and its restart (only a native kubelet restarts an init container that
// exited 0) turns into "running". It has holes: the kubelet may start the
// legacy twin before the restart (both act); the emptyDir survives a
// sandbox re-creation, after which an old kubelet runs the init containers
// again and the native twin, finding the marker, runs the sidecar as an
// init container forever (the Pod hangs in Init); and the legacy twin of
// a Job Pod must not stand by. The protocol here closes them:
//
//   - Markers are scoped to the sandbox (its identity: boot id, the
//     network, IPC and UTS namespace inodes and the network namespace's
//     never-reused cookie; for hostNetwork Pods, whose network namespace
//     is the node's, also a random token that the first process of the
//     sandbox creates in its own /dev/shm), so a re-created sandbox starts
//     afresh. A twin that cannot read the whole identity decides nothing:
//     two keys in one sandbox could make both twins act, or each wait
//     for the other. After three attempts its run exits 3, with the reason
//     in the container's termination message (the kubelet restarts it, or,
//     under restartPolicy Never, the Pod fails, with the reason in its
//     status); its probe or hook fails. A kernel without namespace cookies
//     (before Linux 5.14) is no failure: the identity rests on the inodes.
//   - A claim, created exclusively once per sandbox (a hard link, which
//     fails if the name exists), names the twin that acts: never two.
//   - A restarted native twin acts only once the kubelet's startup probe
//     acknowledged it. Kubelets that strip restartPolicy never probe init
//     containers, so an ack proves a native node; without one, after the
//     confirmation timeout, the twin exits 0 and Init proceeds. This
//     covers sandbox identities that collide (reused namespace inodes on
//     kernels without cookies) and an old kubelet restarting a twin that
//     crashed after recording its run.
//   - The startup probe fails until a twin acts, so a native kubelet
//     starts no later container (and no application) before the native
//     twin acts.
//   - A legacy twin started before the native twin's first run in its
//     sandbox was recorded records an early marker: only a native kubelet
//     starts a regular container before the init containers completed
//     (1.28 counts a regular container's status of an earlier sandbox,
//     1.29 to 1.36 an ordinary init container's, kubernetes#138514). An
//     early marker, like an ack, of any sandbox of the Pod proves a native
//     node: the legacy twin then waits for the native twin instead of
//     acting (a legacy twin acting there would keep a Job Pod running
//     forever), and a native twin's first run skips the exit-0 run.
//   - A native twin that finds the legacy twin acting in its sandbox does
//     not act. Without a probe it exits 0 after the confirmation timeout
//     (an old kubelet, a re-created sandbox with the same identity). Once
//     the kubelet probed it there (an ack of this sandbox), a native
//     kubelet took over a Pod the legacy twin serves (an in-place upgrade
//     from a kubelet without native sidecars, a 1.28 kubelet's early start
//     in a sandbox whose handshake directory was emptied): its probes
//     pass, and it waits, without a deadline (the kubelet would restart a
//     twin that exits), for the legacy twin's handover.
//   - The handover. The legacy twin runs the sidecar as its child process
//     (not exec'd: it must be able to stop it) and looks at the directory
//     every poll interval. When the sandbox it acts in has an ack, it
//     sends the sidecar SIGTERM (SIGKILL after --handover-grace, 30 s by
//     default, and SIGKILL to the sidecar's process group in the end),
//     and once the sidecar has exited records the handover (created
//     exclusively); from then on the sandbox is the native twin's, which
//     acts within a poll interval. The legacy twin then exits 0 under
//     restartPolicy OnFailure or Never (the Job completes) and stands by
//     under Always. A legacy twin restarted after the ack hands over at
//     once. No twin serves between the sidecar's exit and the native
//     twin's start (the node e2e measured it, docs/universal.md); two
//     never do.
//   - The legacy twin of a Pod with restartPolicy OnFailure or Never exits
//     0 when the native twin acts, so that the Job completes; under Always
//     it stands by until SIGTERM (an exit would be restarted with backoff).
//
// Files of the handshake directory, each written by one kind of writer as
// a temporary file renamed (or, for claims, hard-linked) into place:
//
//	native               "sidecarkit-handshake/1 native seen <key>"    the native twin's first run
//	ack                  "sidecarkit-handshake/1 ack probed <key>"     the native twin's startup probe
//	early                "sidecarkit-handshake/1 early started <key>"  the legacy twin, started early
//	claim-<key>          "sidecarkit-handshake/1 claim native|legacy <key>"   the twin that acts
//	handover-<key>       "sidecarkit-handshake/1 handover native <key>"       the legacy twin, handing over
//
// where <key> is the sandbox's identity. Content that is not a marker reads as no
// marker, except in a claim file, where it reads as a legacy claim (so
// that both twins agree, on the twin that needs no kubelet support), and
// in a handover file, which reads as a handover (its exclusive creation
// is the commit; both twins agree on it). The twin that acts is the
// claim's, the native twin once a legacy claim was handed over.
//
// The state machine (Phase is Starting when a run begins,
// Confirming while it waits, TimedOut after the confirmation timeout):
//
//	native: legacy acts, ack in this sandbox .... Confirm (no deadline: awaits the handover)
//	        legacy acts, TimedOut ............... Exit0Now
//	        legacy acts ......................... Confirm
//	        native acts (claim or handover) ..... Run
//	        ack in this sandbox ................. Run, claiming
//	        Starting, seen in this sandbox ...... Confirm
//	        Starting, an ack or early marker .... Confirm
//	        Starting ............................ RecordAndExit0
//	        Confirming .......................... Confirm
//	        TimedOut ............................ Exit0Now
//	legacy: native acts (claim or handover) ..... StandBy (Always), Exit0Now (OnFailure, Never)
//	        legacy acts, ack in this sandbox .... HandOver (stop the sidecar, record, decide again)
//	        legacy acts ......................... Run (as a child, watching for HandOver)
//	        an ack or early marker .............. Confirm (no deadline)
//	        not seen in this sandbox ............ RecordEarlyAndWait (then observe again)
//	        otherwise ........................... Run, claiming
//
// A lost claim (the other twin claimed between decision and claim) means
// observe and decide again. The native twin's Run is an exec, so the
// sidecar keeps the container's PID and gets the kubelet's signals. The
// legacy twin's Run starts the sidecar as a child in its own process
// group, passes on SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2,
// ends with the sidecar's exit status (128 plus the signal's number when
// a signal killed it), reaps orphans as PID 1, and has the kernel kill the
// sidecar should the twin itself die (Linux's parent death signal); it
// costs one small process beside the sidecar.
//
// # Proof
//
// TestSimulation explores, with the model of universal/internal/kubesim
// and the production state machine and marker code, every interleaving
// of kubelet actions, handshake steps, faults (crashes, probe kills,
// failures to read the sandbox identity), sandbox re-creations (with
// fresh or reused identities, some emptying the handshake directory),
// kubelet restarts with the Pod running, in-place kubelet upgrades and
// Pod deletion on every node kind (≤1.27 stripping, 1.28 with the gate
// on, 1.28–1.32 with the gate off, 1.29–1.36, ≥1.37), with the legacy
// twin's handover, for restartPolicy
// Always, OnFailure and Never, with and without another init container,
// up to -protocol.depth d (kubesim.Suite): at most d faults and d+1
// re-creations; or one kubelet restart, one lost directory or one
// in-place upgrade with at most d-1 faults. Depth 1, the default, is
// about 6 million states in half a minute; 0, under -short, about 0.6
// million in two seconds; 2, the deep check, about 116 million states
// in 6 to 15 minutes and 8 GB (docs/universal.md has the counts):
//
//	go test -v -run TestSimulation ./universal/internal/protocol
//	go test -v -run TestSimulation ./universal/internal/protocol -protocol.depth=2 -timeout=2h
//
// (a flag of the test binary follows the package; TestDocumentedCommands
// checks these commands against the test binary). The check is bounded:
// it is a proof for runs within the bound, not for every run.
//
// TestCheckerCatches in kubesim shows that the tutorial's protocol, and
// ours with any one rule removed, fail there; TestKnownLimits, that the
// limits below are real.
//
// # Limits
//
//   - Nodes whose kubelet rejects native sidecars (1.28 to 1.32 with the
//     SidecarContainers gate off) fail the Pod at admission; the pair does
//     not help there (pin the Pod, or inject a legacy sidecar).
//   - On nodes without native sidecars the legacy twin is an ordinary
//     sidecar container: a Job Pod runs until the sidecar exits by itself,
//     and termination is unordered.
//   - A sandbox re-creation whose identity collides with the previous one,
//     on an old node, delays Init by the confirmation timeout.
//   - A kubelet upgraded in place under a running Pod (old to native)
//     restarts and probes the native twin, and the legacy twin hands
//     over: the sidecar stops and starts again (no twin serves for the
//     sidecar's shutdown plus up to a poll interval; the node e2e
//     measured it, docs/universal.md), and the legacy twin's probes
//     check its stopping sidecar until the handover is recorded. Likewise
//     where a 1.28 kubelet (or 1.29 to 1.36, with an init container after
//     the sidecar) re-creates a sandbox with the handshake directory
//     emptied and starts the legacy twin after the native twin's first
//     run but before its probe: the legacy twin acts until the probe,
//     then hands over (and the application may have started before the
//     native twin acted). A legacy twin that crashes while handing over,
//     under restartPolicy Never, is not restarted: no twin acts, and the
//     Pod fails (as after any crash of the acting legacy twin there). A
//     sidecar process that leaves its process group (setsid) escapes the
//     handover's SIGKILL. A kubelet downgraded in place (native to old)
//     leaves, after a re-creation, a legacy twin waiting for a native
//     twin that will not act.
//   - Under restartPolicy Never a crash of the dormant legacy twin, a
//     regular container, fails the Pod, although the native twin serves
//     it.
//   - A kubelet restart with the bug of kubernetes#136910 (some 1.35
//     releases: a started sidecar is neither seeded nor probed again)
//     leaves the native twin unstarted: the Pod is not Ready until the
//     twin restarts.
//   - A Pod with hostNetwork and hostIPC shares every namespace and
//     /dev/shm with the node: the Planner refuses it, and a hostNetwork
//     Pod whose sidecar mounts a volume over /dev/shm.
//   - A crash of the acting twin is a sidecar outage until the kubelet
//     restarts it, as with any sidecar; under restartPolicy Never an old
//     node does not restart a crashed legacy twin.
//   - Markers are not fsynced; after a power loss the boot id changes and
//     they are stale anyway.
package universal
