package bench

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	plotW, plotH                       = 800, 420
	marginL, marginR, marginT, marginB = 80, 30, 40, 60
)

// seriesColors colour the lines of a throughput chart in order.
var seriesColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"}

// WritePlots writes the report's charts into dir (created if needed) as
// SVG files: <scenario>-latency.svg (a latency histogram on a log axis,
// with p50, p99 and p99.9 marked) and <scenario>-throughput.svg (counter
// rates over time). A chart without data is skipped. It returns the paths
// written.
func (r *Report) WritePlots(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	write := func(name, svg string) error {
		p := filepath.Join(dir, r.Scenario+"-"+name+".svg")
		if err := os.WriteFile(p, []byte(svg), 0o644); err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	}
	if r.hist != nil && r.hist.Count() > 0 {
		title := map[string]string{"fanout": "publish-to-receipt latency", "pubrate": "API publish request latency",
			"conns": "connect latency (dial+connect+subscribe)", "churn": "cycle latency (dial+connect+subscribe)"}[r.Scenario]
		if err := write("latency", latencySVG(r.hist, fmt.Sprintf("herald bench %s: %s", r.Scenario, title))); err != nil {
			return paths, err
		}
	}
	if r.Throughput != nil && len(r.Throughput.T) > 0 {
		if err := write("throughput", throughputSVG(r.Throughput, "herald bench "+r.Scenario+": rate per second")); err != nil {
			return paths, err
		}
	}
	return paths, nil
}

// svgDoc accumulates an SVG document.
type svgDoc struct{ b strings.Builder }

func newSVG(title string) *svgDoc {
	s := &svgDoc{}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(&s.b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	s.text(plotW/2, 22, "middle", 15, title)
	return s
}

func (s *svgDoc) text(x, y float64, anchor string, size int, t string) {
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d">%s</text>`+"\n", x, y, anchor, size, html.EscapeString(t))
}

func (s *svgDoc) line(x1, y1, x2, y2 float64, color string, width float64, dash string) {
	extra := ""
	if dash != "" {
		extra = fmt.Sprintf(` stroke-dasharray="%s"`, dash)
	}
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.1f"%s/>`+"\n", x1, y1, x2, y2, color, width, extra)
}

// axes draws the plot frame and the axis labels.
func (s *svgDoc) axes(xLabel, yLabel string) {
	s.line(marginL, plotH-marginB, plotW-marginR, plotH-marginB, "black", 1, "")
	s.line(marginL, marginT, marginL, plotH-marginB, "black", 1, "")
	s.text((marginL+plotW-marginR)/2, plotH-15, "middle", 13, xLabel)
	fmt.Fprintf(&s.b, `<text x="18" y="%.1f" text-anchor="middle" font-size="13" transform="rotate(-90 18 %.1f)">%s</text>`+"\n",
		float64(marginT+plotH-marginB)/2, float64(marginT+plotH-marginB)/2, html.EscapeString(yLabel))
}

// yTicks draws horizontal grid lines and labels for 0..ymax.
func (s *svgDoc) yTicks(ymax float64, y func(float64) float64) {
	step := niceStep(ymax / 5)
	for v := 0.0; v <= ymax*1.0001; v += step {
		s.line(marginL-4, y(v), plotW-marginR, y(v), "#ddd", 1, "")
		s.text(marginL-8, y(v)+4, "end", 11, formatTick(v))
	}
}

func (s *svgDoc) String() string { return s.b.String() + "</svg>\n" }

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func formatTick(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// latencySVG draws h (nanoseconds) as a histogram with 60 log-spaced bins
// between its minimum and maximum, in milliseconds.
func latencySVG(h *Histogram, title string) string {
	const bins = 60
	lo := math.Max(float64(h.Min()), 1000) // at least 1µs, for the log axis
	hi := math.Max(float64(h.Max()), lo*10)
	llo, lhi := math.Log10(lo), math.Log10(hi)*1.0001
	counts := make([]float64, bins)
	for _, b := range h.buckets() {
		mid := math.Max(float64(b.lo+b.hi)/2, lo)
		i := min(int((math.Log10(mid)-llo)/(lhi-llo)*bins), bins-1)
		counts[max(i, 0)] += float64(b.count)
	}
	ymax := 1.0
	for _, c := range counts {
		ymax = math.Max(ymax, c)
	}
	ymax = niceStep(ymax/5) * 5
	pw, ph := float64(plotW-marginL-marginR), float64(plotH-marginT-marginB)
	x := func(ns float64) float64 { return marginL + (math.Log10(ns)-llo)/(lhi-llo)*pw }
	y := func(c float64) float64 { return plotH - marginB - c/ymax*ph }
	s := newSVG(title)
	s.yTicks(ymax, y)
	bw := pw / bins
	for i, c := range counts {
		if c > 0 {
			fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1f77b4"/>`+"\n",
				marginL+float64(i)*bw, y(c), math.Max(bw-1, 1), plotH-marginB-y(c))
		}
	}
	for e := math.Floor(llo); e <= lhi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			s.line(x(v), plotH-marginB, x(v), plotH-marginB+5, "black", 1, "")
			s.text(x(v), plotH-marginB+18, "middle", 11, fmt.Sprintf("%g", v/1e6))
		}
	}
	for _, p := range []struct {
		q     float64
		label string
	}{{0.5, "p50"}, {0.99, "p99"}, {0.999, "p99.9"}} {
		v := float64(h.Percentile(p.q))
		if v >= lo && v <= hi {
			s.line(x(v), marginT, x(v), plotH-marginB, "#d62728", 1, "4,3")
			s.text(x(v)+3, marginT+12, "start", 11, fmt.Sprintf("%s %.3fms", p.label, v/1e6))
		}
	}
	s.axes("latency (ms, log scale)", "count")
	return s.String()
}

// throughputSVG draws each series rate over time as a line.
func throughputSVG(sr *Series, title string) string {
	tmax, ymax := 1.0, 1.0
	for i, t := range sr.T {
		tmax = math.Max(tmax, t)
		for _, v := range sr.Rates[i] {
			ymax = math.Max(ymax, v)
		}
	}
	ymax = niceStep(ymax/5) * 5
	pw, ph := float64(plotW-marginL-marginR), float64(plotH-marginT-marginB)
	x := func(t float64) float64 { return marginL + t/tmax*pw }
	y := func(v float64) float64 { return plotH - marginB - v/ymax*ph }
	s := newSVG(title)
	s.yTicks(ymax, y)
	step := niceStep(tmax / 8)
	for t := 0.0; t <= tmax*1.0001; t += step {
		s.line(x(t), plotH-marginB, x(t), plotH-marginB+5, "black", 1, "")
		s.text(x(t), plotH-marginB+18, "middle", 11, fmt.Sprintf("%g", t))
	}
	for k, name := range sr.Names {
		color := seriesColors[k%len(seriesColors)]
		var pts strings.Builder
		for i, t := range sr.T {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(t), y(sr.Rates[i][k]))
		}
		fmt.Fprintf(&s.b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, pts.String())
		ly := float64(marginT + 14 + 16*k)
		s.line(plotW-marginR-150, ly-4, plotW-marginR-130, ly-4, color, 3, "")
		s.text(plotW-marginR-125, ly, "start", 12, name+"/s")
	}
	s.axes("time (s)", "per second")
	return s.String()
}
