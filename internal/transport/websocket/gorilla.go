package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// This file serves connections that negotiate permessage-deflate: they use
// gorilla/websocket, with one read loop per connection in the goroutine of
// the upgrade request.

// serveGorilla upgrades the request with gorilla/websocket and serves the
// connection until it is closed.
func (h *Handler) serveGorilla(w http.ResponseWriter, r *http.Request) {
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
	t := newGorillaTransport(conn, proto, compressed, h.cfg)

	ctx, cancel := context.WithCancel(engine.WithRequestInfo(r.Context(), engine.RequestInfo{
		RemoteAddr: r.RemoteAddr,
		Header:     r.Header,
	}))
	defer cancel()

	sess, err := h.newSession(ctx, t)
	if err != nil {
		_ = t.Close(h.sessionError(r, err))
		h.readLoop(t, nil, limit)
		return
	}
	h.readLoop(t, sess, limit)
}

// readLoop reads messages until the connection fails or closes, handing them
// to sess while the transport is open and sess wants them, and discarding
// them afterwards so the client's close frame is seen. It closes the
// connection on return. A nil sess discards everything.
func (h *Handler) readLoop(t *gorillaTransport, sess Session, limit int) {
	defer func() { _ = t.conn.Close() }()
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
func (h *Handler) readFailed(t *gorillaTransport, sess Session, err error) {
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
