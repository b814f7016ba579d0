package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistogramExactSmallValues(t *testing.T) {
	var h Histogram
	for v := int64(100); v >= 1; v-- {
		h.Record(v)
	}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0, 1}, {0.01, 1}, {0.5, 50}, {0.9, 90}, {0.99, 99}, {0.999, 100}, {1, 100}} {
		if got := h.Percentile(tc.q); got != tc.want {
			t.Errorf("p%v = %d, want %d", tc.q*100, got, tc.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 || h.Mean() != 50.5 {
		t.Fatalf("count %d min %d max %d mean %v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Percentile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 || h.Summary() != nil {
		t.Fatal("empty histogram not zero")
	}
	h.Record(-5)
	if h.Percentile(0.5) != 0 || h.Count() != 1 {
		t.Fatalf("negative value: p50 %d count %d", h.Percentile(0.5), h.Count())
	}
}

// TestHistogramMatchesExactPercentiles compares against nearest-rank
// percentiles of sorted samples spread over many orders of magnitude.
func TestHistogramMatchesExactPercentiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	samples := make([]int64, 100000)
	for i := range samples {
		samples[i] = int64(math.Exp(r.Float64() * 25)) // 1ns .. ~72s
		h.Record(samples[i])
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := samples[int(math.Ceil(q*float64(len(samples))))-1]
		got := h.Percentile(q)
		if got < exact || float64(got-exact) > float64(exact)/histSub+1 {
			t.Errorf("p%v = %d, exact %d (error above 1/%d)", q*100, got, exact, histSub)
		}
	}
	if h.Max() != samples[len(samples)-1] || h.Min() != samples[0] {
		t.Fatalf("max %d min %d, want %d %d", h.Max(), h.Min(), samples[len(samples)-1], samples[0])
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := range histBuckets {
		lo, hi := histBounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d = [%d, %d] indexes as %d, %d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		prevHi = hi
		if hi == math.MaxInt64 {
			return
		}
	}
	t.Fatalf("buckets end at %d, before MaxInt64", prevHi)
}

func TestHistogramMerge(t *testing.T) {
	var a, b Histogram
	for v := int64(1); v <= 50; v++ {
		a.Record(v)
		b.Record(v + 50)
	}
	a.Merge(&b)
	if a.Count() != 100 || a.Percentile(0.5) != 50 || a.Percentile(0.99) != 99 || a.Max() != 100 || a.Min() != 1 {
		t.Fatalf("merged: count %d p50 %d p99 %d max %d min %d", a.Count(), a.Percentile(0.5), a.Percentile(0.99), a.Max(), a.Min())
	}
	s := a.Summary()
	if s.P50 != 50e-6 || s.Max != 100e-6 || s.Count != 100 {
		t.Fatalf("summary %+v", s)
	}
}
