// Package fossil produces and applies deltas in the Fossil delta format,
// the format centrifuge-js and centrifuge-go decode for delta compression.
//
// The encoder is deliberately simple: it copies the longest common prefix
// and suffix of source and target from the source and inserts the middle.
// That is optimal for the common real-time case (a small change inside a
// large JSON document) and costs O(len) with no allocation beyond the output.
package fossil

import (
	"errors"
)

const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"

// appendInt appends v in Fossil's base-64 integer encoding.
func appendInt(dst []byte, v uint64) []byte {
	if v == 0 {
		return append(dst, '0')
	}
	var buf [12]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = digits[v&63]
		v >>= 6
	}
	return append(dst, buf[i:]...)
}

// checksum is Fossil's 32-bit checksum of b.
func checksum(b []byte) uint32 {
	var s0, s1, s2, s3 uint32
	for len(b) >= 16 {
		s0 += uint32(b[0]) + uint32(b[4]) + uint32(b[8]) + uint32(b[12])
		s1 += uint32(b[1]) + uint32(b[5]) + uint32(b[9]) + uint32(b[13])
		s2 += uint32(b[2]) + uint32(b[6]) + uint32(b[10]) + uint32(b[14])
		s3 += uint32(b[3]) + uint32(b[7]) + uint32(b[11]) + uint32(b[15])
		b = b[16:]
	}
	for len(b) >= 4 {
		s0 += uint32(b[0])
		s1 += uint32(b[1])
		s2 += uint32(b[2])
		s3 += uint32(b[3])
		b = b[4:]
	}
	s3 += s2<<8 + s1<<16 + s0<<24
	switch len(b) {
	case 3:
		s3 += uint32(b[2]) << 8
		fallthrough
	case 2:
		s3 += uint32(b[1]) << 16
		fallthrough
	case 1:
		s3 += uint32(b[0]) << 24
	}
	return s3
}

// Delta returns a delta that turns source into target.
func Delta(source, target []byte) []byte {
	prefix := 0
	for prefix < len(source) && prefix < len(target) && source[prefix] == target[prefix] {
		prefix++
	}
	suffix := 0
	for suffix < len(source)-prefix && suffix < len(target)-prefix &&
		source[len(source)-1-suffix] == target[len(target)-1-suffix] {
		suffix++
	}
	// Cut target at UTF-8 character boundaries so that the inserted part of a
	// delta of valid UTF-8 is itself valid UTF-8 (JSON connections carry
	// deltas as JSON strings).
	for prefix > 0 && prefix < len(target) && isContinuation(target[prefix]) {
		prefix--
	}
	for suffix > 0 && len(target)-suffix < len(target) && isContinuation(target[len(target)-suffix]) {
		suffix--
	}
	out := make([]byte, 0, len(target)-prefix-suffix+32)
	out = appendInt(out, uint64(len(target)))
	out = append(out, '\n')
	if prefix > 0 {
		out = appendInt(out, uint64(prefix))
		out = append(out, '@', '0', ',')
	}
	if mid := target[prefix : len(target)-suffix]; len(mid) > 0 {
		out = appendInt(out, uint64(len(mid)))
		out = append(out, ':')
		out = append(out, mid...)
	}
	if suffix > 0 {
		out = appendInt(out, uint64(suffix))
		out = append(out, '@')
		out = appendInt(out, uint64(len(source)-suffix))
		out = append(out, ',')
	}
	out = appendInt(out, uint64(checksum(target)))
	return append(out, ';')
}

func isContinuation(b byte) bool { return b&0xC0 == 0x80 }

// ErrMalformed is returned by Apply for a delta that does not decode or does
// not match its source.
var ErrMalformed = errors.New("fossil: malformed delta")

// Apply applies delta to source and returns the target. It is used by tests
// and tools; clients apply deltas themselves.
func Apply(source, delta []byte) ([]byte, error) {
	readInt := func() (uint64, bool) {
		var v uint64
		n := 0
		for len(delta) > 0 {
			i := indexDigit(delta[0])
			if i < 0 {
				break
			}
			if v > 1<<56 {
				return 0, false
			}
			v = v<<6 | uint64(i)
			delta = delta[1:]
			n++
		}
		return v, n > 0
	}
	size, ok := readInt()
	if !ok || len(delta) == 0 || delta[0] != '\n' || size > 1<<31 {
		return nil, ErrMalformed
	}
	delta = delta[1:]
	out := make([]byte, 0, size)
	for len(delta) > 0 {
		n, ok := readInt()
		if !ok || len(delta) == 0 {
			return nil, ErrMalformed
		}
		op := delta[0]
		delta = delta[1:]
		switch op {
		case '@':
			off, ok := readInt()
			if !ok || len(delta) == 0 || delta[0] != ',' || off+n > uint64(len(source)) {
				return nil, ErrMalformed
			}
			delta = delta[1:]
			out = append(out, source[off:off+n]...)
		case ':':
			if n > uint64(len(delta)) {
				return nil, ErrMalformed
			}
			out = append(out, delta[:n]...)
			delta = delta[n:]
		case ';':
			if uint64(len(out)) != size || uint32(n) != checksum(out) {
				return nil, ErrMalformed
			}
			return out, nil
		default:
			return nil, ErrMalformed
		}
		if uint64(len(out)) > size {
			return nil, ErrMalformed
		}
	}
	return nil, ErrMalformed
}

func indexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c == '_':
		return 36
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 37
	case c == '~':
		return 63
	}
	return -1
}
