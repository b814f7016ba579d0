//go:build linux

package rawtcp

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Listener accepts Conns from a TCP listener; see the package doc.
type Listener struct {
	ln *net.TCPListener
	// f is a duplicate of ln's descriptor registered in the runtime poller,
	// whose raw connection can wait for readiness (a listener's cannot).
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
	acc    acceptor
}

// NewListener returns a Listener accepting from ln, or ln itself when it is
// not a *net.TCPListener exposing its socket. Accepted sockets get
// TCP_NODELAY, as from Go's net package: the option is set once on the
// listening socket, from which Linux copies it (with TCP keep-alive, see
// internal/app) to every accepted socket.
func NewListener(ln net.Listener) net.Listener {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return ln
	}
	f, err := tl.File()
	if err != nil {
		return ln
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return ln
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		s := int(fd) //nolint:gosec // fd fits in int
		if serr = unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); serr == nil {
			serr = unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, deferAccept)
		}
	}); err != nil || serr != nil {
		_ = f.Close()
		return ln
	}
	l := &Listener{ln: tl, f: f, rc: rc}
	l.acc.fn = l.acc.accept
	return l
}

// Accept waits for the next connection, in the runtime poller, and accepts
// it with a raw accept4. Errors are *net.OpError, as from net: wrapping
// net.ErrClosed after Close, temporary ones (EMFILE, ENFILE, ENOBUFS) worth
// retrying.
func (l *Listener) Accept() (net.Conn, error) {
	a := &l.acc
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = nil
	err := l.rc.Read(a.fn)
	switch {
	case err != nil && l.closed.Load():
		err = net.ErrClosed
	case err == nil && a.err != nil:
		err = os.NewSyscallError("accept4", a.err)
	}
	if err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.ln.Addr(), Err: err}
	}
	return &Conn{fd: a.fd, raddr: rawToAddrPort(&a.sa), ln: l.ln.Addr()}, nil
}

// acceptor holds the state of an Accept in progress, kept by the Listener
// so that accepting allocates nothing but the Conn; mu serialises Accept
// calls.
type acceptor struct {
	mu  sync.Mutex
	fn  func(uintptr) bool // accept, made once by NewListener for the raw connection's Read
	fd  int
	sa  unix.RawSockaddrAny
	err error
}

// accept accepts one connection from the listening socket lfd into a, or
// asks to wait for one.
func (a *acceptor) accept(lfd uintptr) bool {
	for {
		salen := uint32(unix.SizeofSockaddrAny)
		r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, lfd, uintptr(unsafe.Pointer(&a.sa)), uintptr(unsafe.Pointer(&salen)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
			a.fd = int(r) //nolint:gosec // a descriptor fits in int
			return true
		case syscall.EINTR, syscall.ECONNABORTED:
			continue // a connection reset before it was accepted: take the next
		case syscall.EAGAIN:
			return false // wait for the next one
		default:
			a.err = e
			return true
		}
	}
}

// Close closes the listener; Accept returns an error wrapping
// net.ErrClosed.
func (l *Listener) Close() error {
	l.closed.Store(true)
	_ = l.f.Close() // wakes a waiting Accept
	return l.ln.Close()
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// localAddr returns the local address of socket fd (getsockname, raw),
// or nil.
func localAddr(fd int) net.Addr {
	var sa unix.RawSockaddrAny
	salen := uint32(unix.SizeofSockaddrAny)
	if _, _, e := syscall.RawSyscall(syscall.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen))); e != 0 { //nolint:gosec // fd is a descriptor
		return nil
	}
	return net.TCPAddrFromAddrPort(rawToAddrPort(&sa))
}

// rawToAddrPort converts a socket address the kernel wrote (accept4,
// getsockname); an IPv4-mapped IPv6 address is given as IPv4, as net
// prints it.
func rawToAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), port(a.Port))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		ip := netip.AddrFrom16(a.Addr)
		if ip.Is4In6() {
			ip = ip.Unmap()
		} else if z := zoneName(a.Scope_id); z != "" {
			ip = ip.WithZone(z)
		}
		return netip.AddrPortFrom(ip, port(a.Port))
	}
	return netip.AddrPort{}
}

func zoneName(id uint32) string {
	if id == 0 {
		return ""
	}
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		return ifi.Name
	}
	return ""
}

// port converts a port in network byte order, as the kernel stores it.
func port(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// closeFD closes fd raw: closing a socket without SO_LINGER never sleeps.
func closeFD(fd int) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 { //nolint:gosec // fd is a descriptor
		return e
	}
	return nil
}

// deferAccept is the TCP_DEFER_ACCEPT of the listening socket, in seconds:
// the kernel completes a connection's accept once its first bytes arrived,
// so that the first read finds the request (a connection whose first read
// would wait costs a runtime poller registration, see the package doc).
// A client that sends nothing is accepted all the same, this long after
// connecting (when it answers the handshake's retransmission).
const deferAccept = 1
