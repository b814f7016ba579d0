// Package httplane serves the server API's HTTP/1.1 keep-alive connections
// on a readiness reactor (package netpoll), as WebSocket connections are:
// no goroutine is parked per connection between requests, and each
// readiness is served on the goroutine that saw it. A backend publishing
// over keep-alive connections thus costs per request one read, the
// answer's write and a share of an epoll_wait, instead of the extra empty
// read, the goroutine wake-up and the scheduling a goroutine-per-connection
// server pays (docs/benchmarks.md, "API publish").
//
// The lane serves plain requests only (see parse): HTTP/1.1 under the API
// prefix with a Content-Length body that fits its read buffer. At the
// first request that is anything else (a chunked or oversized body, a
// path outside the API, an "Expect: 100-continue", a malformed request),
// the lane hands the connection, with the bytes it has not served, to a
// fallback server (Herald's fasthttp lane), which implements all of
// HTTP/1.1 and keeps the connection from then on. Answers of both are the
// same, status for status.
//
// Handlers run on the reactor's goroutines: they must not wait on the
// network (Herald uses the lane with the memory engine only). A client
// that does not read its answers makes its connection leave the reactor
// for a goroutine of its own until the socket takes them, bounded by
// Config.WriteTimeout; a connection holding a partial request longer than
// Config.ReadTimeout is closed; a panic in the handler closes its
// connection. An idle keep-alive connection costs its socket and a small
// struct, no goroutine and no buffer.
//
// Concurrency: a Lane is safe for concurrent use; Serve may be called for
// several listeners.
package httplane

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/rawio"
)

// Handler answers one request into resp (which starts zeroed). It must
// not keep r, r.Body or anything r returns after it returns.
type Handler func(r *Request, resp *Response)

// Config configures a Lane. Zero fields take their defaults.
type Config struct {
	// Prefix is the path of the requests the lane serves: Prefix itself
	// and the paths below it ("/api", "/api/publish"). Required.
	Prefix string
	// Handler answers the lane's requests. Required.
	Handler Handler
	// Fallback serves a connection the lane gives up, reading from its
	// first unserved byte; it owns the connection from then on and may
	// block until the connection ends. Required.
	Fallback func(net.Conn)
	// ReadTimeout bounds the time a request takes to arrive in full once
	// its first bytes have: a connection holding a partial request longer
	// is closed (as net/http's ReadHeaderTimeout does). Zero means 10
	// seconds. An idle connection, between requests, has no timeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds the wait for a client to take its answers when
	// its socket is full. Zero means 10 seconds.
	WriteTimeout time.Duration
	// Logger receives the lane's errors. Nil means slog.Default().
	Logger *slog.Logger
}

// A Lane serves connections on a reactor; see the package doc.
type Lane struct {
	cfg    Config
	poller *netpoll.Poller
	bufs   sync.Pool // *[]byte of maxRequest bytes, for reads
	outs   sync.Pool // *[]byte, for answers

	mu     sync.Mutex
	conns  map[*conn]struct{}    // on the reactor
	handed map[net.Conn]struct{} // served by Fallback
	closed bool
	done   chan struct{}  // closed by Close: stops the sweeper
	wg     sync.WaitGroup // goroutines started for connections, and the sweeper
}

// New returns a Lane, or netpoll.ErrUnsupported where the reactor is not
// available (the caller then serves connections otherwise).
func New(cfg Config) (*Lane, error) {
	if cfg.Prefix == "" || cfg.Handler == nil || cfg.Fallback == nil {
		return nil, errors.New("httplane: Prefix, Handler and Fallback are required")
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// Requests are served on the goroutine that saw them: one per
	// processor, so that all of them can serve.
	p, err := netpoll.New(netpoll.Config{Pollers: runtime.GOMAXPROCS(0), Inline: true})
	if err != nil {
		return nil, err
	}
	l := &Lane{cfg: cfg, poller: p, conns: make(map[*conn]struct{}), handed: make(map[net.Conn]struct{}), done: make(chan struct{})}
	l.bufs.New = func() any { b := make([]byte, maxRequest); return &b }
	l.outs.New = func() any { b := make([]byte, 0, 1024); return &b }
	l.wg.Go(l.sweep)
	return l, nil
}

// sweep closes, every quarter of ReadTimeout (at least every 10 ms and at
// most every second), the connections whose partial request is older
// than ReadTimeout, until Close.
func (l *Lane) sweep() {
	t := time.NewTicker(min(max(l.cfg.ReadTimeout/4, 10*time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-t.C:
			limit := now.Add(-l.cfg.ReadTimeout).UnixNano()
			l.mu.Lock()
			for c := range l.conns {
				if since := c.partialSince.Load(); since != 0 && since < limit {
					c.cut()
				}
			}
			l.mu.Unlock()
		}
	}
}

// Serve accepts connections from ln and serves them until ln fails or is
// closed. It returns nil when the Lane or ln was closed.
func (l *Lane) Serve(ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if l.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		l.add(nc)
	}
}

func (l *Lane) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close stops the lane: it closes the connections handed to Fallback
// (whose requests are cut), lets the requests being served on the reactor
// finish, closes every connection, and waits for the goroutines it
// started. Close is idempotent and returns nil.
func (l *Lane) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	conns, handed := l.conns, l.handed
	l.conns, l.handed = nil, nil
	l.mu.Unlock()
	for nc := range handed {
		_ = nc.Close() // Fallback returns
	}
	for c := range conns {
		// A connection waiting for room for its answers (off the reactor)
		// gives up now rather than after WriteTimeout.
		_ = c.nc.SetWriteDeadline(time.Now())
	}
	err := l.poller.Close() // waits for the callbacks in progress
	for c := range conns {
		_ = c.nc.Close()
	}
	l.wg.Wait()
	return err
}

// headReader is a connection that read bytes ahead (connsplit.Conn): they
// are returned by Read before the socket's, and the socket's descriptor is
// available once they are.
type headReader interface {
	Buffered() []byte
}

// add takes over nc: it serves what nc already holds, then watches it.
func (l *Lane) add(nc net.Conn) {
	var head []byte
	if hr, ok := nc.(headReader); ok && len(hr.Buffered()) > 0 {
		head = make([]byte, len(hr.Buffered()))
		_, _ = io.ReadFull(nc, head) // served from memory
	}
	rc := rawio.RawConn(nc)
	if rc == nil {
		l.handOver(nc, nil, head)
		return
	}
	c := &conn{l: l, nc: nc, rc: rc, in: head}
	if !l.track(nc, func() { l.conns[c] = struct{}{} }) {
		return
	}
	w, err := l.poller.Add(rc, c.onReadable)
	if err != nil {
		l.forget(c)
		l.handOver(nc, nil, head)
		return
	}
	c.w = w
	// The request that came with the head gives no readiness: serve it
	// now, then as the connection becomes readable.
	if err := w.ArmNow(); err != nil {
		c.stop()
	}
}

// track runs add (which records nc) under the lane's lock and reports
// true, or closes nc and reports false when the lane is closed.
func (l *Lane) track(nc net.Conn, add func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = nc.Close()
		return false
	}
	add()
	return true
}

func (l *Lane) forget(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// handOver gives nc to Fallback after writing out (answers the lane owes
// the client) on a goroutine of its own; rest is what the client sent that
// the lane did not serve.
func (l *Lane) handOver(nc net.Conn, out, rest []byte) {
	if !l.track(nc, func() { l.handed[nc] = struct{}{} }) {
		return
	}
	pc := &prefixConn{Conn: nc, head: rest}
	l.wg.Go(func() {
		defer func() {
			l.mu.Lock()
			delete(l.handed, nc)
			l.mu.Unlock()
		}()
		if len(out) > 0 {
			if err := l.writeAll(nc, out); err != nil {
				_ = nc.Close()
				return
			}
		}
		l.cfg.Fallback(pc)
	})
}

// writeAll writes b to nc, waiting for room at most WriteTimeout, or
// until Close.
func (l *Lane) writeAll(nc net.Conn, b []byte) error {
	if err := nc.SetWriteDeadline(time.Now().Add(l.cfg.WriteTimeout)); err != nil {
		return err
	}
	// Close marks the lane closed, then moves the write deadline of its
	// connections to now: checking after setting the deadline, a write
	// either sees the mark or gets Close's deadline.
	if l.isClosed() {
		return net.ErrClosed
	}
	if _, err := rawio.Wrap(nc).Write(b); err != nil {
		return err
	}
	return nc.SetWriteDeadline(time.Time{})
}

// conn is one connection on the reactor. Its fields are used by one
// callback at a time (netpoll runs a watch's callbacks one after another).
type conn struct {
	l  *Lane
	nc net.Conn
	rc syscall.RawConn
	w  *netpoll.Watch

	req  Request  // the request being served, reused
	resp Response // its answer

	in           []byte       // the start of a request not received in full
	partialSince atomic.Int64 // when in got its first bytes (Unix ns), 0 when empty
	out          []byte       // answers the socket did not take yet
	closing      bool         // close once out is written (the client asked)
}

// maxRequest is the largest request (head and body) the lane serves
// itself; larger ones go to Fallback with their connection. The lane reads
// into buffers of this size, one per reactor goroutine at work.
const maxRequest = 16 << 10

// flushSize is the size of pipelined answers written before serving the
// next request, and maxPooledOut the largest answer buffer kept for reuse.
const (
	flushSize    = 32 << 10
	maxPooledOut = 64 << 10
)

// maxRounds bounds the reads of one callback, so that a connection sending
// without pause leaves the reactor for a goroutine of its own.
const maxRounds = 16

// onReadable reads and serves what the client sent, until the socket is
// drained. See the package doc for the Again cases.
func (c *conn) onReadable() netpoll.Status {
	if len(c.out) > 0 { // on a goroutine of its own (the callback returned Again)
		if err := c.l.writeAll(c.nc, c.out); err != nil {
			return c.stop()
		}
		c.out = nil
		if c.closing {
			return c.stop()
		}
	}
	bp := c.l.bufs.Get().(*[]byte)
	defer c.l.bufs.Put(bp)
	buf := *bp
	for range maxRounds {
		n := copy(buf, c.in)
		c.in = nil
		m, err := rawio.ReadAvailable(c.rc, buf[n:])
		switch {
		case errors.Is(err, rawio.ErrWouldBlock):
			if n == 0 {
				return netpoll.Wait
			}
		case err != nil:
			return c.stop() // end of stream, or the connection failed or was closed
		}
		if st := c.serve(buf[:n+m]); st != netpoll.Wait {
			return st
		}
		if err != nil || (n+m < len(buf) && !c.w.HangupSeen()) {
			return netpoll.Wait // drained: more input gives a new edge
		}
	}
	return netpoll.Again
}

// serve answers the complete requests at the start of b and keeps the
// incomplete rest in c.in. It returns Wait to go on reading, Again when
// the answers wait for room in the socket, or Stop when the connection
// was closed or handed over.
func (c *conn) serve(b []byte) netpoll.Status {
	op := c.l.outs.Get().(*[]byte)
	out := (*op)[:0]
	defer func() {
		if cap(out) <= maxPooledOut {
			*op = out[:0]
			c.l.outs.Put(op)
		}
	}()
	r, resp := &c.req, &c.resp
	defer func() { *r, *resp = Request{}, Response{} }() // keep no reference to the buffers
	for len(b) > 0 && !c.closing {
		if len(out) >= flushSize {
			// Pipelined requests: write the answers so far before serving
			// more, so that a client that does not read them cannot make
			// the lane hold more than flushSize and one answer.
			n, err := rawio.WriteNow(c.rc, out)
			if err != nil {
				return c.stop()
			}
			if n < len(out) {
				c.out, c.in = bytes.Clone(out[n:]), bytes.Clone(b)
				return netpoll.Again
			}
			out = out[:0]
		}
		used, st := parse(b, c.l.cfg.Prefix, maxRequest, r)
		switch st {
		case incomplete:
			c.in = bytes.Clone(b)
			b = nil
			continue
		case unsupported:
			c.w.Remove() // the fallback reads through the runtime's poller
			c.l.forget(c)
			c.l.handOver(c.nc, bytes.Clone(out), bytes.Clone(b))
			return netpoll.Stop
		}
		*resp = Response{}
		if !c.handle(r, resp) {
			return c.stop()
		}
		c.closing = r.close
		out = appendResponse(out, resp, r.close)
		b = b[used:]
	}
	switch since := c.partialSince.Load(); {
	case c.in == nil && since != 0:
		c.partialSince.Store(0)
	case c.in != nil && since == 0:
		c.partialSince.Store(time.Now().UnixNano())
	}
	if len(out) == 0 {
		return netpoll.Wait
	}
	n, err := rawio.WriteNow(c.rc, out)
	switch {
	case err != nil:
		return c.stop()
	case n < len(out):
		c.out = bytes.Clone(out[n:])
		return netpoll.Again // the next call, on its own goroutine, waits for room
	case c.closing:
		return c.stop()
	}
	return netpoll.Wait
}

// handle runs the Handler. A panic in it is logged and reported false:
// the connection is then closed without an answer, as net/http does.
func (c *conn) handle(r *Request, resp *Response) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.l.cfg.Logger.Error("server API: panic serving a request", "path", r.Path,
				"remote_addr", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			ok = false
		}
	}()
	c.l.cfg.Handler(r, resp)
	return true
}

// cut shuts the connection down from outside its callbacks (the sweeper):
// the callback that the hang-up runs finds the end of the stream and
// stops the connection.
func (c *conn) cut() {
	_ = c.rc.Control(func(fd uintptr) {
		_ = unix.Shutdown(int(fd), unix.SHUT_RDWR) //nolint:gosec // fd fits in int
	})
}

// stop closes the connection.
func (c *conn) stop() netpoll.Status {
	c.w.Detach() // closing the socket ends its registration
	c.l.forget(c)
	_ = c.nc.Close()
	return netpoll.Stop
}

// prefixConn reads head before the rest of its connection.
type prefixConn struct {
	net.Conn
	head []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.head) == 0 {
		return c.Conn.Read(p)
	}
	n := copy(p, c.head)
	c.head = c.head[n:]
	return n, nil
}
