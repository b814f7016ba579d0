package websocket

import (
	"crypto/sha1" //nolint:gosec // RFC 6455 mandates SHA-1 for Sec-WebSocket-Accept
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/heraldrt/herald/internal/protocol"
)

// acceptGUID is the RFC 6455 §1.3 constant appended to the client's key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var (
	errNotWebSocket   = errors.New("websocket: the client is not using the websocket protocol")
	errBadMethod      = errors.New("websocket: request method is not GET")
	errBadVersion     = errors.New("websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header")
	errBadOrigin      = errors.New("websocket: request origin not allowed")
	errBadKey         = errors.New("websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be Base64 encoded value of 16-byte in length")
	errCannotHijack   = errors.New("websocket: response does not implement http.Hijacker")
	errHandshakeWrite = errors.New("websocket: writing the handshake response failed")
)

// upgrade checks the handshake request and answers it with 101 Switching
// Protocols on the hijacked connection, accepting permessage-deflate when
// compression is enabled and the client offers it. The checks and their
// statuses are those of gorilla/websocket, in its order: 400 without the upgrade
// headers, 405 for another method than GET, 400 for a wrong version, 403
// for a rejected Origin, 400 for a bad key. On failure it has replied and
// returns ok false. pre holds bytes the client sent after its request (its
// first frames), to be processed before reading the connection.
func (h *Handler) upgrade(w http.ResponseWriter, r *http.Request) (c *conn, pre []byte, ok bool) {
	fail := func(status int, err error) (*conn, []byte, bool) {
		h.upgradeError(w, r, status, err)
		return nil, nil, false
	}
	switch {
	case !headerHasToken(r.Header, "Connection", "upgrade"), !headerHasToken(r.Header, "Upgrade", "websocket"):
		return fail(http.StatusBadRequest, errNotWebSocket)
	case r.Method != http.MethodGet:
		return fail(http.StatusMethodNotAllowed, errBadMethod)
	case !headerHasToken(r.Header, "Sec-Websocket-Version", "13"):
		return fail(http.StatusBadRequest, errBadVersion)
	case !h.checker.Check(r):
		return fail(http.StatusForbidden, errBadOrigin)
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if !validKey(key) {
		return fail(http.StatusBadRequest, errBadKey)
	}
	subprotocol := ""
	if h.cfg.Unidirectional == nil { // uni_websocket speaks JSON without a subprotocol
		subprotocol = selectSubprotocol(r.Header)
	}
	compress := h.cfg.Compression && acceptsDeflate(r.Header)

	nc, pre, err := hijack(w)
	if err != nil {
		return fail(http.StatusInternalServerError, errCannotHijack)
	}

	resp := make([]byte, 0, 192)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = appendAcceptKey(resp, key)
	if subprotocol != "" {
		resp = append(resp, "\r\nSec-WebSocket-Protocol: "...)
		resp = append(resp, subprotocol...)
	}
	if compress {
		resp = append(resp, "\r\nSec-WebSocket-Extensions: "...)
		resp = append(resp, deflateResponse...)
	}
	resp = append(resp, "\r\n\r\n"...)
	if err := h.writeHandshake(nc, resp); err != nil {
		h.logger.Debug("websocket: handshake failed", "remote_addr", r.RemoteAddr, "error", errors.Join(errHandshakeWrite, err))
		_ = nc.Close()
		return nil, nil, false
	}
	proto := protocol.TypeJSON
	if h.cfg.Unidirectional == nil {
		proto = selectProtocol(subprotocol, r)
	}
	c = newConn(h, nc, proto)
	if compress {
		c.compressed = true
	}
	return c, pre, true
}

// hijack takes over the connection of w, with a copy of what the client
// sent after its request (nil if nothing) and no deadline set (net/http
// clears its own on a hijack; ServeConn sets none that outlive the
// request). A connection served by ServeConn is taken without the buffered
// reader and writer of a Hijack: ServeConn reuses its reader.
func hijack(w http.ResponseWriter) (net.Conn, []byte, error) {
	if dw, ok := w.(*directWriter); ok {
		return dw.hijackBuffered()
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return nc, buffered(brw.Reader), nil
}

// writeHandshake writes resp, the 101 response, to nc: at once when the
// socket takes it (an empty socket does), else the rest within the write
// timeout.
func (h *Handler) writeHandshake(nc net.Conn, resp []byte) error {
	n, err := writeNow(nc, resp)
	if err != nil || n == len(resp) {
		return err
	}
	if err := nc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout)); err != nil {
		return err
	}
	if _, err := nc.Write(resp[n:]); err != nil {
		return err
	}
	return nc.SetWriteDeadline(time.Time{})
}

// upgradeError writes the HTTP error of a rejected upgrade, with the
// Sec-WebSocket-Version header that tells the client the supported version.
func (h *Handler) upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	if h.logger.Enabled(r.Context(), slog.LevelDebug) {
		h.logger.Debug("websocket: upgrade rejected", "status", status, "remote_addr", r.RemoteAddr,
			"origin", r.Header.Get("Origin"), "error", reason)
	}
	w.Header().Set("Sec-Websocket-Version", "13")
	http.Error(w, http.StatusText(status), status)
}

// validKey reports whether key, Sec-WebSocket-Key, is the Base64 form of 16
// bytes (24 characters), decoding it on the stack.
func validKey(key string) bool {
	var k [18]byte // DecodedLen(24)
	if len(key) != 24 {
		return false
	}
	n, err := base64.StdEncoding.Decode(k[:], []byte(key))
	return err == nil && n == 16
}

// appendAcceptKey appends Sec-WebSocket-Accept for the client's key (whose
// Base64 form the caller has checked) to dst, allocating nothing but
// dst's growth.
func appendAcceptKey(dst []byte, key string) []byte {
	in := make([]byte, 0, 64)
	in = append(in, key...)
	in = append(in, acceptGUID...)
	sum := sha1.Sum(in) //nolint:gosec // mandated by RFC 6455
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// selectSubprotocol returns the first subprotocol offered by the client that
// the server supports, or "".
func selectSubprotocol(h http.Header) string {
	for _, v := range h.Values("Sec-Websocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			switch p = strings.TrimSpace(p); p {
			case SubprotocolJSON, SubprotocolProtobuf:
				return p
			}
		}
	}
	return ""
}

// headerHasToken reports whether a comma-separated list in header name
// contains token, compared case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
