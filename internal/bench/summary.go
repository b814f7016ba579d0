package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Summary compares labelled reports: for each scenario with the same
// parameters, the median (and range) of each figure per label, and the
// ratio of the first label's median to each other label's. Repeated, interleaved
// runs summarised by medians are what make a comparison on a shared,
// noisy machine meaningful.
type Summary struct {
	// Labels in the order they were first seen.
	Labels []string
	// Groups are the scenarios with their parameters, in the order seen.
	Groups []*SummaryGroup
}

// SummaryGroup is one scenario with one set of parameters.
type SummaryGroup struct {
	Scenario string
	Params   string // "k=v k=v", sorted by key
	// Figures are the compared figures, in a stable order.
	Figures []*SummaryFigure
}

// SummaryFigure is one figure's values by label.
type SummaryFigure struct {
	Name   string
	Values map[string][]float64 // by label, in the order read
}

// ReadReports reads the JSON report lines in r (as written by --json; other
// lines, such as the human summary, are skipped). name identifies r in
// errors.
func ReadReports(r io.Reader, name string) ([]*Report, error) {
	var reps []*Report
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] != '{' {
			continue
		}
		rep := new(Report)
		if err := json.Unmarshal(b, rep); err != nil {
			return nil, fmt.Errorf("%s:%d: not a bench report: %w", name, line, err)
		}
		if rep.Scenario == "" {
			return nil, fmt.Errorf("%s:%d: not a bench report: no scenario", name, line)
		}
		reps = append(reps, rep)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return reps, nil
}

// Summarize groups reports by scenario and parameters and collects the
// compared figures per label (reports without a label count as "-").
func Summarize(reps []*Report) *Summary {
	s := &Summary{}
	seenLabel := map[string]bool{}
	groups := map[string]*SummaryGroup{}
	for _, rep := range reps {
		label := rep.Label
		if label == "" {
			label = "-"
		}
		if !seenLabel[label] {
			seenLabel[label] = true
			s.Labels = append(s.Labels, label)
		}
		params := paramString(rep.Params)
		key := rep.Scenario + " " + params
		g := groups[key]
		if g == nil {
			g = &SummaryGroup{Scenario: rep.Scenario, Params: params}
			groups[key] = g
			s.Groups = append(s.Groups, g)
		}
		for _, f := range comparedFigures(rep) {
			g.add(label, f.name, f.value)
		}
	}
	return s
}

// faultsFigure counts delivery faults; the summary gives its sum over the
// runs, not a median: one faulty run must show.
const faultsFigure = "lost+duplicates+order_violations"

type namedValue struct {
	name  string
	value float64
}

// comparedFigures picks what a comparison shows from rep: the server's use
// (server_*), rates (*_per_sec), latency p50/p99, and delivery faults.
func comparedFigures(rep *Report) []namedValue {
	names := make([]string, 0, len(rep.Figures))
	for k := range rep.Figures {
		if strings.HasPrefix(k, "server_") || strings.HasSuffix(k, "_per_sec") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := make([]namedValue, 0, len(names)+3)
	for _, k := range names {
		out = append(out, namedValue{k, rep.Figures[k]})
	}
	if l := rep.Latency; l != nil && l.Count > 0 {
		out = append(out, namedValue{"latency_p50_ms", l.P50}, namedValue{"latency_p99_ms", l.P99})
	}
	if d := rep.Delivery; d != nil {
		out = append(out, namedValue{faultsFigure, float64(d.Lost + d.Duplicates + d.OrderViolations)})
	}
	return out
}

func (g *SummaryGroup) add(label, name string, v float64) {
	for _, f := range g.Figures {
		if f.Name == name {
			f.Values[label] = append(f.Values[label], v)
			return
		}
	}
	g.Figures = append(g.Figures, &SummaryFigure{Name: name, Values: map[string][]float64{label: {v}}})
}

// paramString renders params sorted by key.
func paramString(params map[string]any) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, params[k])
	}
	return strings.Join(parts, " ")
}

// median returns the median of vs (NaN when empty).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Median returns the median of the figure's values for label (NaN when it
// has none).
func (f *SummaryFigure) Median(label string) float64 { return median(f.Values[label]) }

// WriteMarkdown writes one table per group: per label the median, the
// range and the run count, then the first label's median as a ratio to
// each other label's.
func (s *Summary) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	for _, g := range s.Groups {
		fmt.Fprintf(&b, "### %s %s\n\n| figure |", g.Scenario, g.Params)
		for _, l := range s.Labels {
			fmt.Fprintf(&b, " %s: median (min–max, runs) |", l)
		}
		for _, l := range s.Labels[1:] {
			fmt.Fprintf(&b, " %s / %s |", s.Labels[0], l)
		}
		b.WriteString("\n|---|")
		b.WriteString(strings.Repeat("---|", 2*len(s.Labels)-1))
		b.WriteString("\n")
		for _, f := range g.Figures {
			fmt.Fprintf(&b, "| %s |", f.Name)
			for _, l := range s.Labels {
				vs := f.Values[l]
				if len(vs) == 0 {
					b.WriteString(" – |")
					continue
				}
				if f.Name == faultsFigure {
					sum := 0.0
					for _, v := range vs {
						sum += v
					}
					fmt.Fprintf(&b, " %s in all (%d) |", formatFigure(sum), len(vs))
					continue
				}
				lo, hi := vs[0], vs[0]
				for _, v := range vs {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
				fmt.Fprintf(&b, " %s (%s–%s, %d) |", formatFigure(median(vs)), formatFigure(lo), formatFigure(hi), len(vs))
			}
			base := f.Median(s.Labels[0])
			for _, l := range s.Labels[1:] {
				if f.Name == faultsFigure {
					b.WriteString(" – |")
					continue
				}
				r := base / f.Median(l)
				if math.IsNaN(r) || math.IsInf(r, 0) {
					b.WriteString(" – |")
					continue
				}
				fmt.Fprintf(&b, " %.2f |", r)
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
