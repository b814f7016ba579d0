package bench

import (
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	p := payload{ch: 7, seq: 123456, sentNS: 1712345678901234567}
	for _, pad := range []int{0, 16} {
		b := appendPayload(nil, p, pad)
		got, ok := parsePayload(b)
		if !ok || got != p {
			t.Fatalf("pad %d: %s parsed as %+v %v", pad, b, got, ok)
		}
	}
	spaced := []byte(" { \"x\" : \"a\\\"b\" , \"t\" : 3 ,\"s\":2, \"c\": 1 } ")
	if got, ok := parsePayload(spaced); !ok || got != (payload{1, 2, 3}) {
		t.Fatalf("spaced: %+v %v", got, ok)
	}
	for _, bad := range []string{``, `[]`, `{"c":1,"s":2}`, `{"c":1,"s":x,"t":3}`, `{"c":1,"s":2,"t":3`, `{"c"`} {
		if _, ok := parsePayload([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	var tr seqTracker
	// 1 2 4 3 3 6 (5 lost, 3 duplicated, 3 out of order), then junk.
	for _, s := range []int64{1, 2, 4, 3, 3, 6, 0, -1, maxTrackedSeq + 1} {
		tr.observe(s)
	}
	if tr.unique != 5 || tr.dups != 1 || tr.reorder != 1 || tr.bad != 3 {
		t.Fatalf("tracker %+v", tr)
	}
	var d DeliveryCounts
	d.add(&tr, 6, true)
	want := DeliveryCounts{Expected: 6, Delivered: 5, Lost: 1, Duplicates: 1, OrderViolations: 1, Malformed: 3}
	if d != want {
		t.Fatalf("counts %+v, want %+v", d, want)
	}
	// Only 4 publishes succeeded: 6 is extra, 1..4 all seen.
	var e DeliveryCounts
	e.add(&tr, 4, true)
	if e.Lost != 0 || e.Extra != 1 {
		t.Fatalf("counts %+v", e)
	}
	// Sequence numbers across word boundaries.
	var big seqTracker
	for s := int64(1); s <= 200; s++ {
		if s != 64 && s != 128 {
			big.observe(s)
		}
	}
	if got := big.seenUpTo(200); got != 198 {
		t.Fatalf("seenUpTo(200) = %d", got)
	}
	if got := big.seenUpTo(63); got != 63 {
		t.Fatalf("seenUpTo(63) = %d", got)
	}
	if got := big.seenUpTo(64); got != 63 {
		t.Fatalf("seenUpTo(64) = %d", got)
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "42": 42, "-7": -7, "9223372036854775807": 1<<63 - 1} {
		if got, ok := atoi([]byte(in)); !ok || got != want {
			t.Errorf("atoi(%q) = %d %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "-", "1x", "9223372036854775808", "12345678901234567890"} {
		if _, ok := atoi([]byte(bad)); ok {
			t.Errorf("atoi(%q) ok", bad)
		}
	}
}

func BenchmarkParsePayload(b *testing.B) {
	data := appendPayload(nil, payload{ch: 3, seq: 12345, sentNS: 1712345678901234567}, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := parsePayload(data); !ok {
			b.Fatal("bad")
		}
	}
}
