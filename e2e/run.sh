#!/usr/bin/env bash
# Builds the e2e binaries (see build.sh) and runs the e2e tests against a real
# kube-apiserver and etcd.
#
#   ./run.sh                          # kube-apiserver v1.37.2, default feature gates
#   ./run.sh --leg 1.32-gate-off      # v1.32.13 with --feature-gates=SidecarContainers=false
#   ./run.sh --leg all                # both legs, one after the other
#   ./run.sh -- -run TestSmoke ./cluster   # arguments after -- go to `go test`
#
# Options (or environment):
#   --leg NAME       (SIDECARKIT_E2E_LEG)   default | 1.32 | 1.32-gate-off | all
#   --timeout DUR    (SIDECARKIT_E2E_TIMEOUT, default 10m) go test -timeout per leg
#   SIDECARKIT_E2E_CACHE                    binary cache (default ~/.cache/sidecarkit-e2e)
#
# Skips become failures here (SIDECARKIT_E2E_REQUIRE=1): a missing binary must
# not pass silently. The cluster helpers stop every process they start (by PID,
# SIGKILL after a grace period); a test binary killed by -timeout takes its
# children with it (Pdeathsig).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
leg=${SIDECARKIT_E2E_LEG:-default}
timeout=${SIDECARKIT_E2E_TIMEOUT:-10m}
test_args=()

while [[ $# -gt 0 ]]; do
	case $1 in
	--leg) leg=${2:?--leg needs a value}; shift 2 ;;
	--leg=*) leg=${1#*=}; shift ;;
	--timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--) shift; test_args=("$@"); break ;;
	-h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ ${#test_args[@]} -gt 0 ]] || test_args=(./...)

log() { echo "run.sh: $*" >&2; }

# run_leg NAME: build the leg's binaries, then run the tests against them.
run_leg() {
	local name=$1 kube gates
	case $name in
	default | 1.37) kube=v1.37.2 gates= ;;
	1.32) kube=v1.32.13 gates= ;;
	1.32-gate-off) kube=v1.32.13 gates=SidecarContainers=false ;;
	*) log "unknown leg $name (default, 1.32, 1.32-gate-off, all)"; return 2 ;;
	esac
	log "leg $name: kube-apiserver $kube${gates:+, feature gates $gates}"

	local start=$SECONDS out line apiserver= etcd=
	out=$("$here/build.sh" --kube-version "$kube") || { log "leg $name: build failed"; return 1; }
	while IFS= read -r line; do
		case $line in
		KUBE_APISERVER=*) apiserver=${line#*=} ;;
		ETCD=*) etcd=${line#*=} ;;
		esac
	done <<<"$out"
	if [[ -z $apiserver || -z $etcd ]]; then
		log "build.sh printed no binary paths"
		return 1
	fi
	log "leg $name: binaries ready after $((SECONDS - start))s"

	start=$SECONDS
	local rc=0
	(
		cd "$here"
		export SIDECARKIT_E2E=1 SIDECARKIT_E2E_REQUIRE=1
		export SIDECARKIT_E2E_KUBE_VERSION=$kube SIDECARKIT_E2E_FEATURE_GATES=$gates
		export SIDECARKIT_E2E_KUBE_APISERVER=$apiserver SIDECARKIT_E2E_ETCD=$etcd
		go test -count=1 -v -timeout "$timeout" "${test_args[@]}"
	) || rc=$?
	log "leg $name: go test finished in $((SECONDS - start))s (exit $rc)"
	return $rc
}

total=$SECONDS rc=0
if [[ $leg == all ]]; then
	run_leg default || rc=1
	run_leg 1.32-gate-off || rc=1
else
	run_leg "$leg" || rc=$?
fi
log "done in $((SECONDS - total))s (exit $rc)"
exit $rc
