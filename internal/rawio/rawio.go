// Package rawio wraps a net.Conn so that its reads and writes are
// non-blocking system calls made without the Go scheduler's system-call
// hand-off (netpoll.Read and netpoll.Write, raw syscalls), still waiting
// for readiness, and honouring deadlines, through the runtime's network
// poller. A read or write of a socket in non-blocking mode never sleeps in
// the kernel, so entering the scheduler's syscall state gains nothing and
// costs a lot when requests are small and many: the scheduler monitor
// (sysmon) takes processors from "blocked" goroutines and wakes threads to
// run them. The fast lane of the server API serves its connections through
// it.
//
// Concurrency: like any net.Conn, one Read and one Write may run at once;
// Read calls must not overlap each other, nor Write calls each other.
package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/heraldrt/herald/internal/netpoll"
)

// Conn is a net.Conn doing raw reads and writes; see the package doc.
type Conn struct {
	net.Conn
	rc syscall.RawConn // nil until the underlying conn exposes its socket

	// Per-direction state of the call in progress, so that the callbacks
	// are bound once and a call allocates nothing.
	rbuf   []byte
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	wbuf    []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool
}

// Wrap returns c reading and writing through raw system calls, or c itself
// when it exposes no socket (syscall.Conn). A conn whose SyscallConn fails
// at first (connsplit.Conn while bytes it read ahead are unread) is read
// through c until it succeeds.
func Wrap(c net.Conn) net.Conn {
	if _, ok := c.(syscall.Conn); !ok {
		return c
	}
	rc := &Conn{Conn: c}
	rc.readFn, rc.writeFn = rc.read, rc.write
	return rc
}

// raw returns the raw connection once the underlying conn provides it.
func (c *Conn) raw() syscall.RawConn {
	if c.rc == nil {
		if rc, err := c.Conn.(syscall.Conn).SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	return c.rc
}

func (c *Conn) read(fd uintptr) bool {
	for {
		c.rn, c.rerr = netpoll.Read(int(fd), c.rbuf) //nolint:gosec // fd fits in int
		switch {
		case errors.Is(c.rerr, syscall.EINTR):
			continue
		case errors.Is(c.rerr, syscall.EAGAIN):
			return false // wait for readability in the runtime poller
		}
		return true
	}
}

func (c *Conn) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, err := netpoll.Write(int(fd), c.wbuf[c.wn:]) //nolint:gosec // fd fits in int
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return false // wait for writability
		case err != nil:
			c.werr = err
			return true
		}
		c.wn += n
	}
	return true
}

// Read reads like net.Conn.Read.
func (c *Conn) Read(p []byte) (int, error) {
	rc := c.raw()
	if rc == nil || len(p) == 0 {
		return c.Conn.Read(p)
	}
	c.rbuf, c.rn, c.rerr = p, 0, nil
	err := rc.Read(c.readFn)
	n, rerr := c.rn, c.rerr
	c.rbuf, c.rerr = nil, nil
	switch {
	case err != nil: // closed, or the deadline passed
		return 0, c.opError("read", err)
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("read", rerr))
	case n <= 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes like net.Conn.Write: all of p, or an error.
func (c *Conn) Write(p []byte) (int, error) {
	rc := c.raw()
	if rc == nil || len(p) == 0 {
		return c.Conn.Write(p)
	}
	c.wbuf, c.wn, c.werr = p, 0, nil
	err := rc.Write(c.writeFn)
	n, werr := c.wn, c.werr
	c.wbuf, c.werr = nil, nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case werr != nil:
		return n, c.opError("write", os.NewSyscallError("write", werr))
	}
	return n, nil
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// Listener wraps every accepted connection with Wrap.
type Listener struct{ net.Listener }

// Accept accepts a connection and wraps it.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
