//go:build !(linux && (amd64 || arm64 || arm || ppc64le || ppc64 || riscv64 || mips64 || mips64le || loong64))

package handshake

// netnsCookie is unavailable here: SO_NETNS_COOKIE is Linux's, and this
// build has no direct getsockopt system call for it.
func netnsCookie() (uint64, error) { return 0, errNoCookie }
