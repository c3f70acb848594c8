//go:build linux && (amd64 || arm64 || arm || ppc64le || ppc64 || riscv64 || mips64 || mips64le || loong64)

package handshake

import (
	"fmt"
	"syscall"
	"unsafe"
)

// soNetnsCookie is SO_NETNS_COOKIE (include/uapi/asm-generic/socket.h),
// Linux 5.14 and later.
const soNetnsCookie = 71

// netnsCookie returns the cookie of the calling process's network
// namespace: a 64-bit number the kernel assigns from a counter when the
// namespace is created and never reuses until reboot, unlike namespace
// inode numbers. It opens an unbound Unix datagram socket (no privileges,
// no network access) and asks for its namespace's cookie.
func netnsCookie() (uint64, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("network namespace cookie: socket: %w", err)
	}
	defer syscall.Close(fd)
	var cookie uint64
	size := uint32(unsafe.Sizeof(cookie))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, soNetnsCookie,
		uintptr(unsafe.Pointer(&cookie)), uintptr(unsafe.Pointer(&size)), 0)
	if errno == syscall.ENOPROTOOPT {
		return 0, fmt.Errorf("%w: getsockopt SO_NETNS_COOKIE: %v (Linux 5.14+)", errNoCookie, errno)
	}
	if errno != 0 {
		return 0, fmt.Errorf("network namespace cookie: getsockopt SO_NETNS_COOKIE: %w", errno)
	}
	if size != uint32(unsafe.Sizeof(cookie)) || cookie == 0 {
		return 0, fmt.Errorf("network namespace cookie: unexpected answer (%d bytes, value %d)", size, cookie)
	}
	return cookie, nil
}
