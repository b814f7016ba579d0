//go:build linux

package bench

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/rawio"
)

// rawSocket is a connected socket taken out of the Go runtime's network
// poller: the reactor alone watches it. Left in both, every arriving
// message would be reported to two epoll instances, and the sender (on
// loopback, the server being measured) would pay for both wakeups.
type rawSocket struct {
	fd int
}

// detach moves the socket of tc out of the runtime poller: it duplicates the
// descriptor, then closes tc (which unregisters and closes the original;
// the socket lives on in the duplicate, still non-blocking).
func detach(tc *net.TCPConn) (*rawSocket, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, os.NewSyscallError("fcntl", derr)
	}
	_ = tc.Close()
	return &rawSocket{fd: nfd}, nil
}

// Write writes all of b, waiting for room until the deadline.
func (s *rawSocket) Write(b []byte, deadline time.Time) error {
	for {
		n, err := rawio.WriteFD(s.fd, b)
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		if b = b[n:]; len(b) == 0 {
			return nil
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return os.ErrDeadlineExceeded
		}
		pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}} //nolint:gosec // fd fits in int32
		_, _ = unix.Poll(pfd, int(wait.Milliseconds())+1)
	}
}

// Read reads what has arrived into b, without waiting: n is 0 with a nil
// error at end of stream, err syscall.EAGAIN when nothing has arrived.
func (s *rawSocket) Read(b []byte) (int, error) {
	for {
		n, err := netpoll.Read(s.fd, b)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		return max(n, 0), err
	}
}

// Close closes the socket.
func (s *rawSocket) Close() error { return unix.Close(s.fd) }

// rawConn returns the socket as a syscall.RawConn for the reactor.
func (s *rawSocket) rawConn() syscall.RawConn { return rawFD(s.fd) }

// rawFD is a descriptor as a syscall.RawConn: each method calls f once.
type rawFD int

func (fd rawFD) Control(f func(uintptr)) error { f(uintptr(fd)); return nil }

func (fd rawFD) Read(f func(uintptr) bool) error { f(uintptr(fd)); return nil }

func (fd rawFD) Write(f func(uintptr) bool) error { f(uintptr(fd)); return nil }
