// Package wsframe holds what both ends of a WebSocket connection (RFC 6455)
// share: the opcodes, the frame header layout and masking. The server's
// transport (package transport/websocket) and the load tool (package bench)
// build their frames with it; each side checks the frames it receives
// against its own rules.
package wsframe

import (
	"encoding/binary"
	"math"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xa
)

// Bits of a header's first byte.
const (
	Fin  = 0x80
	RSV1 = 0x40 // with permessage-deflate: the message is compressed
)

// Header sizes.
const (
	// MaxHeaderLen is the longest header: 2 bytes, an 8-byte length and a
	// 4-byte mask key.
	MaxHeaderLen = 14
	// MaxServerHeaderLen is the longest header of an unmasked (server) frame.
	MaxServerHeaderLen = 10
)

// Masked is the mask bit of a header's second byte.
const Masked = 0x80

// Length reads the header at the start of b: its size in bytes (mask key
// included) and the payload length. ok is false while b holds less than
// the whole header; hdr is then the size to wait for (0 before the first
// two bytes).
func Length(b []byte) (hdr int, payload uint64, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	l7 := b[1] &^ Masked
	hdr = 2
	switch l7 {
	case 126:
		hdr = 4
	case 127:
		hdr = 10
	}
	if b[1]&Masked != 0 {
		hdr += 4
	}
	if len(b) < hdr {
		return hdr, 0, false
	}
	switch l7 {
	case 126:
		return hdr, uint64(binary.BigEndian.Uint16(b[2:4])), true
	case 127:
		return hdr, binary.BigEndian.Uint64(b[2:10]), true
	}
	return hdr, uint64(l7), true
}

// AppendHeader appends a frame header whose first byte is b0 (Fin, RSV
// bits and opcode) for a payload of length bytes, with the mask key when
// mask is not nil.
func AppendHeader(dst []byte, b0 byte, length int, mask *[4]byte) []byte {
	var m byte
	if mask != nil {
		m = Masked
	}
	switch {
	case length <= 125:
		dst = append(dst, b0, m|byte(length))
	case length <= math.MaxUint16:
		dst = append(dst, b0, m|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(length))
	default:
		dst = append(dst, b0, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(length))
	}
	if mask != nil {
		dst = append(dst, mask[:]...)
	}
	return dst
}

// Mask XORs b with the mask key, starting at key offset pos, and returns
// the key offset after b; masking and unmasking are the same operation.
func Mask(key [4]byte, pos int, b []byte) int {
	pos &= 3
	i := 0
	// Align to the key, then work 8 bytes at a time.
	for ; i < len(b) && pos != 0; i++ {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	if rest := len(b) - i; rest >= 8 {
		k32 := uint64(binary.LittleEndian.Uint32(key[:]))
		k64 := k32 | k32<<32
		for ; len(b)-i >= 8; i += 8 {
			v := binary.LittleEndian.Uint64(b[i:])
			binary.LittleEndian.PutUint64(b[i:], v^k64)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}
