#!/usr/bin/env bash
# Builds the binaries the e2e tests run (kube-apiserver, etcd) from Go modules
# into a cache directory, skipping those already present, and prints their paths.
#
#   ./build.sh                          # kube-apiserver v1.37.2 + etcd v3.6.16
#   ./build.sh --kube-version v1.32.13  # another kube-apiserver (needs a helper module)
#   ./build.sh --print                  # build nothing: print the paths; exit 3 if one is missing
#
# Environment:
#   SIDECARKIT_E2E_CACHE         binary cache (default ~/.cache/sidecarkit-e2e)
#   SIDECARKIT_E2E_KUBE_VERSION  kube-apiserver version (default v1.37.2)
#   SIDECARKIT_E2E_ETCD_VERSION  etcd version (default v3.6.16)
#
# stdout: one NAME=PATH line per binary (KUBE_APISERVER=..., ETCD=...).
# stderr: progress and build times.
# This script is where the binaries' names and paths are decided: anything
# else that runs them (e2e/run.sh, e2e/node/run.sh, the operator's live test
# in examples/operator) asks it, with --print when it must not build.
#
# Each kube-apiserver version is built by the helper module under tools/ whose
# go.mod requires k8s.io/kubernetes at that version (tools/kube-apiserver for
# v1.37.2, tools/kube-apiserver-1.32 for v1.32.13; make more with
# tools/gen-kube-apiserver-mod.sh). Binaries are built to a temporary name and
# renamed, so an interrupted build leaves nothing behind. Never add -trimpath:
# it invalidates the whole Go build cache (a cold ~6 min rebuild).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${SIDECARKIT_E2E_CACHE:-$HOME/.cache/sidecarkit-e2e}
kube_version=${SIDECARKIT_E2E_KUBE_VERSION:-v1.37.2}
etcd_version=${SIDECARKIT_E2E_ETCD_VERSION:-v3.6.16}
print_only=0

while [[ $# -gt 0 ]]; do
	case $1 in
	--kube-version) kube_version=${2:?--kube-version needs a value}; shift 2 ;;
	--kube-version=*) kube_version=${1#*=}; shift ;;
	--print) print_only=1; shift ;;
	-h | --help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

log() { echo "build.sh: $*" >&2; }

tmpdirs=()
cleanup() { [[ ${#tmpdirs[@]} -eq 0 ]] || rm -rf "${tmpdirs[@]}"; }
trap cleanup EXIT

# helper_dir MODULE VERSION: the tools/ helper module requiring MODULE at VERSION.
helper_dir() {
	local mod=$1 ver=$2 d
	for d in "$here"/tools/*/; do
		[[ -f $d/go.mod ]] || continue
		if grep -Eq "^(require)?[[:space:]]*${mod//./\\.} ${ver//./\\.}([[:space:]]|$)" "$d/go.mod"; then
			echo "${d%/}"
			return 0
		fi
	done
	return 1
}

# build NAME VERSION MODULE PACKAGE [LDFLAGS]: sets $built to the binary's path.
build() {
	local name=$1 ver=$2 mod=$3 pkg=$4 ldflags=${5:-}
	local out="$cache/$name-$ver"
	if [[ -x $out ]]; then
		((print_only)) || log "$name $ver: cached at $out"
		built=$out
		return 0
	fi
	if ((print_only)); then
		log "$name $ver: not built (no $out; run e2e/build.sh --kube-version $kube_version)"
		missing=1
		built=$out
		return 0
	fi
	local dir
	if ! dir=$(helper_dir "$mod" "$ver"); then
		log "no helper module under $here/tools requires $mod $ver"
		[[ $mod == k8s.io/kubernetes ]] &&
			log "create one: tools/gen-kube-apiserver-mod.sh $ver GO_VERSION tools/kube-apiserver-X.Y"
		return 1
	fi
	mkdir -p "$cache"
	local tmpdir
	tmpdir=$(mktemp -d "$cache/.build-$name-$ver.XXXXXX")
	tmpdirs+=("$tmpdir")
	local tmp="$tmpdir/$name"
	local hint=
	[[ $name == kube-apiserver ]] && hint=" (cold: ~6-8 min, 2.7 GB RAM; warm Go build cache: seconds)"
	log "$name $ver: building $pkg in ${dir#"$here"/}$hint"
	local start=$SECONDS
	if ! (cd "$dir" && go build -o "$tmp" ${ldflags:+-ldflags "$ldflags"} "$pkg"); then
		log "$name $ver: build failed"
		return 1
	fi
	chmod 0755 "$tmp"
	mv -f "$tmp" "$out"
	rm -rf "$tmpdir"
	log "$name $ver: built in $((SECONDS - start))s -> $out"
	built=$out
}

built= missing=0
build kube-apiserver "$kube_version" k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-apiserver \
	"-X k8s.io/component-base/version.gitVersion=$kube_version"
apiserver=$built
build etcd "$etcd_version" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3
etcd=$built
echo "KUBE_APISERVER=$apiserver"
echo "ETCD=$etcd"
# --print: exit 3 when a binary is missing (its line is printed all the same).
((missing == 0)) || exit 3
