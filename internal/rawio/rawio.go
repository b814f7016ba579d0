// Package rawio does socket reads and writes as raw non-blocking system
// calls (netpoll.Read and netpoll.Write) made without the Go scheduler's
// system-call hand-off: ReadNow and WriteNow through a syscall.RawConn,
// WriteFD on a descriptor, and Conn, a net.Conn whose reads and writes
// still wait for readiness, and honour deadlines, in the runtime's network
// poller. A read or write of a socket in non-blocking mode never sleeps in
// the kernel, so entering the scheduler's syscall state gains nothing and
// costs a lot when messages are small and many: the scheduler monitor
// (sysmon) takes processors from "blocked" goroutines and wakes threads to
// run them. The WebSocket reactor, the detached HTTP streams, the server
// API's fast lane and the load tool's writes go through it.
//
// Concurrency: the functions are safe for concurrent use. Like any
// net.Conn, a Conn allows one Read and one Write at once.
package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Conn is a net.Conn doing raw reads and writes; see the package doc.
type Conn struct {
	net.Conn
	rc syscall.RawConn // nil until the underlying conn exposes its socket
}

// Wrap returns c reading and writing through raw system calls, or c itself
// when it exposes no socket (syscall.Conn). A conn whose SyscallConn fails
// at first (connsplit.Conn while bytes it read ahead are unread) is read
// through c until it succeeds.
func Wrap(c net.Conn) net.Conn {
	if _, ok := c.(syscall.Conn); !ok {
		return c
	}
	return &Conn{Conn: c}
}

// RawConn returns the raw connection of c's socket, or nil when c exposes
// none (it is not a syscall.Conn, or its SyscallConn fails).
func RawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
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

// Read reads like net.Conn.Read.
func (c *Conn) Read(p []byte) (int, error) {
	rc := c.raw()
	if rc == nil || len(p) == 0 {
		return c.Conn.Read(p)
	}
	n, err, cerr := do(rc, p, false, true)
	switch {
	case cerr != nil: // closed, or the deadline passed
		return 0, c.opError("read", cerr)
	case err != nil:
		return 0, c.opError("read", os.NewSyscallError("read", err))
	case n == 0:
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
	n, err, cerr := do(rc, p, true, true)
	switch {
	case cerr != nil:
		return n, c.opError("write", cerr)
	case err != nil:
		return n, c.opError("write", os.NewSyscallError("write", err))
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
