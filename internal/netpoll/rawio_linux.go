//go:build linux

package netpoll

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Write writes b to the non-blocking descriptor fd with one sendto(2) (a
// write(2) when fd is not a socket), like syscall.Write, but without telling
// the Go scheduler that the goroutine entered a system call. sendto goes
// straight to the socket layer; write(2) first passes through the VFS
// (vfs_write, the file position lock, fsnotify), which on a fan-out to a
// thousand sockets cost 6–10% of the server's CPU per delivered message. A write to a non-blocking socket never sleeps, so
// the scheduler gains nothing from the hand-off except its cost: on a fan-out
// of one message to thousands of sockets, entersyscall/exitsyscall and the
// processors that sysmon retakes from "blocked" writers cost more than the
// writes. Only for descriptors in non-blocking mode.
func Write(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e == syscall.ENOTSOCK {
		n, _, e = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Read reads into b from the non-blocking descriptor fd with one
// recvfrom(2) (a read(2) when fd is not a socket), like syscall.Read but
// without the scheduler hand-off and the VFS layer (see Write).
func Read(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e == syscall.ENOTSOCK {
		n, _, e = syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	}
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// epollWait polls epfd without waiting (timeout 0), without the scheduler
// hand-off (see Write): the poller goroutine waits for the epoll descriptor
// in the runtime poller, never in the system call.
func epollWait(epfd int, events []unix.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// epollCtl is epoll_ctl(2) without the scheduler hand-off (see Write); it
// never sleeps.
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
