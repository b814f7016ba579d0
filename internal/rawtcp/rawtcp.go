//go:build linux

package rawtcp

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heraldrt/herald/internal/netpoll"
)

// Conn is a TCP connection accepted by a Listener; see the package doc.
type Conn struct {
	fd int
	// state counts the raw operations using fd (in steps of 2); bit 0 is
	// set by Close. The descriptor is closed by whoever leaves it at
	// exactly 1 (closed, no user).
	state atomic.Int64
	// file owns fd once an operation had to wait; see the package doc.
	file atomic.Pointer[os.File]
	// rdl and wdl are the deadlines (Unix nanoseconds, 0 for none) set
	// while file is nil; mu serialises their changes with the hand-over.
	rdl, wdl atomic.Int64
	mu       sync.Mutex

	raddr     netip.AddrPort // the peer's address, as net.Addr on demand
	laddr     net.Addr       // nil until LocalAddr first asks the kernel
	laddrOnce sync.Once
	ln        net.Addr // the listener's address: LocalAddr's fallback, errors' Source
}

var (
	_ net.Conn                        = (*Conn)(nil)
	_ syscall.Conn                    = (*Conn)(nil)
	_ interface{ CloseWrite() error } = (*Conn)(nil)
)

// acquire registers a raw user of fd; false once the Conn is closed.
func (c *Conn) acquire() bool {
	for {
		s := c.state.Load()
		if s&1 != 0 {
			return false
		}
		if c.state.CompareAndSwap(s, s+2) {
			return true
		}
	}
}

// release ends a raw use of fd, closing it when it was the last one after
// Close.
func (c *Conn) release() {
	if c.state.Add(-2) == 1 {
		_ = c.closeFD()
	}
}

// closeFD releases the descriptor: through the file that owns it, or
// raw.
func (c *Conn) closeFD() error {
	if f := c.file.Load(); f != nil {
		return c.fileError("close", f.Close())
	}
	if err := closeFD(c.fd); err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// Close closes the connection. Blocked reads and writes return an error
// wrapping net.ErrClosed; so does a second Close.
func (c *Conn) Close() error {
	for {
		s := c.state.Load()
		if s&1 != 0 {
			return c.opError("close", net.ErrClosed)
		}
		if c.state.CompareAndSwap(s, s|1) {
			if s == 0 {
				return c.closeFD()
			}
			return nil // the last raw user closes it
		}
	}
}

// Read reads like net.Conn.Read: raw while data is there, through the
// runtime poller when it must wait.
func (c *Conn) Read(p []byte) (int, error) {
	if f := c.file.Load(); f != nil {
		n, err := f.Read(p)
		return n, c.fileError("read", err)
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, wait, err := c.raw("read", &c.rdl, func(fd int) (int, error) { return netpoll.Read(fd, p) })
	switch {
	case wait:
		f, err := c.handOver()
		if err != nil {
			return 0, c.opError("read", err)
		}
		n, err = f.Read(p)
		return n, c.fileError("read", err)
	case err == nil && n == 0:
		return 0, io.EOF
	}
	return n, err
}

// Write writes like net.Conn.Write, all of p or an error: raw while the
// socket takes it, through the runtime poller when it must wait.
func (c *Conn) Write(p []byte) (int, error) {
	if f := c.file.Load(); f != nil {
		n, err := f.Write(p)
		return n, c.fileError("write", err)
	}
	n := 0
	for n < len(p) {
		m, wait, err := c.raw("write", &c.wdl, func(fd int) (int, error) { return netpoll.Write(fd, p[n:]) })
		n += m
		if err != nil {
			return n, err
		}
		if wait {
			f, err := c.handOver()
			if err != nil {
				return n, c.opError("write", err)
			}
			m, err := f.Write(p[n:])
			return n + m, c.fileError("write", err)
		}
	}
	return n, nil
}

// raw runs one non-blocking system call on the descriptor (again when
// interrupted), unless the Conn is closed or the deadline in d has passed.
// wait reports that the socket has nothing to give or no room (EAGAIN);
// err is a net.Conn error.
func (c *Conn) raw(op string, d *atomic.Int64, call func(fd int) (int, error)) (n int, wait bool, err error) {
	if !c.acquire() {
		return 0, false, c.opError(op, net.ErrClosed)
	}
	defer c.release()
	if expired(d) {
		return 0, false, c.opError(op, os.ErrDeadlineExceeded)
	}
	n, err = call(c.fd)
	for errors.Is(err, syscall.EINTR) {
		n, err = call(c.fd)
	}
	switch {
	case errors.Is(err, syscall.EAGAIN):
		return 0, true, nil
	case err != nil:
		return 0, false, c.opError(op, os.NewSyscallError(op, err))
	}
	return n, false, nil
}

// handOver gives fd to an os.File registered in the runtime poller, with
// the deadlines set so far, once; see the package doc.
func (c *Conn) handOver() (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.file.Load(); f != nil {
		return f, nil
	}
	if !c.acquire() {
		return nil, net.ErrClosed
	}
	defer c.release()                     // after the Store: a Close meanwhile then closes the file
	f := os.NewFile(uintptr(c.fd), "tcp") //nolint:gosec // a descriptor fits in uintptr
	if d := c.rdl.Load(); d != 0 {
		_ = f.SetReadDeadline(time.Unix(0, d))
	}
	if d := c.wdl.Load(); d != 0 {
		_ = f.SetWriteDeadline(time.Unix(0, d))
	}
	c.file.Store(f)
	return f, nil
}

// SetDeadline sets the read and write deadlines, as net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline, as net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(&c.rdl, t, (*os.File).SetReadDeadline)
}

// SetWriteDeadline sets the write deadline, as net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(&c.wdl, t, (*os.File).SetWriteDeadline)
}

func (c *Conn) setDeadline(d *atomic.Int64, t time.Time, set func(*os.File, time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load()&1 != 0 {
		return c.opError("set deadline", net.ErrClosed)
	}
	if f := c.file.Load(); f != nil {
		return c.fileError("set deadline", set(f, t))
	}
	if t.IsZero() {
		d.Store(0)
	} else {
		d.Store(max(t.UnixNano(), 1))
	}
	return nil
}

// expired reports whether the deadline in d has passed.
func expired(d *atomic.Int64) bool {
	v := d.Load()
	return v != 0 && time.Now().UnixNano() >= v
}

// CloseWrite shuts down the writing side of the connection.
func (c *Conn) CloseWrite() error {
	var err error
	cerr := c.rawConn().Control(func(fd uintptr) {
		err = syscall.Shutdown(int(fd), syscall.SHUT_WR) //nolint:gosec // fd fits in int
	})
	if cerr != nil {
		return c.opError("close", cerr)
	}
	if err != nil {
		return c.opError("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.raddr) }

// RemoteAddrString returns RemoteAddr().String() in one allocation.
func (c *Conn) RemoteAddrString() string { return c.raddr.String() }

// LocalAddr returns the connection's local address, asked of the kernel on
// first use (the listener's address if that fails).
func (c *Conn) LocalAddr() net.Addr {
	c.laddrOnce.Do(func() {
		_ = c.rawConn().Control(func(fd uintptr) { c.laddr = localAddr(int(fd)) }) //nolint:gosec // fd fits in int
		if c.laddr == nil {
			c.laddr = c.ln
		}
	})
	return c.laddr
}

// SyscallConn returns the raw connection: Control runs on the descriptor
// while no Close can release it; Read and Write call their function raw
// first, and hand the descriptor to the runtime poller (see the package
// doc) when it asks to wait.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.rawConn(), nil }

func (c *Conn) rawConn() rawConn { return rawConn{c} }

type rawConn struct{ c *Conn }

// closedError returns err, or net.ErrClosed when the Conn was closed (the
// os.File's raw connection reports a closed file its own way).
func (c *Conn) closedError(err error) error {
	if err != nil && c.state.Load()&1 != 0 {
		return net.ErrClosed
	}
	return err
}

func (r rawConn) fileConn() (syscall.RawConn, bool) {
	f := r.c.file.Load()
	if f == nil {
		return nil, false
	}
	rc, err := f.SyscallConn()
	return rc, err == nil
}

func (r rawConn) Control(fn func(uintptr)) error {
	if rc, ok := r.fileConn(); ok {
		return r.c.closedError(rc.Control(fn))
	}
	if !r.c.acquire() {
		return net.ErrClosed
	}
	fn(uintptr(r.c.fd)) //nolint:gosec // a descriptor fits in uintptr
	r.c.release()
	return nil
}

func (r rawConn) Read(fn func(uintptr) bool) error  { return r.wait(fn, (syscall.RawConn).Read) }
func (r rawConn) Write(fn func(uintptr) bool) error { return r.wait(fn, (syscall.RawConn).Write) }

// wait calls fn on the descriptor and, when it asks to wait, continues in
// the runtime poller (op: the os.File raw connection's Read or Write).
func (r rawConn) wait(fn func(uintptr) bool, op func(syscall.RawConn, func(uintptr) bool) error) error {
	if rc, ok := r.fileConn(); ok {
		return r.c.closedError(op(rc, fn))
	}
	if !r.c.acquire() {
		return net.ErrClosed
	}
	done := fn(uintptr(r.c.fd)) //nolint:gosec // a descriptor fits in uintptr
	r.c.release()
	if done {
		return nil
	}
	f, err := r.c.handOver()
	if err != nil {
		return err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	return r.c.closedError(op(rc, fn))
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.ln, Addr: c.RemoteAddr(), Err: err}
}

// fileError turns an error of the os.File into the net.Conn error of the
// same meaning: io.EOF as it is, a closed file as net.ErrClosed, the
// rest wrapped in a *net.OpError.
func (c *Conn) fileError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if errors.Is(err, os.ErrClosed) || c.state.Load()&1 != 0 {
		return c.opError(op, net.ErrClosed)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
		var errno syscall.Errno
		if errors.As(err, &errno) {
			err = os.NewSyscallError(op, errno)
		}
	}
	return c.opError(op, err)
}
