// Package nbtls gives TLS connections whose reads a reactor can drive
// without a goroutine per connection. A Listener wraps each accepted TCP
// connection in a Conn before crypto/tls does, so the HTTP server handshakes
// and reads requests as usual (blocking reads with deadlines). A transport
// that takes the connection over (a WebSocket after its upgrade) switches
// the Conn to non-blocking reads: then Read returns the bytes Fill read
// from the socket, or ErrWouldBlock when there are none, which crypto/tls
// passes up without failing the connection (a temporary net.Error leaves
// its state intact), keeping any partial record for the next call.
//
// In non-blocking mode writes do not wait either: Write sends what the
// socket takes now and keeps the rest of the ciphertext, which goes out
// before anything written later; Pending reports it and Flush sends it,
// waiting for the socket until a deadline. crypto/tls sees every write
// succeed, so its record state stays consistent. Before the switch, writes
// go to the TCP connection as usual (blocking, with deadlines).
//
// Concurrency: like any net.Conn, a Conn allows one Read and one Write at
// once; Fill belongs to the reader. Write, Pending and Flush are safe for
// concurrent use (crypto/tls may write from its reader, for a key update,
// while the owner flushes). SetNonblocking is called once, by the
// goroutine that will read, before its first non-blocking read, and while
// no write is in progress.
package nbtls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heraldrt/herald/internal/rawio"
)

// ErrWouldBlock is returned by Read, in non-blocking mode, when no bytes
// are buffered: call Fill, and wait for readiness when it finds none.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "nbtls: no data buffered" }
func (wouldBlock) Timeout() bool   { return false }
func (wouldBlock) Temporary() bool { return true } // crypto/tls keeps the connection usable

// fillSize is the pooled buffer Fill reads the socket into; it covers a
// full TLS record (16 KiB of payload and its overhead).
const fillSize = 17 << 10

var fillPool = sync.Pool{New: func() any { b := make([]byte, fillSize); return &b }}

// Conn is a TCP connection under a tls.Conn; see the package doc.
type Conn struct {
	net.Conn

	nonblocking atomic.Bool
	rc          syscall.RawConn
	buf         *[]byte // pooled; held only while unread bytes remain
	unread      []byte  // what Fill read and Read has not returned
	eof         bool    // the client closed its side

	wmu sync.Mutex
	out []byte // ciphertext the socket did not take yet; guarded by wmu
}

// SetNonblocking switches reads and writes to the non-blocking mode and
// returns the raw connection to watch for readiness. It clears the read
// deadline (an expired one would fail every raw read). It fails when the
// connection exposes no socket. crypto/tls relies on the Temporary method
// of ErrWouldBlock (it checks net.Error.Temporary before making a read
// error sticky); TestNonblockingReadsAcrossPartialRecords fails if a Go
// release stops honouring it.
func (c *Conn) SetNonblocking() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := c.Conn.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	c.rc = rc
	c.nonblocking.Store(true)
	return rc, nil
}

// Read reads like net.Conn.Read in blocking mode; in non-blocking mode it
// returns what Fill buffered, io.EOF after the client closed its side, or
// ErrWouldBlock.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.nonblocking.Load() {
		return c.Conn.Read(p)
	}
	if len(c.unread) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		return 0, ErrWouldBlock
	}
	n := copy(p, c.unread)
	c.unread = c.unread[n:]
	if len(c.unread) == 0 {
		c.release()
	}
	return n, nil
}

// Fill reads what the socket holds, without waiting, for the next Reads.
// It reports false when the socket had nothing (EAGAIN: wait for the next
// readiness) and true when bytes were read or the client closed its side.
// It must only be called in non-blocking mode with nothing left unread.
func (c *Conn) Fill() (bool, error) {
	if c.eof {
		return true, nil
	}
	if c.buf == nil {
		c.buf = fillPool.Get().(*[]byte)
	}
	n, err := rawio.ReadAvailable(c.rc, *c.buf)
	if err == nil {
		c.unread = (*c.buf)[:n]
		return true, nil
	}
	c.release()
	switch {
	case errors.Is(err, rawio.ErrWouldBlock):
		return false, nil
	case err == io.EOF:
		c.eof = true
		return true, nil
	}
	return false, err
}

// Write writes like net.Conn.Write in blocking mode. In non-blocking mode it
// writes what the socket takes now and keeps the rest for Flush (after
// what is kept already), reporting all of p written.
func (c *Conn) Write(p []byte) (int, error) {
	if !c.nonblocking.Load() {
		return c.Conn.Write(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.out) > 0 {
		c.out = append(c.out, p...)
		return len(p), nil
	}
	n, err := rawio.WriteNow(c.rc, p)
	if err != nil {
		return n, err
	}
	if n < len(p) {
		c.out = append([]byte(nil), p[n:]...) // crypto/tls reuses p
	}
	return len(p), nil
}

// Pending reports whether written bytes wait for Flush.
func (c *Conn) Pending() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.out) > 0
}

// Flush sends what Write kept, waiting for the socket until deadline. After
// a failure the connection is unusable (part of a record may have gone
// out).
func (c *Conn) Flush(deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.out) == 0 {
		return nil
	}
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.Conn.Write(c.out)
	c.out = nil
	if err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(time.Time{})
}

// release returns the fill buffer to the pool.
func (c *Conn) release() {
	c.unread = nil
	if c.buf != nil {
		fillPool.Put(c.buf)
		c.buf = nil
	}
}

// listener wraps accepted connections in a Conn under TLS.
type listener struct {
	net.Listener
	cfg *tls.Config
}

// NewListener is tls.NewListener with every accepted connection's
// underlying connection a *Conn (tls.Conn.NetConn returns it).
func NewListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return &listener{Listener: ln, cfg: cfg}
}

// Accept waits for a connection and returns it as a *tls.Conn.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(&Conn{Conn: c}, l.cfg), nil
}

// Of returns the Conn under c when c is a *tls.Conn accepted through
// NewListener, else nil.
func Of(c net.Conn) *Conn {
	if tc, ok := c.(*tls.Conn); ok {
		nb, _ := tc.NetConn().(*Conn)
		return nb
	}
	return nil
}

// servedKey marks a request context whose connection has a Conn under its
// tls.Conn.
type servedKey struct{}

// ConnContext is an http.Server.ConnContext that marks the requests of a
// connection accepted through NewListener, for Served.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if Of(c) != nil {
		return context.WithValue(ctx, servedKey{}, true)
	}
	return ctx
}

// Served reports whether the request whose context is ctx came over a TLS
// connection with a Conn under it (marked by ConnContext): a handler that
// hijacks it can switch it to non-blocking mode.
func Served(ctx context.Context) bool {
	v, _ := ctx.Value(servedKey{}).(bool)
	return v
}
