package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// keyLen is the length of a Sandbox.Key.
const keyLen = 32

// Sandbox identifies the Pod sandbox a twin runs in, as seen from inside a
// container. Markers are scoped to it, so that a sandbox re-creation (the
// kubelet runs every init container again while the emptyDir survives) is
// not mistaken for the kubelet restarting the native twin.
//
// The identity must be the same in every container of one sandbox and in
// every run of a container in it (else a native node would never see its
// own first run, and would loop); it should differ between sandboxes. The
// components are, on Linux:
//
//   - BootID, /proc/sys/kernel/random/boot_id: changes on reboot (and is
//     per VM for VM-isolated runtimes such as Kata);
//
//   - Net, IPC and UTS, the inodes of /proc/self/ns/{net,ipc,uts}: the
//     pause container holds them for the sandbox's lifetime, so they are
//     per sandbox, except that hostNetwork Pods share the node's network
//     and UTS namespaces and hostIPC Pods its IPC namespace;
//
//   - NetCookie, the network namespace's cookie (SO_NETNS_COOKIE, Linux
//     5.14+): the kernel numbers namespaces from a counter and never reuses
//     a cookie before reboot, whereas it does reuse freed inode numbers
//     (the real-node e2e saw every Pod of a run get the same IPC and UTS
//     inodes). With it, two sandboxes of one boot that do not share the
//     node's network always differ.
//
//   - Token, for hostNetwork Pods, whose network namespace (and cookie)
//     is the node's: see the field.
//
// Limits: on kernels without the cookie the kernel may reuse a freed
// namespace inode number for the next sandbox (the Planner refuses Pods
// with both hostNetwork and hostIPC, which share every namespace and the
// shared memory mount with the node). Such a collision
// never makes both twins act (a claim is
// exclusive) and never hangs an old node's Init (a legacy claim proves an
// old node, and the native twin's confirmation times out, see [Decide]);
// it delays the old node's Init by the confirmation timeout at most.
// Runtime files that would tell sandboxes apart (the mount source of
// /etc/hostname holds the sandbox ID under containerd and CRI-O) are not
// used: cri-dockerd gives each hostNetwork container its own, which would
// break the first requirement.
type Sandbox struct {
	// BootID is the kernel's boot id; empty when unreadable.
	BootID string
	// Net, IPC and UTS are namespace inodes; zero when unreadable.
	Net, IPC, UTS Namespace
	// NetCookie is the network namespace's cookie; zero when the kernel
	// has none (before Linux 5.14).
	NetCookie uint64
	// Token is the sandbox token, when the Planner asks for one
	// (hostNetwork Pods): random hex that the first process of the
	// sandbox creates in the sandbox's shared memory mount (/dev/shm),
	// which every container of a sandbox shares and a re-created sandbox
	// gets anew (see docs/universal.md).
	Token string
}

// Namespace identifies a Linux namespace by the device and inode of its
// /proc/self/ns entry.
type Namespace struct {
	Dev, Ino uint64
}

func (n Namespace) String() string {
	if n == (Namespace{}) {
		return "?"
	}
	return strconv.FormatUint(n.Dev, 10) + ":" + strconv.FormatUint(n.Ino, 10)
}

// String describes the sandbox in a stable, readable form, for example
// "boot=2b7c… net=4:4026532281 ipc=4:4026532208 uts=4:4026532207
// netcookie=4097"; "?" marks a component that could not be read, and
// netcookie is left out when there is none (so keys on kernels without
// cookies are what they were before the cookie was added).
func (s Sandbox) String() string {
	boot := s.BootID
	if boot == "" {
		boot = "?"
	}
	str := fmt.Sprintf("boot=%s net=%s ipc=%s uts=%s", boot, s.Net, s.IPC, s.UTS)
	if s.NetCookie != 0 {
		str += " netcookie=" + strconv.FormatUint(s.NetCookie, 10)
	}
	if s.Token != "" {
		str += " token=" + s.Token
	}
	return str
}

// ErrIdentity is wrapped by Identify's errors.
var ErrIdentity = errors.New("universal: cannot establish the sandbox identity")

// Identify returns the key of the sandbox identity sb that a process
// read, or, when reading it failed (err), an error wrapping ErrIdentity.
// A process must not carry on with a partly read identity: its key could
// differ from the one its twin computed, and the twins would then both
// act, or wait for each other forever (docs/universal.md).
func Identify(sb Sandbox, err error) (string, error) {
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	return sb.Key(), nil
}

// Key is the sandbox's key in marker files: the first 32 hex digits of the
// SHA-256 of String. Unreadable components make keys collide, never differ
// within a sandbox.
func (s Sandbox) Key() string {
	sum := sha256.Sum256([]byte(s.String()))
	return hex.EncodeToString(sum[:keyLen/2])
}
