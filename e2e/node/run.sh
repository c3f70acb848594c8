#!/usr/bin/env bash
# Runs the node e2e tests: real kubelets (with containerd and runc) registered
# to the e2e kube-apiserver, running the universal pair. See README.md.
#
#   ./node/run.sh                      # from e2e/: every kubelet of KUBELETS below
#   ./node/run.sh -- -run 'X/native'   # arguments after -- go to `go test`
#
# Environment:
#   SIDECARKIT_E2E_NODE_KUBELETS_BUILD  versions to build/run (default "v1.37.2 v1.27.16";
#                                       add v1.28.15 for the gate-off node)
#   SIDECARKIT_E2E_NODE_ROUNDS          latency rounds per mode (default 3)
#   SIDECARKIT_E2E_NODE_INSTALL=0       do not apt-get install missing packages
#   SIDECARKIT_E2E_CACHE                binary cache (default ~/.cache/sidecarkit-e2e)
#
# It needs root, a cgroup v1 hierarchy (memory at least) and Debian's
# containerd, runc and containernetworking-plugins (installed when missing).
# Where the machine lacks something it prints why and exits 0 (skipped), or
# 1 with SIDECARKIT_E2E_NODE_REQUIRE=1 (CI); failures of the tests themselves
# exit non-zero. Only the kinds of node whose kubelet it built are run (the
# default leaves out the two v1.28.15 kinds).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
e2e=$(dirname "$here")
cache=${SIDECARKIT_E2E_CACHE:-$HOME/.cache/sidecarkit-e2e}
versions=${SIDECARKIT_E2E_NODE_KUBELETS_BUILD:-v1.37.2 v1.27.16}
test_args=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--) shift; test_args=("$@"); break ;;
	-h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "node/run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

log() { echo "node/run.sh: $*" >&2; }
skip() {
	if [[ ${SIDECARKIT_E2E_NODE_REQUIRE:-0} == 1 ]]; then
		log "FAIL (SIDECARKIT_E2E_NODE_REQUIRE=1): $*"
		exit 1
	fi
	log "SKIP: $*"
	exit 0
}

if [[ ${#test_args[@]} -eq 0 ]]; then
	# The kinds of node (subtests named KIND-VERSION) whose kubelet is built.
	kinds=
	for v in $versions; do kinds+=${kinds:+|}${v//./\\.}; done
	# Subtests are KIND-VERSION, or SCENARIO-KIND-VERSION-to-VERSION
	# (TestKubeletLifecycle): every version named must be built.
	test_args=(-run "^(TestUniversalPairOnRealKubelets|TestInPlaceSidecarUpgrade|TestKubeletLifecycle|TestHostNetworkPair)\$/^[a-z-]+-(${kinds})(-to-(${kinds}))?\$" ./node)
	log "running the node kinds of kubelets $versions"
fi

# Prerequisites the machine must have.
[[ $(id -u) == 0 ]] || skip "not root: a kubelet, containerd and runc need root"
grep -qE '^cgroup [^ ]+ cgroup .*memory' /proc/self/mounts ||
	skip "no cgroup v1 memory hierarchy mounted (this harness configures kubelets for cgroup v1)"
need=()
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
if [[ ${#need[@]} -gt 0 ]]; then
	[[ ${SIDECARKIT_E2E_NODE_INSTALL:-1} == 1 ]] || skip "missing Debian packages: ${need[*]}"
	log "installing ${need[*]}"
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >&2; then
		skip "cannot install ${need[*]}"
	fi
fi

start=$SECONDS
# kube-apiserver and etcd, as for the other e2e tests.
out=$("$e2e/build.sh") || { log "build.sh failed"; exit 1; }
while IFS= read -r line; do
	case $line in
	KUBE_APISERVER=*) export SIDECARKIT_E2E_KUBE_APISERVER=${line#*=} ;;
	ETCD=*) export SIDECARKIT_E2E_ETCD=${line#*=} ;;
	esac
done <<<"$out"

# Kubelets, each from the helper module tools/kubelet-1.MINOR.
mkdir -p "$cache/node"
kubelets=
for v in $versions; do
	bin=$cache/node/kubelet-$v
	if [[ ! -x $bin ]]; then
		minor=${v#v1.}; minor=${minor%%.*}
		dir=$here/tools/kubelet-1.$minor
		[[ -f $dir/go.mod ]] || { log "no helper module $dir (tools/gen-kubelet-mod.sh $v GO_VERSION $dir)"; exit 1; }
		log "kubelet $v: building (cold: ~5-10 min)"
		t=$SECONDS
		# providerless: leave out the in-tree cloud providers (up to 1.30);
		# newer kubelets build without tags, sharing kube-apiserver's build cache.
		tags=
		((minor > 30)) || tags=providerless
		(cd "$dir" && nice -n 5 go build ${tags:+-tags "$tags"} -o "$bin.tmp" \
			-ldflags "-X k8s.io/component-base/version.gitVersion=$v" k8s.io/kubernetes/cmd/kubelet)
		mv -f "$bin.tmp" "$bin"
		log "kubelet $v: built in $((SECONDS - t))s"
	fi
	kubelets+=${kubelets:+,}$v=$bin
done

# Images: static binaries packed by tools/images/cmd/mkimage.
img=$cache/node/images
mkdir -p "$img/bin"
(cd "$here/tools/images" && CGO_ENABLED=0 go build -o "$img/bin/" ./cmd/pause ./cmd/nodetest ./cmd/mkimage)
(cd "$e2e/../examples" && CGO_ENABLED=0 go build -o "$img/bin/sidecarctl" ./sidecarctl)
"$img/bin/mkimage" -o "$img/pause.tar" -ref sidecarkit.test/pause:1 -entrypoint /pause "$img/bin/pause=/pause"
"$img/bin/mkimage" -o "$img/nodetest.tar" -ref sidecarkit.test/nodetest:1 -entrypoint /nodetest \
	"$img/bin/nodetest=/nodetest" "$img/bin/sidecarctl=/usr/local/bin/sidecarctl"
log "binaries and images ready after $((SECONDS - start))s"

export SIDECARKIT_E2E=1 SIDECARKIT_E2E_REQUIRE=1
export SIDECARKIT_E2E_NODE=1 SIDECARKIT_E2E_NODE_REQUIRE=1
export SIDECARKIT_E2E_NODE_IMAGES=$img SIDECARKIT_E2E_NODE_KUBELETS=$kubelets
export SIDECARKIT_E2E_NODE_LOGS=${SIDECARKIT_E2E_NODE_LOGS:-$cache/node/logs}
start=$SECONDS
rc=0
(cd "$e2e" && go test -count=1 -v -timeout "${SIDECARKIT_E2E_NODE_TIMEOUT:-20m}" "${test_args[@]}") || rc=$?
log "go test finished in $((SECONDS - start))s (exit $rc)"
exit $rc
