package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Series is a throughput time series: for each sampling instant T (seconds
// since the start), the rate per second of every named counter over the
// preceding interval.
type Series struct {
	// Names are the counters, in column order.
	Names []string `json:"names"`
	// T are the sampling instants, in seconds since the start.
	T []float64 `json:"t"`
	// Rates[i][k] is the rate of counter k over the interval ending at T[i].
	Rates [][]float64 `json:"rates"`
}

// meter samples counters every interval, appends their rates to a Series
// and writes a progress line.
type meter struct {
	interval time.Duration
	out      io.Writer
	names    []string
	counters []*counter
	extra    func() string // appended to the progress line; may be nil
	label    string

	mu     sync.Mutex
	series Series
	last   []int64
	lastAt time.Time
	start  time.Time
	stop   context.CancelFunc
	done   chan struct{}
}

// newMeter returns a meter over the named counters; it is not running.
func newMeter(o Options, label string, names []string, counters []*counter, extra func() string) *meter {
	return &meter{
		interval: o.ProgressInterval, out: o.Progress, label: label,
		names: names, counters: counters, extra: extra,
		series: Series{Names: names},
	}
}

// begin starts sampling from now. It must be paired with end.
func (m *meter) begin(ctx context.Context) {
	ctx, m.stop = context.WithCancel(ctx)
	m.start = time.Now()
	m.lastAt = m.start
	m.last = make([]int64, len(m.counters))
	for i, c := range m.counters {
		m.last[i] = c.Load()
	}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				m.sample(now)
			}
		}
	}()
}

// sample appends one point and prints the progress line.
func (m *meter) sample(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dt := now.Sub(m.lastAt).Seconds()
	if dt <= 0 {
		return
	}
	rates := make([]float64, len(m.counters))
	var b strings.Builder
	fmt.Fprintf(&b, "[%s %5.1fs]", m.label, now.Sub(m.start).Seconds())
	for i, c := range m.counters {
		v := c.Load()
		rates[i] = float64(v-m.last[i]) / dt
		m.last[i] = v
		fmt.Fprintf(&b, " %s=%d (%.0f/s)", m.names[i], v, rates[i])
	}
	m.lastAt = now
	m.series.T = append(m.series.T, now.Sub(m.start).Seconds())
	m.series.Rates = append(m.series.Rates, rates)
	if m.out != nil {
		if m.extra != nil {
			b.WriteString(" ")
			b.WriteString(m.extra())
		}
		fmt.Fprintln(m.out, b.String())
	}
}

// end stops sampling and returns the series.
func (m *meter) end() Series {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.series
}
