package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
)

// Report is the outcome of one scenario run.
type Report struct {
	// Scenario is "fanout", "conns", "pubrate" or "churn".
	Scenario string `json:"scenario"`
	// Label names the server under test (Options.Label), if given.
	Label string `json:"label,omitempty"`
	// Protocol is "json" or "protobuf".
	Protocol string `json:"protocol"`
	// Target is the WebSocket URL loaded.
	Target string `json:"target"`
	// Params are the scenario parameters, by flag name.
	Params map[string]any `json:"params"`
	// ElapsedSeconds is the wall time of the whole run.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Interrupted is true when the context was cancelled before the end.
	Interrupted bool `json:"interrupted,omitempty"`
	// Figures are the scenario's results by name (rates per second, counts,
	// and server use per unit, with the unit in the name).
	Figures map[string]float64 `json:"figures"`
	// Delivery sums what subscribers received (fanout, pubrate with
	// subscribers).
	Delivery *DeliveryCounts `json:"delivery,omitempty"`
	// Latency summarises publish-to-receipt latency (fanout), request
	// latency (pubrate) or connect latency (conns, churn).
	Latency *LatencySummary `json:"latency,omitempty"`
	// Server is the server's resource use over the measured phase, when a
	// PID was given.
	Server *ServerUsage `json:"server,omitempty"`
	// Rounds are the per-round results of churn.
	Rounds []ChurnRound `json:"rounds,omitempty"`
	// Throughput is the rate of the scenario's counters over time.
	Throughput *Series `json:"throughput,omitempty"`
	// Notes are warnings about the run's validity (for example, a publish
	// rate below the one asked for).
	Notes []string `json:"notes,omitempty"`
	// Errors counts failures by message (at most maxErrorKinds kinds; the
	// rest are counted under "other").
	Errors map[string]int64 `json:"errors,omitempty"`

	order []string   // figure names in insertion order
	hist  *Histogram // latency histogram for plots
}

// newReport starts a report for scenario with options o.
func newReport(scenario string, o Options) *Report {
	return &Report{
		Scenario: scenario, Label: o.Label, Protocol: o.Protocol, Target: o.WSURL,
		Params: map[string]any{}, Figures: map[string]float64{},
	}
}

// set records figure name; NaN and infinities (from a division by zero)
// are dropped.
func (r *Report) set(name string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if _, ok := r.Figures[name]; !ok {
		r.order = append(r.order, name)
	}
	r.Figures[name] = v
}

// per returns a/b, or NaN when b is zero (so set drops it).
func per(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// WriteJSON writes the report as one line of JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteHuman writes a readable summary of the report.
func (r *Report) WriteHuman(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "herald bench %s (%s) against %s, %.1fs", r.Scenario, r.Protocol, r.Target, r.ElapsedSeconds)
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	if len(r.Params) > 0 {
		b.WriteString("\n  params: " + paramString(r.Params))
	}
	b.WriteString("\n")
	for _, name := range r.order {
		fmt.Fprintf(&b, "  %-38s %s\n", name, formatFigure(r.Figures[name]))
	}
	if d := r.Delivery; d != nil {
		fmt.Fprintf(&b, "  delivery: expected=%d delivered=%d lost=%d duplicates=%d order_violations=%d malformed=%d extra=%d\n",
			d.Expected, d.Delivered, d.Lost, d.Duplicates, d.OrderViolations, d.Malformed, d.Extra)
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(&b, "  latency (n=%d): p50=%.3fms p90=%.3fms p99=%.3fms p99.9=%.3fms max=%.3fms mean=%.3fms\n",
			l.Count, l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(&b, "  server pid %d: cpu=%.2fs rss %s -> %s, fds %d -> %d, threads %d -> %d\n",
			s.PID, s.CPUSeconds, formatBytes(s.Before.RSSBytes), formatBytes(s.After.RSSBytes),
			s.Before.FDs, s.After.FDs, s.Before.Threads, s.After.Threads)
	}
	for i, rd := range r.Rounds {
		fmt.Fprintf(&b, "  round %d: cycles=%d failures=%d %.0f/s", i+1, rd.Cycles, rd.Failures, rd.CyclesPerSec)
		if rd.Server != nil {
			fmt.Fprintf(&b, " rss=%s fds=%d threads=%d cpu=%.2fs", formatBytes(rd.Server.RSSBytes), rd.Server.FDs, rd.Server.Threads, rd.CPUSeconds)
		}
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if len(r.Errors) > 0 {
		b.WriteString("  errors:\n")
		msgs := make([]string, 0, len(r.Errors))
		for m := range r.Errors {
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		for _, m := range msgs {
			fmt.Fprintf(&b, "    %6d  %s\n", r.Errors[m], m)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatFigure prints integers without decimals and others with up to 3.
func formatFigure(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

// formatBytes prints a byte count in KiB or MiB.
func formatBytes(n int64) string {
	if n >= 10<<20 || n <= -10<<20 {
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
}

// maxErrorKinds bounds the distinct error messages kept.
const maxErrorKinds = 10

// errorLog counts errors by message. It is safe for concurrent use.
type errorLog struct {
	mu     sync.Mutex
	counts map[string]int64
	total  counter
}

// add counts err (nil is ignored).
func (l *errorLog) add(err error) {
	if err == nil {
		return
	}
	l.total.Add(1)
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = map[string]int64{}
	}
	if _, ok := l.counts[msg]; !ok && len(l.counts) >= maxErrorKinds {
		msg = "other"
	}
	l.counts[msg]++
}

// snapshot returns a copy of the counts, or nil if none.
func (l *errorLog) snapshot() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.counts) == 0 {
		return nil
	}
	out := make(map[string]int64, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}
