package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram bucketing: values below 2*histSub are counted exactly; above,
// every power-of-two range is split into histSub linear buckets, so a
// bucket's width is below 1/histSub (0.8%) of its values.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits) * histSub
)

// Histogram counts non-negative int64 values (nanoseconds, in this package)
// in log-linear buckets with a relative error below 0.8%; values below 256
// are exact. Its zero value is empty and ready to use. Record and the
// readers are safe for concurrent use: counters are updated atomically.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
	min    atomic.Int64 // stored as value+1 so that zero means unset
}

// histIndex returns the bucket of v (v >= 0).
func histIndex(v int64) int {
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	shift := bits.Len64(u) - (histSubBits + 1)
	top := u >> uint(shift)
	return (shift+1)*histSub + int(top-histSub)
}

// histBounds returns the smallest and the largest value of bucket i.
func histBounds(i int) (lo, hi int64) {
	if i < 2*histSub {
		return int64(i), int64(i)
	}
	shift := i/histSub - 1
	top := uint64(i%histSub + histSub)
	lo64 := top << uint(shift)
	hi64 := (top+1)<<uint(shift) - 1
	if hi64 > math.MaxInt64 {
		hi64 = math.MaxInt64
	}
	return int64(lo64), int64(hi64)
}

// Record adds v; a negative v is counted as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[histIndex(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	h.observeExtremes(v, v)
}

// observeExtremes raises max to hi and lowers min to lo where needed.
func (h *Histogram) observeExtremes(lo, hi int64) {
	for {
		m := h.max.Load()
		if hi <= m || h.max.CompareAndSwap(m, hi) {
			break
		}
	}
	for {
		m := h.min.Load()
		if (m != 0 && lo+1 >= m) || h.min.CompareAndSwap(m, lo+1) {
			break
		}
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest recorded value, or 0 if none.
func (h *Histogram) Max() int64 { return h.max.Load() }

// Min returns the smallest recorded value, or 0 if none.
func (h *Histogram) Min() int64 {
	if m := h.min.Load(); m > 0 {
		return m - 1
	}
	return 0
}

// Mean returns the mean of the recorded values, or 0 if none.
func (h *Histogram) Mean() float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Percentile returns the value at quantile q in [0, 1] by the nearest-rank
// method: the smallest recorded value v such that at least ceil(q*n) values
// are <= v, reported as the upper bound of its bucket and never above Max.
// It returns 0 for an empty histogram; q <= 0 returns Min and q >= 1 Max.
func (h *Histogram) Percentile(q float64) int64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	if q <= 0 {
		return h.Min()
	}
	if q >= 1 {
		return h.Max()
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= rank {
			_, hi := histBounds(i)
			if m := h.Max(); hi > m {
				hi = m
			}
			return hi
		}
	}
	return h.Max()
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.Count() == 0 {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	h.observeExtremes(o.Min(), o.Max())
}

// bucket is one non-empty histogram bucket, for plotting.
type bucket struct {
	lo, hi int64
	count  uint64
}

// buckets returns the non-empty buckets in increasing order.
func (h *Histogram) buckets() []bucket {
	var out []bucket
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			lo, hi := histBounds(i)
			out = append(out, bucket{lo, hi, c})
		}
	}
	return out
}

// LatencySummary holds the percentiles of a latency histogram, in
// milliseconds.
type LatencySummary struct {
	// Count is the number of samples; the other fields are milliseconds.
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary returns the percentiles of h, whose values are nanoseconds. It
// returns nil for an empty histogram.
func (h *Histogram) Summary() *LatencySummary {
	if h.Count() == 0 {
		return nil
	}
	ms := func(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
	return &LatencySummary{
		Count: h.Count(),
		Mean:  h.Mean() / float64(time.Millisecond),
		P50:   ms(h.Percentile(0.50)),
		P90:   ms(h.Percentile(0.90)),
		P99:   ms(h.Percentile(0.99)),
		P999:  ms(h.Percentile(0.999)),
		Max:   ms(h.Max()),
	}
}
