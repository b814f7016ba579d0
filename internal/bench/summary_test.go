package bench

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummaryMediansAndRatios(t *testing.T) {
	var in bytes.Buffer
	add := func(label string, cpu, p99 float64, lost int64) {
		r := &Report{
			Scenario: "fanout", Label: label, Params: map[string]any{"subscribers": 1000, "rate": 100},
			Figures:  map[string]float64{"server_cpu_us_per_delivered": cpu, "delivered_per_sec": 1000, "publishes_ok": 10},
			Latency:  &LatencySummary{Count: 1, P50: p99 / 2, P99: p99},
			Delivery: &DeliveryCounts{Lost: lost},
		}
		if err := r.WriteHuman(&in); err != nil { // human lines are skipped
			t.Fatal(err)
		}
		if err := r.WriteJSON(&in); err != nil {
			t.Fatal(err)
		}
	}
	add("herald", 8, 20, 0)
	add("other", 12, 30, 0)
	add("herald", 9, 10, 0)
	add("other", 16, 40, 1)
	add("herald", 7, 30, 0)
	reps, err := ReadReports(&in, "runs.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 5 {
		t.Fatalf("read %d reports, want 5", len(reps))
	}
	s := Summarize(reps)
	if len(s.Labels) != 2 || s.Labels[0] != "herald" || len(s.Groups) != 1 {
		t.Fatalf("labels %v, %d groups", s.Labels, len(s.Groups))
	}
	var cpu *SummaryFigure
	for _, f := range s.Groups[0].Figures {
		if f.Name == "publishes_ok" {
			t.Error("a figure that is neither server use nor a rate is compared")
		}
		if f.Name == "server_cpu_us_per_delivered" {
			cpu = f
		}
	}
	if cpu == nil || cpu.Median("herald") != 8 || cpu.Median("other") != 14 {
		t.Fatalf("cpu medians: %+v", cpu)
	}
	var out strings.Builder
	if err := s.WriteMarkdown(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### fanout rate=100 subscribers=1000",
		"| herald / other |",
		"| server_cpu_us_per_delivered | 8 (7–9, 3) | 14 (12–16, 2) | 0.57 |",
		"| latency_p99_ms | 20 (10–30, 3) | 35 (30–40, 2) | 0.57 |",
		"| lost+duplicates+order_violations | 0 in all (3) | 1 in all (2) | – |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestReadReportsRejectsOtherJSON(t *testing.T) {
	for _, in := range []string{
		"{\"scenario\": \"fanout\"\n",     // cut short
		"ok\n{\"log\": {\"level\": 1}}\n", // JSON, but not a report
	} {
		if _, err := ReadReports(strings.NewReader(in), "x.json"); err == nil || !strings.Contains(err.Error(), "x.json:") {
			t.Errorf("ReadReports(%q) error = %v; want one naming the file and line", in, err)
		}
	}
}
