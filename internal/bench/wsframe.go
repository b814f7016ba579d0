package bench

import (
	"bufio"
	"context"
	"crypto/sha1" //nolint:gosec // RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldrt/herald/internal/wsframe"
)

// The tool's WebSocket client side (RFC 6455) is its own, small and
// allocation-free on the read path, so that the tool costs less CPU per
// received message than the servers it measures: frames are parsed in
// place from the connection's read buffer, and a connection without TLS
// is read by the shared reactor (reader.go) instead of a goroutine.

// maxMessageSize bounds a message from the server (a larger one ends the
// connection with an error instead of growing the buffer without limit).
const maxMessageSize = 64 << 20

// websocketGUID is the RFC 6455 key suffix for Sec-WebSocket-Accept.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// errProtocol reports a frame that breaks RFC 6455.
var errProtocol = errors.New("websocket protocol error")

// closeError is a close frame received from the server.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("websocket closed by server: %d %s", e.code, e.reason)
}

// dialWS opens a WebSocket connection to rawURL (ws or wss, with tlsCfg or
// the system's roots when nil) through nd, asking for subprotocol, and
// returns it with the bytes that arrived after the handshake response (the
// start of the first frames).
func dialWS(ctx context.Context, nd *net.Dialer, rawURL, subprotocol string, tlsCfg *tls.Config) (net.Conn, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"ws": "80", "wss": "443"}[u.Scheme])
	}
	nc, err := nd.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme == "wss" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsCfg != nil {
			cfg = tlsCfg.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, nil, err
		}
		nc = tc
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
	rest, err := handshake(nc, u, subprotocol)
	if !stop() || err != nil {
		_ = nc.Close()
		if err == nil {
			err = ctx.Err()
		}
		return nil, nil, err
	}
	return nc, rest, nil
}

// handshake sends the upgrade request on nc and checks the response.
func handshake(nc net.Conn, u *url.URL, subprotocol string) ([]byte, error) {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(k[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Protocol: " + subprotocol + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return nil, fmt.Errorf("handshake: Upgrade %q", resp.Header.Get("Upgrade"))
	}
	sum := sha1.Sum([]byte(key + websocketGUID)) //nolint:gosec // fixed by RFC 6455
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("handshake: bad Sec-WebSocket-Accept %q", got)
	}
	rest, _ := br.Peek(br.Buffered())
	return append([]byte(nil), rest...), nil
}

// appendClientFrame appends one final, masked client frame.
func appendClientFrame(dst []byte, op byte, payload []byte) []byte {
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	dst = wsframe.AppendHeader(dst, wsframe.Fin|op, len(payload), &mask)
	start := len(dst)
	dst = append(dst, payload...)
	wsframe.Mask(mask, 0, dst[start:])
	return dst
}

// frameHeader is a parsed frame header.
type frameHeader struct {
	fin     bool
	op      byte
	size    int // header length in bytes
	payload int // payload length
}

// parseHeader parses the frame header at the start of b; ok is false when
// b does not hold the whole header yet.
func parseHeader(b []byte) (h frameHeader, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	h.fin = b[0]&0x80 != 0
	h.op = b[0] & 0x0F
	if b[0]&0x70 != 0 {
		return h, false, fmt.Errorf("%w: reserved bits set (no extension negotiated)", errProtocol)
	}
	if b[1]&wsframe.Masked != 0 {
		return h, false, fmt.Errorf("%w: masked frame from the server", errProtocol)
	}
	size, n64, ok := wsframe.Length(b)
	if !ok {
		return h, false, nil
	}
	if n64 > maxMessageSize {
		return h, false, fmt.Errorf("%w: frame of %d bytes", errProtocol, n64)
	}
	h.size, h.payload = size, int(n64)
	if h.op >= wsframe.OpClose && (!h.fin || h.payload > 125) {
		return h, false, fmt.Errorf("%w: bad control frame", errProtocol)
	}
	return h, true, nil
}

// frameReader reassembles messages from the frames in a byte stream. Its
// handlers run for each complete message and control frame.
type frameReader struct {
	in      []byte // received bytes not parsed yet, at the start
	partial []byte // payload of a fragmented message so far
	fragOp  byte   // opcode of the fragmented message; 0 when none
}

// frameSink receives what frameReader.parse finds.
type frameSink interface {
	// message is a complete text or binary message; payload is valid only
	// during the call.
	message(payload []byte) error
	// control is a ping, pong or close frame.
	control(op byte, payload []byte) error
}

// parse handles every complete frame in r.in and keeps the incomplete
// rest at its start.
func (r *frameReader) parse(sink frameSink) error {
	b := r.in
	for {
		h, ok, err := parseHeader(b)
		if err != nil {
			return err
		}
		if !ok || len(b) < h.size+h.payload {
			break
		}
		payload := b[h.size : h.size+h.payload]
		b = b[h.size+h.payload:]
		if err := r.frame(h, payload, sink); err != nil {
			return err
		}
	}
	r.in = r.in[:copy(r.in, b)]
	return nil
}

func (r *frameReader) frame(h frameHeader, payload []byte, sink frameSink) error {
	switch h.op {
	case wsframe.OpText, wsframe.OpBinary:
		if r.fragOp != 0 {
			return fmt.Errorf("%w: new message inside a fragmented one", errProtocol)
		}
		if h.fin {
			return sink.message(payload)
		}
		r.fragOp = h.op
		r.partial = append(r.partial[:0], payload...)
		return nil
	case wsframe.OpContinuation:
		if r.fragOp == 0 {
			return fmt.Errorf("%w: continuation without a message", errProtocol)
		}
		if len(r.partial)+len(payload) > maxMessageSize {
			return fmt.Errorf("%w: message over %d bytes", errProtocol, maxMessageSize)
		}
		r.partial = append(r.partial, payload...)
		if !h.fin {
			return nil
		}
		r.fragOp = 0
		return sink.message(r.partial)
	case wsframe.OpClose, wsframe.OpPing, wsframe.OpPong:
		return sink.control(h.op, payload)
	default:
		return fmt.Errorf("%w: opcode %d", errProtocol, h.op)
	}
}

// space returns r.in's free tail for the next read, growing the buffer
// when it is full or when the frame at its start needs more room.
func (r *frameReader) space() []byte {
	need := len(r.in) + 512
	if h, ok, _ := parseHeader(r.in); ok {
		need = max(need, h.size+h.payload)
	}
	if cap(r.in) < need {
		grown := make([]byte, len(r.in), max(need, 2*cap(r.in), 2048))
		copy(grown, r.in)
		r.in = grown
	}
	return r.in[len(r.in):cap(r.in)]
}

// closePayload decodes a close frame's payload.
func closePayload(p []byte) *closeError {
	if len(p) < 2 {
		return &closeError{code: 1005}
	}
	return &closeError{code: int(binary.BigEndian.Uint16(p)), reason: string(p[2:])}
}

// closeFrame returns a masked close frame with code.
func closeFrame(code int) []byte {
	return appendClientFrame(nil, wsframe.OpClose, binary.BigEndian.AppendUint16(nil, uint16(code))) //nolint:gosec // a close code fits
}
