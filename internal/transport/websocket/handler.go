// Package websocket serves the bidirectional WebSocket transport of the client
// protocol (/connection/websocket, COMPAT.md §3.1): it upgrades HTTP
// requests, selects the JSON or Protobuf encoding, checks the Origin, runs one
// read loop per connection that hands each WebSocket message to the session,
// and implements engine.Transport for the session's writes and close.
//
// Concurrency: a Handler is safe for concurrent use. Each connection's read
// loop runs in the net/http goroutine serving the upgrade request, so the
// package starts no goroutines of its own; ServeHTTP returns once the
// connection is closed. The Transport given to a session supports one writer
// (WriteMany) at a time plus a concurrent Close from any goroutine.
//
// Close handshake: Close sends a close frame carrying the disconnect code and
// reason and returns; the read loop then discards incoming messages until the
// client answers with its close frame or Config.CloseTimeout passes, and
// closes the TCP connection. Disconnect code 3000 closes the TCP connection
// without a close frame.
//
// Memory: an idle connection holds the net/http 4 KiB read buffer (unless
// Config.ReadBufferSize is set) and no write buffer: write buffers come from a
// per-Handler pool for the duration of one frame. Incoming messages are read
// into pooled buffers released after Session.HandleFrame returns.
package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/transport/origin"
)

// WebSocket subprotocols offered by the server, in order of preference.
const (
	// SubprotocolJSON selects the JSON encoding.
	SubprotocolJSON = "centrifuge-json"
	// SubprotocolProtobuf selects the Protobuf encoding.
	SubprotocolProtobuf = "centrifuge-protobuf"
)

// Session is the engine side of one connection, as seen by the read loop.
type Session interface {
	// HandleFrame processes one WebSocket message (a frame of commands). frame
	// is only valid until HandleFrame returns: its buffer is reused, so an
	// implementation that keeps any part of it must copy it. HandleFrame
	// returns false to stop the read loop from delivering further messages;
	// the session then calls Transport.Close.
	HandleFrame(frame []byte) bool
	// Close ends the session because the connection is gone or unusable.
	// The read loop calls it with protocol.DisconnectConnectionClosed when
	// reading fails, when the client closes, or after an oversized message,
	// unless the session already closed the Transport. It may race with the
	// session's own close, so it must be idempotent.
	Close(d protocol.Disconnect)
}

// NewSessionFunc starts a session for a new connection on t. ctx carries the
// engine.RequestInfo of the upgrade request and is canceled when the
// connection's read loop has ended. An error that is (or wraps) a
// protocol.Disconnect, such as protocol.DisconnectShutdown, closes the
// connection with that code; any other error closes it with
// protocol.DisconnectServerError.
type NewSessionFunc func(ctx context.Context, t engine.Transport) (Session, error)

// Handler is the http.Handler of the bidirectional WebSocket endpoint.
type Handler struct {
	newSession NewSessionFunc
	cfg        Config
	logger     *slog.Logger
	upgrader   websocket.Upgrader
	readBufs   sync.Pool // *bytes.Buffer for incoming messages
}

// NewHandler returns a Handler that starts a session with newSession for
// every accepted connection. Zero fields of cfg take their defaults; cfg is
// expected to have passed Config.Validate (an invalid origin pattern is
// logged and matches nothing). A nil logger discards logs.
func NewHandler(newSession NewSessionFunc, cfg Config, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	h := &Handler{newSession: newSession, cfg: cfg, logger: logger}

	checker, err := origin.NewChecker(cfg.AllowedOrigins)
	if err != nil {
		logger.Error("websocket: invalid allowed origin pattern ignored", "error", err)
	}
	if checker.AllowsAll() {
		logger.Warn("websocket: all origins are allowed; this is insecure outside development")
	}

	h.upgrader = websocket.Upgrader{
		ReadBufferSize:    cfg.ReadBufferSize,
		WriteBufferSize:   cfg.WriteBufferSize,
		WriteBufferPool:   &sync.Pool{},
		Subprotocols:      []string{SubprotocolJSON, SubprotocolProtobuf},
		CheckOrigin:       checker.Check,
		EnableCompression: cfg.Compression,
		Error:             h.upgradeError,
	}
	return h
}

// upgradeError writes the HTTP error of a rejected upgrade (400 without
// upgrade headers, 403 for a rejected origin, 405 for a non-GET upgrade).
func (h *Handler) upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	if h.logger.Enabled(r.Context(), slog.LevelDebug) {
		h.logger.Debug("websocket: upgrade rejected", "status", status, "remote_addr", r.RemoteAddr,
			"origin", r.Header.Get("Origin"), "error", reason)
	}
	w.Header().Set("Sec-Websocket-Version", "13")
	http.Error(w, http.StatusText(status), status)
}

// ServeHTTP upgrades the request and serves the connection until it is
// closed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // upgradeError has replied
	}
	proto := selectProtocol(conn.Subprotocol(), r)
	compressed := h.cfg.Compression && offersDeflate(r.Header)
	limit := h.cfg.MessageSizeLimit
	if compressed {
		conn.SetReadLimit(int64(h.cfg.MessageSizeLimit)) // wire size; gorilla closes with 1009
		limit = h.cfg.DecompressedMessageSizeLimit
		if err := conn.SetCompressionLevel(h.cfg.CompressionLevel); err != nil {
			h.logger.Warn("websocket: bad compression level", "level", h.cfg.CompressionLevel, "error", err)
		}
	}
	t := newTransport(conn, proto, compressed, h.cfg)

	ctx, cancel := context.WithCancel(engine.WithRequestInfo(r.Context(), engine.RequestInfo{
		RemoteAddr: r.RemoteAddr,
		Header:     r.Header,
	}))
	defer cancel()

	sess, err := h.newSession(ctx, t)
	if err != nil {
		d, ok := asDisconnect(err)
		if !ok {
			h.logger.Error("websocket: starting session failed", "remote_addr", r.RemoteAddr, "error", err)
			d = protocol.DisconnectServerError
		}
		_ = t.Close(d)
		h.readLoop(t, nil, limit)
		return
	}
	h.readLoop(t, sess, limit)
}

// readLoop reads messages until the connection fails or closes, handing them
// to sess while the transport is open and sess wants them, and discarding
// them afterwards so the client's close frame is seen. It closes the
// connection on return. A nil sess discards everything.
func (h *Handler) readLoop(t *transport, sess Session, limit int) {
	defer t.conn.Close()
	lr := &io.LimitedReader{}
	deliver := sess != nil
	for {
		_, r, err := t.conn.NextReader()
		if err != nil {
			h.readFailed(t, sess, err)
			return
		}
		if !deliver || t.closed.Load() {
			continue // NextReader discards the unread rest
		}
		buf := h.getReadBuf()
		lr.R, lr.N = r, int64(limit)+1
		_, err = buf.ReadFrom(lr)
		lr.R = nil
		switch {
		case err != nil:
			h.putReadBuf(buf)
			h.readFailed(t, sess, err)
			return
		case buf.Len() > limit:
			h.putReadBuf(buf)
			if started, _ := t.closeFrame(websocket.CloseMessageTooBig, "message too big"); started {
				sess.Close(protocol.DisconnectConnectionClosed)
			}
			deliver = false
			continue
		}
		deliver = sess.HandleFrame(buf.Bytes())
		h.putReadBuf(buf)
	}
}

// readFailed handles the read error err that ends the read loop: it marks
// the transport closed and tells sess the connection is gone, unless the
// session closed the transport first.
func (h *Handler) readFailed(t *transport, sess Session, err error) {
	alreadyClosed := t.closed.Swap(true)
	if sess != nil && !alreadyClosed {
		sess.Close(protocol.DisconnectConnectionClosed)
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		// Over the wire limit of a compressed connection: gorilla has
		// sent close 1009 and refuses further reads. Keep draining the
		// socket until the client closes (or CloseTimeout), so the client
		// gets the close frame instead of a TCP reset caused by unread
		// data.
		nc := t.conn.NetConn()
		if nc.SetReadDeadline(time.Now().Add(t.closeTimeout)) == nil {
			_, _ = io.Copy(io.Discard, nc)
		}
	}
}

// maxPooledReadBuf is the largest read buffer kept for reuse; larger ones,
// grown by rare big messages, are left to the garbage collector.
const maxPooledReadBuf = 128 << 10

func (h *Handler) getReadBuf() *bytes.Buffer {
	if b, ok := h.readBufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (h *Handler) putReadBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooledReadBuf {
		return
	}
	b.Reset()
	h.readBufs.Put(b)
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

// offersDeflate reports whether the client offers permessage-deflate, which
// the upgrader then accepts when compression is enabled.
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.TrimSpace(name) == "permessage-deflate" {
				return true
			}
		}
	}
	return false
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
