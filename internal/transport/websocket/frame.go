package websocket

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/heraldrt/herald/internal/wsframe"
)

// The package's short names for the wsframe constants it uses throughout.
const (
	opContinuation     = wsframe.OpContinuation
	opText             = wsframe.OpText
	opBinary           = wsframe.OpBinary
	opClose            = wsframe.OpClose
	opPing             = wsframe.OpPing
	opPong             = wsframe.OpPong
	rsv1               = wsframe.RSV1
	maxFrameHeaderLen  = wsframe.MaxHeaderLen
	maxServerHeaderLen = wsframe.MaxServerHeaderLen
)

// WebSocket close codes used by the server (RFC 6455 §7.4.1).
const (
	closeNormal          = 1000
	closeProtocolError   = 1002
	closeNoStatus        = 1005
	closeMessageTooBig   = 1009
	maxControlPayloadLen = 125
)

// errProtocol reports a frame that violates RFC 6455; the connection is
// closed with 1002.
var errProtocol = errors.New("websocket: protocol error")

// frameHeader is a parsed client frame header.
type frameHeader struct {
	fin    bool
	rsv1   bool // compressed message (permessage-deflate); checked by the reader
	opcode byte
	length int64 // payload length
	mask   [4]byte
}

// parseHeader parses the client frame header at the start of b. It returns
// the header and its length, or n == 0 when b holds only part of the header.
// Frames from a client must be masked and must not use RSV2, RSV3 or
// reserved opcodes (RSV1 is reported for the reader to check against the
// negotiated compression); control frames must be final and at most 125 bytes long.
func parseHeader(b []byte) (h frameHeader, n int, err error) {
	n, length, ok := wsframe.Length(b)
	if !ok {
		return h, 0, nil
	}
	b0 := b[0]
	if b0&0x30 != 0 {
		return h, 0, errProtocol // RSV2/RSV3: no extension uses them
	}
	if b[1]&wsframe.Masked == 0 {
		return h, 0, errProtocol // client frames must be masked
	}
	if length > math.MaxInt64 {
		return h, 0, errProtocol
	}
	h.rsv1 = b0&rsv1 != 0
	h.fin = b0&0x80 != 0
	h.opcode = b0 & 0x0f
	h.length = int64(length)
	copy(h.mask[:], b[n-4:n])
	switch h.opcode {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if !h.fin || h.length > maxControlPayloadLen {
			return h, 0, errProtocol
		}
	default:
		return h, 0, errProtocol
	}
	return h, n, nil
}

// putHeader writes an unmasked server frame header for a final frame of
// opcode with a payload of length bytes into b (at least
// maxServerHeaderLen bytes long) and returns its length.
func putHeader(b []byte, opcode byte, length int) int {
	return len(wsframe.AppendHeader(b[:0], wsframe.Fin|opcode, length, nil))
}

// closePayload formats a close frame payload: the code, then the reason
// (truncated to fit in a control frame). Code closeNoStatus gives an empty
// payload.
func closePayload(code int, reason string) []byte {
	if code == closeNoStatus {
		return nil
	}
	reason = truncateReason(reason)
	p := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code)) //nolint:gosec // close codes fit in 16 bits
	copy(p[2:], reason)
	return p
}
