package bench

import (
	"math/bits"
	"strconv"
	"sync/atomic"
)

// payload is the data of a benchmark publication: channel index c,
// per-channel sequence number s (from 1) and send time t (Unix ns).
type payload struct {
	ch, seq, sentNS int64
}

// appendPayload appends the JSON payload {"c":..,"s":..,"t":..} to dst,
// with a "p" padding string when pad > 0.
func appendPayload(dst []byte, p payload, pad int) []byte {
	dst = append(dst, `{"c":`...)
	dst = strconv.AppendInt(dst, p.ch, 10)
	dst = append(dst, `,"s":`...)
	dst = strconv.AppendInt(dst, p.seq, 10)
	dst = append(dst, `,"t":`...)
	dst = strconv.AppendInt(dst, p.sentNS, 10)
	if pad > 0 {
		dst = append(dst, `,"p":"`...)
		for range pad {
			dst = append(dst, 'x')
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// parsePayload reads the integer fields c, s and t of a flat JSON object,
// skipping any other field with a string or number value and whitespace.
// ok is false unless all three are present.
func parsePayload(b []byte) (p payload, ok bool) {
	i := 0
	skipWS := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	skipWS()
	if i >= len(b) || b[i] != '{' {
		return p, false
	}
	i++
	var have uint8
	for {
		skipWS()
		if i >= len(b) {
			return p, false
		}
		if b[i] == '}' {
			return p, have == 7
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return p, false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			j++
		}
		if j >= len(b) {
			return p, false
		}
		key := b[i+1 : j]
		i = j + 1
		skipWS()
		if i >= len(b) || b[i] != ':' {
			return p, false
		}
		i++
		skipWS()
		if i < len(b) && b[i] == '"' { // string value: skip (no escapes in ours)
			j := i + 1
			for j < len(b) && (b[j] != '"' || b[j-1] == '\\') {
				j++
			}
			i = j + 1
			continue
		}
		j = i
		for j < len(b) && (b[j] == '-' || (b[j] >= '0' && b[j] <= '9')) {
			j++
		}
		v, ok := atoi(b[i:j])
		if !ok {
			return p, false
		}
		i = j
		if len(key) != 1 {
			continue
		}
		switch key[0] {
		case 'c':
			p.ch, have = v, have|1
		case 's':
			p.seq, have = v, have|2
		case 't':
			p.sentNS, have = v, have|4
		}
	}
}

// atoi parses a decimal int64 with an optional '-' sign, without
// allocating; ok is false for an empty, malformed or overflowing number.
func atoi(b []byte) (v int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if u > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// maxTrackedSeq bounds the sequence numbers a tracker accepts, so that a
// corrupt payload cannot make it allocate without bound.
const maxTrackedSeq = 1 << 28

// seqTracker checks the publications one connection receives on one
// channel. It is used by that connection's reading goroutine only; its
// counts are read after that goroutine ends.
type seqTracker struct {
	seen    []uint64 // bit s set once sequence s was received
	maxSeen int64
	unique  int64 // distinct sequence numbers received
	dups    int64 // sequence numbers received again
	reorder int64 // new sequence numbers below one already received
	bad     int64 // publications with a bad payload or for another channel
}

// observe records sequence number seq. Zero, negative or huge values count
// as bad.
func (t *seqTracker) observe(seq int64) (isNew bool) {
	if seq <= 0 || seq > maxTrackedSeq {
		t.bad++
		return false
	}
	w := int(seq / 64)
	if w >= len(t.seen) {
		n := max(2*len(t.seen), w+1)
		grown := make([]uint64, n)
		copy(grown, t.seen)
		t.seen = grown
	}
	bit := uint64(1) << uint(seq%64)
	if t.seen[w]&bit != 0 {
		t.dups++
		return false
	}
	t.seen[w] |= bit
	t.unique++
	if seq < t.maxSeen {
		t.reorder++
	} else {
		t.maxSeen = seq
	}
	return true
}

// DeliveryCounts sums what the subscribers received.
type DeliveryCounts struct {
	// Expected is the number of deliveries the successful publishes call
	// for: per channel, publishes times live subscribers.
	Expected int64 `json:"expected"`
	// Delivered is the number of distinct publications received, summed
	// over connections.
	Delivered int64 `json:"delivered"`
	// Lost is Expected - Delivered, summed per connection (never negative
	// per connection).
	Lost int64 `json:"lost"`
	// Duplicates counts publications a connection received more than once.
	Duplicates int64 `json:"duplicates"`
	// OrderViolations counts publications received after one with a
	// higher sequence number on the same connection.
	OrderViolations int64 `json:"order_violations"`
	// Malformed counts publications whose payload was not the tool's or
	// came on a channel the connection did not subscribe to.
	Malformed int64 `json:"malformed"`
	// Extra counts distinct publications beyond those expected (sequence
	// numbers above the channel's successful publish count).
	Extra int64 `json:"extra,omitempty"`
}

// add folds one connection's tracker into d, given the number of successful
// publishes on its channel. With contiguous, the successful publishes
// carry sequence numbers 1..published exactly and order is checked;
// otherwise loss is counted from totals and order is not judged.
func (d *DeliveryCounts) add(t *seqTracker, published int64, contiguous bool) {
	in := min(t.unique, published)
	if contiguous {
		in = t.seenUpTo(published)
		d.OrderViolations += t.reorder
	}
	d.Expected += published
	d.Delivered += t.unique
	d.Duplicates += t.dups
	d.Malformed += t.bad
	d.Lost += published - in
	d.Extra += t.unique - in
}

// seenUpTo returns how many of the sequence numbers 1..n were received.
func (t *seqTracker) seenUpTo(n int64) int64 {
	var c int64
	for w, word := range t.seen {
		lo := int64(w) * 64
		if lo > n {
			break
		}
		if lo+63 > n { // keep bits 0..n-lo
			word &= (uint64(1) << uint(n-lo+1)) - 1
		}
		c += int64(bits.OnesCount64(word))
	}
	return c
}

// counter is an atomic event count sampled by the progress meter.
type counter = atomic.Int64
