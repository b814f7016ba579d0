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

// blockSize is the length of the source blocks indexed for matching.
const blockSize = 16

// Delta returns a delta that turns source into target.
//
// The source is indexed in blockSize-byte blocks by a rolling hash; the
// target is scanned with the same hash, and each block match is extended
// both ways into the longest copy. Bytes between copies are inserted
// literally. Copy boundaries never split a UTF-8 character of the target, so
// the inserted parts of a delta of valid UTF-8 are valid UTF-8 (JSON
// connections carry deltas as JSON strings). Small inputs, and targets that
// share only a prefix and a suffix with the source, cost O(n).
func Delta(source, target []byte) []byte {
	out := make([]byte, 0, len(target)/4+32)
	out = appendInt(out, uint64(len(target)))
	out = append(out, '\n')
	if len(source) >= blockSize && len(target) >= blockSize {
		out = appendMatches(out, source, target)
	} else {
		out = appendInsert(out, target)
	}
	out = appendInt(out, uint64(checksum(target)))
	return append(out, ';')
}

func appendInsert(out, lit []byte) []byte {
	if len(lit) == 0 {
		return out
	}
	out = appendInt(out, uint64(len(lit)))
	out = append(out, ':')
	return append(out, lit...)
}

func appendCopy(out []byte, n, off int) []byte {
	out = appendInt(out, uint64(n))
	out = append(out, '@')
	out = appendInt(out, uint64(off))
	return append(out, ',')
}

// rolling is an Adler-style rolling hash over blockSize bytes.
type rolling struct{ a, b uint32 }

func (r *rolling) init(z []byte) {
	r.a, r.b = 0, 0
	for i := 0; i < blockSize; i++ {
		r.a += uint32(z[i])
		r.b += uint32(blockSize-i) * uint32(z[i])
	}
}

func (r *rolling) roll(out, in byte) {
	r.a += uint32(in) - uint32(out)
	r.b += r.a - blockSize*uint32(out)
}

func (r *rolling) sum() uint32 { return r.a&0xffff | r.b<<16 }

// appendMatches emits copies of source blocks found in target and inserts
// for the rest.
func appendMatches(out, source, target []byte) []byte {
	nBlocks := len(source) / blockSize
	// Open hash table from block hash to block index, chained via next.
	size := 1
	for size < nBlocks*2 {
		size <<= 1
	}
	heads := make([]int32, size)
	for i := range heads {
		heads[i] = -1
	}
	next := make([]int32, nBlocks)
	var h rolling
	for i := 0; i < nBlocks; i++ {
		h.init(source[i*blockSize:])
		slot := h.sum() & uint32(size-1)
		next[i] = heads[slot]
		heads[slot] = int32(i)
	}

	litStart := 0 // start of the pending literal run in target
	pos := 0      // window start in target
	h.init(target)
	for pos+blockSize <= len(target) {
		bestLen, bestSrc, bestTgt := 0, 0, 0
		const maxProbes = 64
		probes := 0
		for blk := heads[h.sum()&uint32(size-1)]; blk >= 0 && probes < maxProbes; blk = next[blk] {
			probes++
			src := int(blk) * blockSize
			// Extend forwards from the window, then backwards into the
			// pending literal run.
			f := 0
			for src+f < len(source) && pos+f < len(target) && source[src+f] == target[pos+f] {
				f++
			}
			if f < blockSize {
				continue // hash collision
			}
			b := 0
			for src-b > 0 && pos-b > litStart && source[src-b-1] == target[pos-b-1] {
				b++
			}
			if f+b > bestLen {
				bestLen, bestSrc, bestTgt = f+b, src-b, pos-b
			}
		}
		if bestLen == 0 {
			if pos+blockSize < len(target) {
				h.roll(target[pos], target[pos+blockSize])
			}
			pos++
			continue
		}
		// Keep copy boundaries on character boundaries of the target.
		for bestLen > 0 && bestTgt > litStart && isContinuation(target[bestTgt]) {
			bestTgt++
			bestSrc++
			bestLen--
		}
		end := bestTgt + bestLen
		for end < len(target) && end > bestTgt && isContinuation(target[end]) {
			end--
		}
		bestLen = end - bestTgt
		if bestLen < blockSize/2 {
			if pos+blockSize < len(target) {
				h.roll(target[pos], target[pos+blockSize])
			}
			pos++
			continue
		}
		out = appendInsert(out, target[litStart:bestTgt])
		out = appendCopy(out, bestLen, bestSrc)
		litStart = end
		pos = end
		if pos+blockSize <= len(target) {
			h.init(target[pos:])
		}
	}
	return appendInsert(out, target[litStart:])
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
