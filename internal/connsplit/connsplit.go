// Package connsplit shares one TCP listener between two HTTP servers. It
// reads the start of every new connection's first request: a connection
// that opens with a given prefix (in Herald, "POST <server API prefix>")
// goes to the fast listener, every other connection to the slow one. Each
// server then reads the connection from its first byte, as if it had
// accepted it itself.
//
// Herald serves server-API connections with fasthttp, which costs a fraction
// of net/http per request, and everything else (WebSocket upgrades, streams,
// the admin and debug endpoints) with net/http. A server-API client sends
// requests one after another on keep-alive connections, so deciding once per
// connection is enough.
package connsplit

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/heraldrt/herald/internal/rawio"
)

// DefaultTimeout is the default time a new connection has to send the
// start of its first request.
const DefaultTimeout = 10 * time.Second

// headSize is the size of the buffer the first read of a connection uses:
// as large as net/http's and fasthttp's read buffers, so that the server
// taking the connection consumes the whole head in its first read.
const headSize = 4096

// Config configures a Splitter.
type Config struct {
	// FastPrefix selects the connections of the fast listener: those whose
	// first bytes are FastPrefix followed by '/', '?' or ' ' (so "POST /api"
	// takes "POST /api/publish" and "POST /api HTTP/1.1", not
	// "POST /apix"). Empty selects none.
	FastPrefix string
	// DirectPrefix selects the connections handed to Direct: those whose
	// first bytes are DirectPrefix followed by '?' or ' ' (an exact path,
	// as "GET /connection/websocket"). Empty, or a nil Direct, selects none.
	DirectPrefix string
	// Direct serves a connection selected by DirectPrefix, on the goroutine
	// that classified it; it owns the connection. Serve waits for it, and
	// Close closes the connection while Direct runs.
	Direct func(*Conn)
	// Timeout bounds the wait for the first bytes of a connection; a
	// connection that sends nothing in time is closed, one that sent too
	// few bytes to decide goes to the slow listener (whose server answers
	// or times it out). Zero means DefaultTimeout.
	Timeout time.Duration
}

// A Splitter accepts connections from a listener and hands each to its
// fast or its slow listener. Create it with New and run Serve.
type Splitter struct {
	ln      net.Listener
	routes  []route
	direct  func(*Conn)
	timeout time.Duration
	fast    *listener
	slow    *listener

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup

	mu      sync.Mutex
	pending map[net.Conn]struct{} // connections being classified
}

// New returns a Splitter of ln.
func New(ln net.Listener, cfg Config) *Splitter {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	s := &Splitter{
		ln:      ln,
		direct:  cfg.Direct,
		timeout: cfg.Timeout,
		done:    make(chan struct{}),
		pending: make(map[net.Conn]struct{}),
	}
	s.fast = &listener{s: s, ch: make(chan net.Conn)}
	s.slow = &listener{s: s, ch: make(chan net.Conn)}
	if cfg.FastPrefix != "" {
		s.routes = append(s.routes, route{prefix: []byte(cfg.FastPrefix), ends: "/? ", to: toFast})
	}
	if cfg.DirectPrefix != "" && cfg.Direct != nil {
		s.routes = append(s.routes, route{prefix: []byte(cfg.DirectPrefix), ends: "? ", to: toDirect})
	}
	return s
}

// A route selects connections whose head is prefix followed by one of the
// bytes of ends.
type route struct {
	prefix []byte
	ends   string
	to     destination
}

type destination int

const (
	toSlow destination = iota
	toFast
	toDirect
)

// match reports whether head selects r (yes), cannot (no), or is too short
// to tell.
func (r route) match(head []byte) (yes, no bool) {
	k := min(len(head), len(r.prefix))
	if !bytes.Equal(head[:k], r.prefix[:k]) {
		return false, true
	}
	if len(head) <= len(r.prefix) {
		return false, false
	}
	if strings.IndexByte(r.ends, head[len(r.prefix)]) >= 0 {
		return true, false
	}
	return false, true
}

// Fast returns the listener of the connections that start with the fast
// prefix. Closing it closes the Splitter.
func (s *Splitter) Fast() net.Listener { return s.fast }

// Slow returns the listener of every other connection. Closing it closes
// the Splitter.
func (s *Splitter) Slow() net.Listener { return s.slow }

// Serve accepts connections until the Splitter is closed, then waits for
// the connections being classified to be handed over or closed. It returns
// nil after Close, or the error that stopped accepting.
func (s *Splitter) Serve() error {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				s.wg.Wait()
				return nil
			default:
			}
			// As net/http: back off and retry on temporary errors (EMFILE
			// and ENFILE when descriptors run out, ECONNABORTED, ...)
			// instead of giving up the listener.
			if te, ok := errors.AsType[temporary](err); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-s.done:
					s.wg.Wait()
					return nil
				}
			}
			_ = s.Close()
			s.wg.Wait()
			return err
		}
		delay = 0
		if !s.track(c) {
			_ = c.Close()
			continue
		}
		s.wg.Go(func() { s.classify(c) })
	}
}

// Close stops accepting and closes the connections being classified.
// Connections already handed over belong to their server. Close is
// idempotent: the first call returns the listener's close error, later
// ones nil.
func (s *Splitter) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		for c := range s.pending {
			_ = c.Close()
		}
		s.mu.Unlock()
		err = s.ln.Close()
	})
	return err
}

// track registers c as being classified, or reports false after Close.
func (s *Splitter) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return false
	default:
	}
	s.pending[c] = struct{}{}
	return true
}

func (s *Splitter) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.pending, c)
	s.mu.Unlock()
}

// classify reads the first bytes of c and hands it to a listener or to
// Direct.
func (s *Splitter) classify(c net.Conn) {
	defer s.untrack(c)
	buf := headPool.Get().(*[headSize]byte)
	n, to := s.readHead(c, buf[:])
	if n == 0 {
		headPool.Put(buf)
		_ = c.Close()
		return
	}
	hc := &Conn{Conn: c, buf: buf, head: buf[:n]}
	if to == toDirect {
		// Still tracked while Direct runs, so that Close ends a request
		// that is being read (and a connection Direct serves to its end).
		s.direct(hc)
		return
	}
	l := s.slow
	if to == toFast {
		l = s.fast
	}
	select {
	case l.ch <- hc:
	case <-s.done:
		_ = hc.Close()
	}
}

// readHead reads from c until its first bytes select a route or none can
// (or reading fails). It returns the number of bytes read into buf.
//
// The first read is a raw non-blocking one, without a deadline: a client
// sends its request right after connecting, so it has usually arrived, and
// then the connection costs neither the two deadline updates of a timed
// read nor a read through the runtime's blocking system call path.
func (s *Splitter) readHead(c net.Conn, buf []byte) (int, destination) {
	n, err := readNow(c, buf)
	if n > 0 || err != nil {
		if to, done := s.route(buf[:n], err != nil || n == len(buf)); done {
			return n, to
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(s.timeout))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for {
		m, err := c.Read(buf[n:])
		n += m
		if to, done := s.route(buf[:n], err != nil || n == len(buf)); done {
			return n, to
		}
	}
}

// route decides the destination of a connection whose first bytes are
// head: done is false while more bytes could still select a route, unless
// last (nothing more can be read) sends it to the slow listener.
func (s *Splitter) route(head []byte, last bool) (to destination, done bool) {
	undecided := false
	for _, r := range s.routes {
		yes, no := r.match(head)
		if yes {
			return r.to, true
		}
		undecided = undecided || !no
	}
	return toSlow, !undecided || last
}

// readNow reads what has arrived on c into buf without waiting. It returns
// 0 and nil when nothing has arrived or c has no raw descriptor (the caller
// then reads it the usual way), and io.EOF at the end of the stream.
func readNow(c net.Conn, buf []byte) (int, error) {
	rc := rawio.RawConn(c)
	if rc == nil {
		return 0, nil
	}
	n, err := rawio.ReadAvailable(rc, buf)
	if errors.Is(err, rawio.ErrWouldBlock) {
		return 0, nil
	}
	return n, err
}

// temporary is implemented by the accept errors worth retrying
// (net.Error's deprecated Temporary, which net/http's accept loop also
// relies on).
type temporary interface {
	error
	Temporary() bool
}

var headPool = sync.Pool{New: func() any { return new([headSize]byte) }}

// listener is a net.Listener of connections handed over by a Splitter.
type listener struct {
	s  *Splitter
	ch chan net.Conn
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.s.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error   { return l.s.Close() }
func (l *listener) Addr() net.Addr { return l.s.ln.Addr() }

// Conn is a connection handed over by a Splitter: reading it returns the
// bytes the Splitter read first, then the rest of the connection.
type Conn struct {
	net.Conn
	buf  *[headSize]byte
	head []byte
}

var (
	_ syscall.Conn                    = (*Conn)(nil)
	_ io.ReaderFrom                   = (*Conn)(nil)
	_ interface{ CloseWrite() error } = (*Conn)(nil)
)

// errUnreadHead is returned by SyscallConn while bytes read by the Splitter
// have not been read through the Conn: a reader of the descriptor would
// miss them.
var errUnreadHead = errors.New("connsplit: connection has unread buffered bytes")

// Read reads the bytes read first by the Splitter, then from the
// connection.
func (c *Conn) Read(p []byte) (int, error) {
	if c.head == nil {
		return c.Conn.Read(p)
	}
	n := copy(p, c.head)
	c.head = c.head[n:]
	if len(c.head) == 0 {
		c.head = nil
		headPool.Put(c.buf)
		c.buf = nil
	}
	return n, nil
}

// Buffered returns the bytes read by the Splitter that have not been read
// through the Conn yet. The slice is the Conn's; the caller must not keep
// it past its next Read.
func (c *Conn) Buffered() []byte { return c.head }

// SyscallConn returns the raw connection of the underlying connection
// (for a reactor reading the descriptor itself) once the bytes read by the
// Splitter have been consumed.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	if c.head != nil {
		return nil, errUnreadHead
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// RemoteAddrString returns RemoteAddr().String(), in one allocation when
// the underlying connection offers it (internal/rawtcp's does).
func (c *Conn) RemoteAddrString() string {
	if s, ok := c.Conn.(interface{ RemoteAddrString() string }); ok {
		return s.RemoteAddrString()
	}
	return c.Conn.RemoteAddr().String()
}

// ReadFrom lets net/http send files with sendfile(2) when the underlying
// connection can.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite shuts down the writing side when the underlying connection
// can (net/http uses it for a graceful close).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
