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
# not pass silently. What remains are skips of tests that do not apply to a
# leg's API server (TestGateOff on v1.37.2, the v1.37 fields on v1.32.13):
# each leg lists its skipped tests, and with --leg all a test skipped on
# every leg fails the run. Two tests that have runners of their own are left
# out (-skip): the real-kubelet tests of ./node (node/run.sh runs them) and the
# hostile-load test of ./hostile (.ci/run runs it once, with
# SIDECARKIT_HOSTILE=1). The cluster helpers stop every process they
# start (by PID, SIGKILL after a grace period); a test binary killed by
# -timeout takes its children with it (Pdeathsig).
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
	-h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ ${#test_args[@]} -gt 0 ]] || test_args=(-skip '^(TestUniversalPairOnRealKubelets|TestInPlaceSidecarUpgrade|TestKubeletLifecycle|TestHostNetworkPair|TestHostile)$' ./...)

log() { echo "run.sh: $*" >&2; }

# Each leg's `go test -v` output is kept in $logs to find its skipped tests.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# results LOG prints "PACKAGE TEST RESULT" for every test and subtest in a
# `go test -v` log: go test prints each package's output in one piece,
# ending with its "ok" or "FAIL" line.
results() {
	awk '
		match($0, /^ *--- (PASS|FAIL|SKIP): [^ ]+/) {
			split(substr($0, RSTART, RLENGTH), f, " ")
			found[++n] = f[3] " " substr(f[2], 1, 4)
		}
		/^(ok|FAIL) *\t/ {
			for (i = 1; i <= n; i++) print $2, found[i]
			n = 0
		}' "$1"
}

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
		go test -count=1 -v -timeout "$timeout" "${test_args[@]}" 2>&1 | tee "$logs/$name.log"
	) || rc=$?
	log "leg $name: go test finished in $((SECONDS - start))s (exit $rc)"
	results "$logs/$name.log" >"$logs/$name.results"
	local skipped
	skipped=$(awk '$3 == "SKIP" { print "  " $1 " " $2 }' "$logs/$name.results")
	[[ -z $skipped ]] || log "leg $name: skipped (tests for another leg):"$'\n'"$skipped"
	return $rc
}

total=$SECONDS rc=0
if [[ $leg == all ]]; then
	run_leg default || rc=1
	run_leg 1.32-gate-off || rc=1
	# A test skipped on one leg must have passed on the other.
	unrun=$(cat "$logs"/*.results | awk '
		$3 == "SKIP" { skip[$1 " " $2] = 1 }
		$3 == "PASS" { pass[$1 " " $2] = 1 }
		END { for (t in skip) if (!(t in pass)) print "  " t }' | sort)
	if [[ -n $unrun ]]; then
		log "skipped on every leg, so never run:"$'\n'"$unrun"
		rc=1
	fi
else
	run_leg "$leg" || rc=$?
fi
log "done in $((SECONDS - total))s (exit $rc)"
exit $rc
