// Package websocket serves the bidirectional WebSocket transport of the client
// protocol (/connection/websocket, COMPAT.md §3.1): it upgrades HTTP
// requests, selects the JSON or Protobuf encoding, checks the Origin, hands
// each WebSocket message to the session, and implements engine.Transport for
// the session's writes and close.
//
// Idle connections hold no goroutine and no buffer. After the upgrade the
// request's goroutine returns; the connection is registered in a reactor
// (package netpoll, edge-triggered epoll) shared by all connections of the
// Handler. When it becomes readable a worker reads what has arrived into a
// pooled buffer with non-blocking reads until none is left, processes every
// complete frame (control frames, fragments, and messages for
// Session.HandleFrame, one at a time and in order), and keeps an incomplete
// frame in a pooled buffer, grown as its bytes arrive, until the rest comes.
// Reads never block a worker, so a client that sends half a frame holds no
// goroutine (the engine's ping/pong timeout bounds how long it can hold its
// buffer). A fragmented message is assembled in a buffer that exists only
// until its last fragment. Writes build the frame header and write it with
// the payload in one system call (small frames copied into a pooled buffer,
// large ones with writev straight from the messages), so no write buffer is
// held either.
//
// Connections that negotiate permessage-deflate (Config.Compression, RFC
// 7692 without context takeover) are served the same way: each message is
// compressed or decompressed on its own with a compressor or decompressor
// taken from a pool for that message only, so an idle compressed connection
// holds no flate state either (deflate.go).
//
// TLS connections accepted through an nbtls listener (Herald's HTTP server
// uses one) are served by the reactor too: reads go through crypto/tls over
// non-blocking socket reads (nbtls), so an idle one holds no goroutine
// either; writes go through crypto/tls without waiting for the socket (what
// it refuses waits in nbtls for the session's writer).
// Connections whose net.Conn exposes no file descriptor (a TLS listener of
// crypto/tls itself, in tests) keep a read loop in the goroutine of the
// upgrade request, with the same frame code in blocking mode.
//
// Concurrency: a Handler is safe for concurrent use. Close stops its reactor
// goroutines and closes the connections it still serves. The Transport given
// to a session supports one writer (WriteMany) at a time plus a concurrent
// Close from any goroutine.
//
// Close handshake: Close sends a close frame carrying the disconnect code and
// reason and returns; incoming messages are then discarded until the client
// answers with its close frame or Config.CloseTimeout passes, and the TCP
// connection is closed. Disconnect code 3000 closes the TCP connection
// without a close frame.
package websocket

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"syscall"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/timewheel"
	"github.com/heraldrt/herald/internal/transport/origin"
)

// WebSocket subprotocols offered by the server, in order of preference.
const (
	// SubprotocolJSON selects the JSON encoding.
	SubprotocolJSON = "centrifuge-json"
	// SubprotocolProtobuf selects the Protobuf encoding.
	SubprotocolProtobuf = "centrifuge-protobuf"
)

// Session is the engine side of one connection, as seen by the reader.
type Session interface {
	// HandleFrame processes one WebSocket message (a frame of commands). frame
	// is only valid until HandleFrame returns: its buffer is reused, so an
	// implementation that keeps any part of it must copy it. HandleFrame
	// returns false to stop the reader from delivering further messages;
	// the session then calls Transport.Close. Calls for one connection are
	// sequential, in the order of the messages, but not necessarily from
	// the same goroutine.
	HandleFrame(frame []byte) bool
	// Close ends the session because the connection is gone or unusable.
	// The reader calls it with protocol.DisconnectConnectionClosed when
	// reading fails, when the client closes, after an oversized message, or
	// when the Handler is closed, unless the session already closed the
	// Transport. It may race with the session's own close, so it must be
	// idempotent.
	Close(d protocol.Disconnect)
}

// NewSessionFunc starts a session for a new connection on t. ctx carries the
// engine.RequestInfo of the upgrade request and is canceled when the
// connection is closed. An error that is (or wraps) a protocol.Disconnect,
// such as protocol.DisconnectShutdown, closes the connection with that code;
// any other error closes it with protocol.DisconnectServerError.
type NewSessionFunc func(ctx context.Context, t engine.Transport) (Session, error)

// Handler is the http.Handler of the bidirectional WebSocket endpoint.
type Handler struct {
	newSession NewSessionFunc
	cfg        Config
	logger     *slog.Logger
	checker    *origin.Checker
	deflaters  deflatePool // compressors of Config.CompressionLevel
	inflaters  inflatePool
	wheelOnce  sync.Once
	wheel      *timewheel.Wheel // uni_websocket pings; started by the first

	mu         sync.Mutex
	reactors   netpoll.Lazy       // started by the first connection
	conns      map[*conn]struct{} // open reactor connections; guarded by mu
	closed     bool               // guarded by mu
	closedDone chan struct{}      // closed when Close has finished
}

// NewHandler returns a Handler that starts a session with newSession for
// every accepted connection. Zero fields of cfg take their defaults; cfg is
// expected to have passed Config.Validate (an invalid origin pattern is
// logged and matches nothing). A nil logger discards logs. The Handler
// starts its goroutines with its first connection; Close stops them.
func NewHandler(newSession NewSessionFunc, cfg Config, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	h := &Handler{newSession: newSession, cfg: cfg, logger: logger, conns: make(map[*conn]struct{})}

	checker, err := origin.NewChecker(cfg.AllowedOrigins)
	if err != nil {
		logger.Error("websocket: invalid allowed origin pattern ignored", "error", err)
	}
	if checker.AllowsAll() {
		logger.Warn("websocket: all origins are allowed; this is insecure outside development")
	}
	h.checker = checker
	h.deflaters.level = cfg.CompressionLevel
	return h
}

// ServeHTTP upgrades the request. For a connection served by the reactor it
// returns once the connection is registered; otherwise it serves the
// connection until it is closed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, pre, ok := h.upgrade(w, r)
	if !ok {
		return
	}
	ri := engine.RequestInfo{RemoteAddr: r.RemoteAddr, Header: r.Header}
	if h.cfg.Unidirectional != nil {
		ri.URL = r.URL // for cf_connect; otherwise not kept for the connection's life
	}
	ctx, cancel := context.WithCancel(engine.WithRequestInfo(context.WithoutCancel(r.Context()), ri))
	c.cancel = cancel

	sess, err := h.newSession(ctx, c)
	if err != nil {
		// Answer with the close frame, then wait for the client's one
		// like any closing connection.
		_ = c.Close(h.sessionError(r, err))
		sess = nil
	}
	c.sess = sess
	c.deliver = sess != nil
	if !h.track(c) {
		c.abort()
		return
	}
	if len(pre) > 0 && !c.process(pre, nil) {
		return
	}
	h.startReading(c)
}

// sessionError maps an error of NewSessionFunc to the disconnect that closes
// the connection.
func (h *Handler) sessionError(r *http.Request, err error) protocol.Disconnect {
	d, ok := asDisconnect(err)
	if !ok {
		h.logger.Error("websocket: starting session failed", "remote_addr", r.RemoteAddr, "error", err)
		d = protocol.DisconnectServerError
	}
	return d
}

// track records c as open; it returns false once the Handler is closed.
func (h *Handler) track(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.conns[c] = struct{}{}
	return true
}

// forget removes c, which was closed, from the open connections.
func (h *Handler) forget(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

// reactor returns the Handler's Poller, starting it on first use, or nil
// when none is available (the platform lacks epoll, or the Handler is
// closed).
func (h *Handler) reactor() *netpoll.Poller {
	p, err := h.reactors.Get()
	if err != nil && !errors.Is(err, netpoll.ErrUnsupported) {
		h.logger.Error("websocket: reactor unavailable; using a goroutine per connection", "error", err)
	}
	return p
}

// startReading registers c in the reactor, or, when that is not possible,
// reads c in the calling goroutine until it is closed.
func (h *Handler) startReading(c *conn) {
	if p := h.reactor(); p != nil {
		if nb := nbtls.Of(c.nc); nb != nil {
			if h.startTLSReading(c, p, nb) {
				return
			}
		} else if sc, ok := c.nc.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				c.setRawConn(rc)
				if w, err := p.Add(rc, c.onReadable); err == nil {
					if !c.setWatch(w) {
						w.Remove() // closed meanwhile
						return
					}
					if err := w.Arm(); err != nil {
						c.readFailed(err)
					}
					return
				}
				c.setRawConn(nil) // no callback can have run: the watch was never armed
			}
		}
	}
	for c.onReadable() != netpoll.Stop {
	}
}

// startTLSReading registers a TLS connection accepted through an
// nbtls.Listener in the reactor, its reads switched to non-blocking
// (nbtls). It returns false, with nothing changed, when the socket cannot
// be read raw; the caller then reads in blocking mode. Writes go through
// crypto/tls without waiting for the socket (see conn.tls).
func (h *Handler) startTLSReading(c *conn, p *netpoll.Poller, nb *nbtls.Conn) bool {
	c.writeMu.Lock() // no write in progress while the mode changes
	rc, err := nb.SetNonblocking()
	if err == nil {
		c.tls = nb
	}
	c.writeMu.Unlock()
	if err != nil {
		return false
	}
	// First read what crypto/tls and the socket already hold: records that
	// arrived with the upgrade request give no readiness edge.
	for {
		st := c.onReadable()
		if st == netpoll.Stop {
			return true
		}
		if st == netpoll.Wait {
			break
		}
	}
	w, err := p.Add(rc, c.onReadable)
	if err != nil {
		c.readFailed(err)
		return true
	}
	if !c.setWatch(w) {
		w.Remove() // closed meanwhile
		return true
	}
	if err := w.Arm(); err != nil {
		c.readFailed(err)
	}
	return true
}

// Close stops the reactor and closes the connections it serves, calling
// Session.Close(protocol.DisconnectConnectionClosed) for those whose session
// is still open; new connections are refused from then on. Call it after
// the sessions were given the chance to close politely (Node.Shutdown).
// Connections read in blocking mode (no file descriptor) are not affected:
// they end with the HTTP server's connections. Close is idempotent and
// returns nil.
func (h *Handler) Close() error {
	h.mu.Lock()
	if h.closed {
		done := h.closedDone
		h.mu.Unlock()
		<-done
		return nil
	}
	h.closed = true
	h.closedDone = make(chan struct{})
	defer close(h.closedDone)
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()

	for _, c := range conns {
		c.abort()
	}
	_ = h.reactors.Close()
	h.wheelOnce.Do(func() {}) // no wheel from now on
	if h.wheel != nil {
		h.wheel.Close()
	}
	return nil
}

// pingWheel returns the time wheel of uni_websocket pings, starting it on
// first use; nil after Close.
func (h *Handler) pingWheel() *timewheel.Wheel {
	h.wheelOnce.Do(func() { h.wheel = timewheel.New() })
	return h.wheel
}

// selectProtocol picks the encoding: a negotiated subprotocol decides;
// without one the query cf_protocol=protobuf (legacy format=protobuf) selects
// Protobuf. The query parameter cf_ws_frame_ping_pong is accepted and ignored.
func selectProtocol(subprotocol string, r *http.Request) protocol.Type {
	switch subprotocol {
	case SubprotocolProtobuf:
		return protocol.TypeProtobuf
	case SubprotocolJSON:
		return protocol.TypeJSON
	}
	q := r.URL.Query()
	if q.Get("cf_protocol") == "protobuf" || q.Get("format") == "protobuf" {
		return protocol.TypeProtobuf
	}
	return protocol.TypeJSON
}

// asDisconnect extracts a protocol.Disconnect from err.
func asDisconnect(err error) (protocol.Disconnect, bool) {
	var d protocol.Disconnect
	if errors.As(err, &d) {
		return d, true
	}
	var dp *protocol.Disconnect
	if errors.As(err, &dp) && dp != nil {
		return *dp, true
	}
	return protocol.Disconnect{}, false
}
