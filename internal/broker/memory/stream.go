package memory

import (
	"math/rand/v2"

	"github.com/heraldrt/herald/internal/broker"
)

// epochLetters are the characters of a stream epoch.
const epochLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// epochLen is the length of a stream epoch.
const epochLen = 8

// newEpoch returns a random 8-letter epoch.
func newEpoch() string {
	var b [epochLen]byte
	for i := range b {
		b[i] = epochLetters[rand.IntN(len(epochLetters))]
	}
	return string(b[:])
}

// idemResult is a cached result of an idempotent publish.
type idemResult struct {
	result   broker.PublishResult
	expireAt int64 // Unix nanoseconds
}

// channel is the state the broker keeps for one channel: stream meta, the
// retained publications, version and idempotency results. All fields are
// guarded by the owning shard's mutex. All times are Unix nanoseconds; zero
// means "not set".
type channel struct {
	// Stream meta. epoch == "" means there is no meta.
	epoch        string
	top          uint64
	version      uint64
	versionEpoch string
	metaExpireAt int64

	// Retained publications as a ring: buf[head] is the oldest, n entries,
	// holding offsets top-n+1 … top.
	buf          []*broker.Publication
	head         int
	n            int
	histExpireAt int64

	// Idempotency results by key. idemNext is a lower bound of the earliest
	// expiry among them (exact after each sweep).
	idem     map[string]idemResult
	idemNext int64

	// scheduled is the deadline of this channel's live entry in the shard's
	// expiry queue; zero when it has none.
	scheduled int64
}

// empty reports whether the channel holds nothing worth keeping.
func (c *channel) empty() bool {
	return c.epoch == "" && c.n == 0 && len(c.idem) == 0
}

// expire drops stream meta and publications that expired at now. Idempotency
// results are left to sweepIdem (lookups check their own expiry), so that a
// hot channel does not rescan its key map on every publish.
func (c *channel) expire(now int64) {
	if c.epoch != "" && now >= c.metaExpireAt {
		c.epoch, c.top, c.version, c.versionEpoch, c.metaExpireAt = "", 0, 0, "", 0
		c.clearPubs()
	}
	if c.n > 0 && now >= c.histExpireAt {
		c.clearPubs()
	}
}

// sweepIdem drops expired idempotency results and recomputes idemNext.
func (c *channel) sweepIdem(now int64) {
	if len(c.idem) == 0 || now < c.idemNext {
		return
	}
	var next int64
	for k, r := range c.idem {
		if now >= r.expireAt {
			delete(c.idem, k)
			continue
		}
		if next == 0 || r.expireAt < next {
			next = r.expireAt
		}
	}
	c.idemNext = next
	if len(c.idem) == 0 {
		c.idem = nil
	}
}

// putIdem stores an idempotency result.
func (c *channel) putIdem(key string, res broker.PublishResult, expireAt int64) {
	if c.idem == nil {
		c.idem = make(map[string]idemResult)
	}
	c.idem[key] = idemResult{result: res, expireAt: expireAt}
	if c.idemNext == 0 || expireAt < c.idemNext {
		c.idemNext = expireAt
	}
}

// nextDeadline returns the earliest time at which something in c expires, or
// zero when nothing does.
func (c *channel) nextDeadline() int64 {
	var d int64
	consider := func(t int64) {
		if t != 0 && (d == 0 || t < d) {
			d = t
		}
	}
	if c.epoch != "" {
		consider(c.metaExpireAt)
	}
	if c.n > 0 {
		consider(c.histExpireAt)
	}
	if len(c.idem) > 0 {
		consider(c.idemNext)
	}
	return d
}

// ensureMeta creates stream meta with a new epoch if there is none.
func (c *channel) ensureMeta() {
	if c.epoch == "" {
		c.epoch = newEpoch()
		c.top = 0
	}
}

// position returns the current stream position.
func (c *channel) position() broker.StreamPosition {
	return broker.StreamPosition{Offset: c.top, Epoch: c.epoch}
}

// at returns the i-th retained publication, oldest first.
func (c *channel) at(i int) *broker.Publication {
	return c.buf[(c.head+i)%len(c.buf)]
}

// last returns the newest retained publication, or nil.
func (c *channel) last() *broker.Publication {
	if c.n == 0 {
		return nil
	}
	return c.at(c.n - 1)
}

// push appends pub and keeps at most size publications.
func (c *channel) push(pub *broker.Publication, size int) {
	for c.n >= size && c.n > 0 { // drop the oldest
		c.buf[c.head] = nil
		c.head = (c.head + 1) % len(c.buf)
		c.n--
	}
	if c.n == len(c.buf) { // full ring, still below size: grow
		newCap := max(min(2*len(c.buf), size), min(8, size))
		nb := make([]*broker.Publication, newCap)
		for i := range c.n {
			nb[i] = c.at(i)
		}
		c.buf, c.head = nb, 0
	}
	c.buf[(c.head+c.n)%len(c.buf)] = pub
	c.n++
}

// clearPubs drops all retained publications and frees the ring.
func (c *channel) clearPubs() {
	c.buf, c.head, c.n, c.histExpireAt = nil, 0, 0, 0
}

// read returns the publications selected by f. The meta must exist and the
// filter must already be validated.
func (c *channel) read(f broker.HistoryFilter) []*broker.Publication {
	if f.Limit == 0 || c.n == 0 {
		return nil
	}
	first := c.top - uint64(c.n) + 1
	var from, to uint64 // inclusive offsets
	if f.Reverse {
		from, to = first, c.top
		if f.Since != nil && f.Since.Offset-1 < to {
			to = f.Since.Offset - 1
		}
	} else {
		from, to = first, c.top
		if f.Since != nil {
			if f.Since.Offset >= c.top {
				return nil
			}
			from = max(from, f.Since.Offset+1)
		}
	}
	if to < from {
		return nil
	}
	count := to - from + 1
	if f.Limit > 0 && count > uint64(f.Limit) {
		count = uint64(f.Limit)
	}
	out := make([]*broker.Publication, count)
	size := len(c.buf)
	if f.Reverse {
		j := (c.head + int(to-first)) % size
		for i := range out {
			out[i] = c.buf[j]
			if j--; j < 0 {
				j = size - 1
			}
		}
		return out
	}
	j := (c.head + int(from-first)) % size
	n := copy(out, c.buf[j:])
	copy(out[n:], c.buf)
	return out
}

// expiryEntry schedules a check of channel ch at time at.
type expiryEntry struct {
	at int64
	ch string
}

// expiryQueue is a min-heap of expiry entries by time. A channel has at most
// one live entry (the one whose at equals channel.scheduled); others are
// stale and skipped when popped.
type expiryQueue []expiryEntry

func (q *expiryQueue) push(e expiryEntry) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (q *expiryQueue) pop() expiryEntry {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = expiryEntry{}
	h = h[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].at < h[m].at {
			m = l
		}
		if r < len(h) && h[r].at < h[m].at {
			m = r
		}
		if m == i {
			break
		}
		h[m], h[i] = h[i], h[m]
		i = m
	}
	*q = h
	return top
}
