package brokertest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
)

// RunBroker runs the broker.Broker conformance suite. newBroker must return
// a new, unstarted broker for each call and arrange (with t.Cleanup) for it
// to be closed; the suite calls Start itself. If the broker implements Clock
// the expiry subtests use it instead of real time; if it implements
// broker.Closer the suite also checks Close semantics.
func RunBroker(t *testing.T, newBroker func(t *testing.T) broker.Broker) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newBroker func(t *testing.T) broker.Broker)
	}{
		{"PublishWithoutHistory", testPublishWithoutHistory},
		{"PublishWithHistory", testPublishWithHistory},
		{"PublicationFields", testPublicationFields},
		{"HistoryCreatesMeta", testHistoryCreatesMeta},
		{"HistoryLimit", testHistoryLimit},
		{"HistorySince", testHistorySince},
		{"HistoryReverse", testHistoryReverse},
		{"HistoryErrors", testHistoryErrors},
		{"HistorySize", testHistorySize},
		{"HistoryTTL", testHistoryTTL},
		{"HistoryMetaTTL", testHistoryMetaTTL},
		{"RemoveHistory", testRemoveHistory},
		{"ChannelIsolation", testChannelIsolation},
		{"Idempotency", testIdempotency},
		{"IdempotencyExpiry", testIdempotencyExpiry},
		{"VersionSuppression", testVersionSuppression},
		{"DeltaPrev", testDeltaPrev},
		{"JoinLeave", testJoinLeave},
		{"EventOrder", testEventOrder},
		{"ConcurrentOrdering", testConcurrentOrdering},
		{"SubscribeUnsubscribe", testSubscribeUnsubscribe},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBroker) })
	}
}

func testPublishWithoutHistory(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("nohist")
	// HistorySize or HistoryTTL zero: no stream.
	for i, opts := range []broker.PublishOptions{
		{},
		{HistorySize: 10},
		{HistoryTTL: time.Minute},
	} {
		res := h.publish(ch, fmt.Sprint("m", i), opts)
		if res.Position != (broker.StreamPosition{}) || res.Suppressed {
			t.Fatalf("publish %d: result %+v, want zero", i, res)
		}
	}
	evs := h.rec.wait(t, ch, 3)
	for i, e := range evs {
		if e.kind != "pub" || string(e.pub.Data) != fmt.Sprint("m", i) {
			t.Fatalf("event %d: %+v", i, e)
		}
		if e.sp != (broker.StreamPosition{}) || e.pub.Offset != 0 {
			t.Fatalf("event %d: position %+v offset %d, want zero", i, e.sp, e.pub.Offset)
		}
	}
	pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
	if len(pubs) != 0 || sp.Offset != 0 {
		t.Fatalf("history after publishes without history: %d pubs at %+v", len(pubs), sp)
	}
}

func testPublishWithHistory(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("hist")
	var epoch string
	for i := 1; i <= 5; i++ {
		res := h.publish(ch, fmt.Sprint("m", i), historyOpts())
		if res.Suppressed || res.Position.Offset != uint64(i) {
			t.Fatalf("publish %d: result %+v", i, res)
		}
		if i == 1 {
			epoch = res.Position.Epoch
			checkEpoch(t, epoch)
		} else if res.Position.Epoch != epoch {
			t.Fatalf("publish %d: epoch %q changed from %q", i, res.Position.Epoch, epoch)
		}
	}
	evs := h.rec.wait(t, ch, 5)
	for i, e := range evs {
		want := broker.StreamPosition{Offset: uint64(i + 1), Epoch: epoch}
		if e.sp != want || e.pub.Offset != want.Offset {
			t.Fatalf("event %d: position %+v offset %d, want %+v", i, e.sp, e.pub.Offset, want)
		}
	}
	pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "history", pubs, seq(1, 5))
	if sp != (broker.StreamPosition{Offset: 5, Epoch: epoch}) {
		t.Fatalf("history position %+v", sp)
	}
	for i, p := range pubs {
		if string(p.Data) != fmt.Sprint("m", i+1) {
			t.Fatalf("history[%d] data %q", i, p.Data)
		}
	}
}

func testPublicationFields(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("fields")
	info := &broker.ClientInfo{User: "u1", Client: "c1", ConnInfo: []byte(`{"a":1}`), ChanInfo: []byte(`{"b":2}`)}
	tags := map[string]string{"k": "v", "x": "y"}
	opts := historyOpts()
	opts.ClientInfo, opts.Tags = info, tags
	h.publish(ch, "payload", opts)
	evs := h.rec.wait(t, ch, 1)
	pubs, _ := h.history(ch, broker.HistoryFilter{Limit: -1})
	if len(pubs) != 1 {
		t.Fatalf("history: %d pubs", len(pubs))
	}
	for what, p := range map[string]*broker.Publication{"delivered": evs[0].pub, "history": pubs[0]} {
		if string(p.Data) != "payload" || p.Offset != 1 {
			t.Fatalf("%s: data %q offset %d", what, p.Data, p.Offset)
		}
		if p.Info == nil || p.Info.User != info.User || p.Info.Client != info.Client ||
			!bytes.Equal(p.Info.ConnInfo, info.ConnInfo) || !bytes.Equal(p.Info.ChanInfo, info.ChanInfo) {
			t.Fatalf("%s: info %+v, want %+v", what, p.Info, info)
		}
		if !maps.Equal(p.Tags, tags) {
			t.Fatalf("%s: tags %v, want %v", what, p.Tags, tags)
		}
		if p.Time <= 0 {
			t.Fatalf("%s: time %d not set", what, p.Time)
		}
	}
}

func testHistoryCreatesMeta(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("meta")
	pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
	if len(pubs) != 0 || sp.Offset != 0 {
		t.Fatalf("never-published channel: %d pubs at %+v", len(pubs), sp)
	}
	checkEpoch(t, sp.Epoch)
	_, sp2 := h.history(ch, broker.HistoryFilter{})
	if sp2 != sp {
		t.Fatalf("second read: %+v, want %+v", sp2, sp)
	}
	res := h.publish(ch, "m", historyOpts())
	if res.Position != (broker.StreamPosition{Offset: 1, Epoch: sp.Epoch}) {
		t.Fatalf("first publish after read: %+v, want offset 1 epoch %q", res.Position, sp.Epoch)
	}
}

// publishN publishes m1..mN with history and returns the epoch.
func (h *harness) publishN(ch string, n int, opts broker.PublishOptions) string {
	h.t.Helper()
	var epoch string
	for i := 1; i <= n; i++ {
		epoch = h.publish(ch, fmt.Sprint("m", i), opts).Position.Epoch
	}
	return epoch
}

func testHistoryLimit(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("limit")
	epoch := h.publishN(ch, 10, historyOpts())
	top := broker.StreamPosition{Offset: 10, Epoch: epoch}
	for _, tc := range []struct {
		limit int
		want  []uint64
	}{
		{0, nil},
		{-1, seq(1, 10)},
		{1, seq(1, 1)},
		{3, seq(1, 3)},
		{10, seq(1, 10)},
		{50, seq(1, 10)},
	} {
		pubs, sp := h.history(ch, broker.HistoryFilter{Limit: tc.limit})
		checkOffsets(t, fmt.Sprint("limit ", tc.limit), pubs, tc.want)
		if sp != top {
			t.Fatalf("limit %d: position %+v, want %+v", tc.limit, sp, top)
		}
	}
}

func testHistorySince(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("since")
	epoch := h.publishN(ch, 10, historyOpts())
	since := func(o uint64) *broker.StreamPosition { return &broker.StreamPosition{Offset: o, Epoch: epoch} }
	for _, tc := range []struct {
		since uint64
		limit int
		want  []uint64
	}{
		{0, -1, seq(1, 10)},
		{5, -1, seq(6, 10)},
		{5, 2, seq(6, 7)},
		{5, 0, nil},
		{9, -1, seq(10, 10)},
		{10, -1, nil}, // since the top: nothing new
		{20, -1, nil}, // beyond the top
	} {
		pubs, sp := h.history(ch, broker.HistoryFilter{Since: since(tc.since), Limit: tc.limit})
		checkOffsets(t, fmt.Sprintf("since %d limit %d", tc.since, tc.limit), pubs, tc.want)
		if sp.Offset != 10 || sp.Epoch != epoch {
			t.Fatalf("since %d: position %+v", tc.since, sp)
		}
	}
}

func testHistoryReverse(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("reverse")
	epoch := h.publishN(ch, 10, historyOpts())
	since := func(o uint64) *broker.StreamPosition { return &broker.StreamPosition{Offset: o, Epoch: epoch} }
	for _, tc := range []struct {
		since *broker.StreamPosition
		limit int
		want  []uint64
	}{
		{nil, -1, seq(10, 1)},
		{nil, 3, seq(10, 8)},
		{nil, 0, nil},
		{since(5), -1, seq(4, 1)},
		{since(5), 2, seq(4, 3)},
		{since(1), -1, nil},
		{since(11), -1, seq(10, 1)},
		{since(30), 2, seq(10, 9)},
	} {
		pubs, _ := h.history(ch, broker.HistoryFilter{Since: tc.since, Limit: tc.limit, Reverse: true})
		checkOffsets(t, fmt.Sprintf("reverse since %v limit %d", tc.since, tc.limit), pubs, tc.want)
	}
	pubs, _ := h.history(ch, broker.HistoryFilter{Limit: 1, Reverse: true})
	if len(pubs) != 1 || string(pubs[0].Data) != "m10" {
		t.Fatalf("newest publication: %+v", pubs)
	}
}

func testHistoryErrors(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("errors")
	epoch := h.publishN(ch, 3, historyOpts())
	other := "zzzzzzzz"
	if epoch == other {
		other = "yyyyyyyy"
	}
	for _, f := range []broker.HistoryFilter{
		{Since: &broker.StreamPosition{Offset: 1, Epoch: other}, Limit: -1},
		{Since: &broker.StreamPosition{Offset: 0, Epoch: other}, Limit: 0},
		{Since: &broker.StreamPosition{Offset: 2, Epoch: other}, Limit: -1, Reverse: true},
	} {
		_, _, err := h.b.History(h.ctx, ch, broker.HistoryOptions{Filter: f})
		if !errors.Is(err, broker.ErrUnrecoverablePosition) {
			t.Fatalf("History(%+v): err %v, want ErrUnrecoverablePosition", f, err)
		}
	}
	for _, f := range []broker.HistoryFilter{
		{Since: &broker.StreamPosition{Offset: 0, Epoch: epoch}, Limit: -1, Reverse: true},
		{Since: &broker.StreamPosition{Offset: 0, Epoch: epoch}, Limit: 0, Reverse: true},
	} {
		_, _, err := h.b.History(h.ctx, ch, broker.HistoryOptions{Filter: f})
		if !errors.Is(err, broker.ErrBadRequest) {
			t.Fatalf("History(%+v): err %v, want ErrBadRequest", f, err)
		}
	}
	// Errors leave the stream intact.
	pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "after errors", pubs, seq(1, 3))
	if sp.Epoch != epoch {
		t.Fatalf("epoch changed to %q", sp.Epoch)
	}
}

func testHistorySize(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("size")
	opts := broker.PublishOptions{HistorySize: 3, HistoryTTL: time.Hour}
	epoch := h.publishN(ch, 5, opts)
	pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "size 3 after 5", pubs, seq(3, 5))
	if sp != (broker.StreamPosition{Offset: 5, Epoch: epoch}) {
		t.Fatalf("position %+v", sp)
	}
	// A since older than the oldest retained publication yields what is
	// retained; the caller detects the gap from the first offset.
	pubs, _ = h.history(ch, broker.HistoryFilter{Since: &broker.StreamPosition{Offset: 1, Epoch: epoch}, Limit: -1})
	checkOffsets(t, "since trimmed offset", pubs, seq(3, 5))
	pubs, _ = h.history(ch, broker.HistoryFilter{Limit: -1, Reverse: true})
	checkOffsets(t, "reverse", pubs, seq(5, 3))
	// Size 1 keeps only the latest (cache recovery mode).
	opts.HistorySize = 1
	h.publish(ch, "m6", opts)
	pubs, _ = h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "size 1", pubs, seq(6, 6))
}

// advance lets d elapse for a broker implementing Clock and reports
// true; otherwise it reports false and the caller polls in real time.
func advance(b broker.Broker, d time.Duration) bool {
	c, ok := b.(Clock)
	if ok {
		c.Advance(d)
	}
	return ok
}

func testHistoryTTL(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("ttl")
	_, clocked := h.b.(Clock)
	ttl := 300 * time.Millisecond
	if clocked {
		ttl = time.Minute
	}
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: ttl}
	epoch := h.publishN(ch, 3, opts)
	pubs, _ := h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "before expiry", pubs, seq(1, 3))

	if advance(h.b, 2*ttl) {
		pubs, _ = h.history(ch, broker.HistoryFilter{Limit: -1})
	} else {
		eventually(t, waitTimeout, func() bool {
			pubs, _ = h.history(ch, broker.HistoryFilter{Limit: -1})
			return len(pubs) == 0
		})
	}
	if len(pubs) != 0 {
		t.Fatalf("history TTL elapsed: %d pubs remain", len(pubs))
	}
	// The meta outlives the publications.
	_, sp := h.history(ch, broker.HistoryFilter{})
	if sp != (broker.StreamPosition{Offset: 3, Epoch: epoch}) {
		t.Fatalf("position after history expiry %+v, want offset 3 epoch %q", sp, epoch)
	}
	res := h.publish(ch, "m4", opts)
	if res.Position != (broker.StreamPosition{Offset: 4, Epoch: epoch}) {
		t.Fatalf("publish after history expiry: %+v", res.Position)
	}
}

func testHistoryMetaTTL(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("metattl")
	if _, clocked := h.b.(Clock); clocked {
		opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute, HistoryMetaTTL: time.Hour}
		epoch := h.publishN(ch, 3, opts)
		read := func() ([]*broker.Publication, broker.StreamPosition) {
			pubs, sp, err := h.b.History(h.ctx, ch, broker.HistoryOptions{Filter: broker.HistoryFilter{Limit: -1}, MetaTTL: time.Hour})
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			return pubs, sp
		}
		advance(h.b, 40*time.Minute)
		if _, sp := read(); sp != (broker.StreamPosition{Offset: 3, Epoch: epoch}) {
			t.Fatalf("meta within TTL: %+v", sp)
		}
		// 80 minutes after the publish but 40 after the read: reads refresh meta.
		advance(h.b, 40*time.Minute)
		if _, sp := read(); sp != (broker.StreamPosition{Offset: 3, Epoch: epoch}) {
			t.Fatalf("meta refreshed by read: %+v", sp)
		}
		advance(h.b, 2*time.Hour)
		pubs, sp := read()
		if len(pubs) != 0 || sp.Offset != 0 || sp.Epoch == epoch {
			t.Fatalf("meta expired: %d pubs at %+v, want none at offset 0 with an epoch other than %q", len(pubs), sp, epoch)
		}
		checkEpoch(t, sp.Epoch)
		res := h.publish(ch, "m", opts)
		if res.Position != (broker.StreamPosition{Offset: 1, Epoch: sp.Epoch}) {
			t.Fatalf("publish after meta expiry: %+v, want offset 1 epoch %q", res.Position, sp.Epoch)
		}
		// The default meta TTL (30 days) applies when zero.
		opts.HistoryMetaTTL = 0
		h.publish(ch, "m2", opts)
		advance(h.b, 29*24*time.Hour)
		if _, sp2, _ := h.b.History(h.ctx, ch, broker.HistoryOptions{}); sp2.Epoch != sp.Epoch {
			t.Fatalf("default meta TTL: epoch changed after 29 days")
		}
		advance(h.b, 31*24*time.Hour)
		if _, sp3, _ := h.b.History(h.ctx, ch, broker.HistoryOptions{}); sp3.Epoch == sp.Epoch || sp3.Offset != 0 {
			t.Fatalf("default meta TTL: stream %+v survived 31 idle days", sp3)
		}
		return
	}
	// Real time: every probe refreshes the meta, so probe less often than
	// the TTL.
	ttl := 300 * time.Millisecond
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: ttl, HistoryMetaTTL: ttl}
	epoch := h.publishN(ch, 3, opts)
	var sp broker.StreamPosition
	eventuallyEvery(t, waitTimeout, 3*ttl, func() bool {
		var err error
		_, sp, err = h.b.History(h.ctx, ch, broker.HistoryOptions{MetaTTL: ttl})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		return sp.Epoch != epoch
	})
	if sp.Offset != 0 {
		t.Fatalf("meta expired: offset %d, want 0", sp.Offset)
	}
	checkEpoch(t, sp.Epoch)
}

func testRemoveHistory(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("remove")
	if err := h.b.RemoveHistory(h.ctx, channelName("never")); err != nil {
		t.Fatalf("RemoveHistory on unknown channel: %v", err)
	}
	epoch := h.publishN(ch, 3, historyOpts())
	if err := h.b.RemoveHistory(h.ctx, ch); err != nil {
		t.Fatalf("RemoveHistory: %v", err)
	}
	pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
	if len(pubs) != 0 || sp != (broker.StreamPosition{Offset: 3, Epoch: epoch}) {
		t.Fatalf("after RemoveHistory: %d pubs at %+v, want none at offset 3 epoch %q", len(pubs), sp, epoch)
	}
	res := h.publish(ch, "m4", historyOpts())
	if res.Position != (broker.StreamPosition{Offset: 4, Epoch: epoch}) {
		t.Fatalf("publish after RemoveHistory: %+v", res.Position)
	}
	pubs, _ = h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "after republish", pubs, seq(4, 4))
}

func testChannelIsolation(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	a, b := h.channel("iso-a"), h.channel("iso-b")
	h.publishN(a, 3, historyOpts())
	res := h.publish(b, "b1", historyOpts())
	if res.Position.Offset != 1 {
		t.Fatalf("second channel starts at offset %d", res.Position.Offset)
	}
	pa, spa := h.history(a, broker.HistoryFilter{Limit: -1})
	pb, spb := h.history(b, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "a", pa, seq(1, 3))
	checkOffsets(t, "b", pb, seq(1, 1))
	if spa.Epoch == spb.Epoch {
		t.Fatalf("two streams share epoch %q", spa.Epoch)
	}
	if err := h.b.RemoveHistory(h.ctx, a); err != nil {
		t.Fatal(err)
	}
	pb, _ = h.history(b, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "b after removing a", pb, seq(1, 1))
}

func testIdempotency(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("idem")
	opts := historyOpts()
	opts.IdempotencyKey = "k1"
	first := h.publish(ch, "first", opts)
	if first.Suppressed || first.Position.Offset != 1 {
		t.Fatalf("first publish: %+v", first)
	}
	dup := h.publish(ch, "second", opts)
	if !dup.Suppressed || dup.Position != first.Position {
		t.Fatalf("duplicate: %+v, want first position %+v suppressed", dup, first.Position)
	}
	opts.IdempotencyKey = "k2"
	other := h.publish(ch, "third", opts)
	if other.Suppressed || other.Position.Offset != 2 {
		t.Fatalf("other key: %+v", other)
	}
	if got := pubData(h.rec.waitData(t, ch, "third")); !slices.Equal(got, []string{"first", "third"}) {
		t.Fatalf("delivered %v, want [first third]", got)
	}
	pubs, _ := h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "history", pubs, seq(1, 2))

	// Idempotency works without history too.
	ch2 := h.channel("idem-nohist")
	noHist := broker.PublishOptions{IdempotencyKey: "k"}
	if r := h.publish(ch2, "a", noHist); r.Suppressed {
		t.Fatalf("first publish without history suppressed")
	}
	if r := h.publish(ch2, "b", noHist); !r.Suppressed {
		t.Fatalf("duplicate without history not suppressed")
	}
	h.publish(ch2, "sentinel", broker.PublishOptions{})
	if got := pubData(h.rec.waitData(t, ch2, "sentinel")); !slices.Equal(got, []string{"a", "sentinel"}) {
		t.Fatalf("delivered %v, want [a sentinel]", got)
	}
	// Keys are per channel.
	if r := h.publish(h.channel("idem-other"), "c", noHist); r.Suppressed {
		t.Fatalf("key of another channel suppressed a publish")
	}
}

func testIdempotencyExpiry(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("idemttl")
	if _, clocked := h.b.(Clock); clocked {
		opts := historyOpts()
		opts.IdempotencyKey = "k"
		h.publish(ch, "a", opts) // default TTL: 5 minutes
		advance(h.b, 4*time.Minute)
		if r := h.publish(ch, "b", opts); !r.Suppressed {
			t.Fatalf("key expired before the 5 minute default")
		}
		advance(h.b, 2*time.Minute)
		if r := h.publish(ch, "c", opts); r.Suppressed || r.Position.Offset != 2 {
			t.Fatalf("after default TTL: %+v, want offset 2", r)
		}
		opts.IdempotencyKey, opts.IdempotentResultTTL = "k2", 10*time.Second
		h.publish(ch, "d", opts)
		advance(h.b, 11*time.Second)
		if r := h.publish(ch, "e", opts); r.Suppressed {
			t.Fatalf("key outlived IdempotentResultTTL")
		}
		return
	}
	opts := historyOpts()
	opts.IdempotencyKey, opts.IdempotentResultTTL = "k", 300*time.Millisecond
	h.publish(ch, "a", opts)
	eventually(t, waitTimeout, func() bool {
		return !h.publish(ch, "again", opts).Suppressed
	})
}

func testVersionSuppression(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("version")
	pub := func(data string, version uint64, epoch string) broker.PublishResult {
		opts := historyOpts()
		opts.Version, opts.VersionEpoch = version, epoch
		return h.publish(ch, data, opts)
	}
	r := pub("v1", 1, "a")
	if r.Suppressed || r.Position.Offset != 1 {
		t.Fatalf("v1: %+v", r)
	}
	streamEpoch := r.Position.Epoch
	for _, tc := range []struct {
		data       string
		version    uint64
		epoch      string
		suppressed bool
		offset     uint64
	}{
		{"v1-again", 1, "a", true, 1},
		{"v0", 0, "a", false, 2}, // version 0: no check
		{"v3", 3, "a", false, 3},
		{"v2", 2, "a", true, 3},
		{"v3-again", 3, "a", true, 3},
		{"v2-noepoch", 2, "", true, 3}, // empty epoch matches the stored one
		{"v1-b", 1, "b", false, 4},     // new version epoch resets
		{"v1-b-again", 1, "b", true, 4},
		{"v2-b", 2, "b", false, 5},
	} {
		r := pub(tc.data, tc.version, tc.epoch)
		want := broker.StreamPosition{Offset: tc.offset, Epoch: streamEpoch}
		if r.Suppressed != tc.suppressed || r.Position != want {
			t.Fatalf("%s: %+v, want suppressed=%v at %+v", tc.data, r, tc.suppressed, want)
		}
	}
	got := pubData(h.rec.waitData(t, ch, "v2-b"))
	if want := []string{"v1", "v0", "v3", "v1-b", "v2-b"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	pubs, _ := h.history(ch, broker.HistoryFilter{Limit: -1})
	checkOffsets(t, "history", pubs, seq(1, 5))
}

func testDeltaPrev(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("delta")
	delta := historyOpts()
	delta.UseDelta = true
	h.publish(ch, "d1", delta)
	h.publish(ch, "d2", delta)
	h.publish(ch, "plain", historyOpts())
	h.publish(ch, "d4", delta)
	evs := h.rec.wait(t, ch, 4)
	if !evs[0].useDelta || evs[0].prev != nil {
		t.Fatalf("first delta publication: useDelta=%v prev=%+v, want true and nil", evs[0].useDelta, evs[0].prev)
	}
	if !evs[1].useDelta || evs[1].prev == nil || string(evs[1].prev.Data) != "d1" || evs[1].prev.Offset != 1 {
		t.Fatalf("second: useDelta=%v prev=%+v, want d1 at offset 1", evs[1].useDelta, evs[1].prev)
	}
	if evs[2].useDelta || evs[2].prev != nil {
		t.Fatalf("without UseDelta: useDelta=%v prev=%+v", evs[2].useDelta, evs[2].prev)
	}
	if evs[3].prev == nil || string(evs[3].prev.Data) != "plain" || evs[3].prev.Offset != 3 {
		t.Fatalf("fourth: prev=%+v, want plain at offset 3", evs[3].prev)
	}
}

func testJoinLeave(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("joinleave")
	info := &broker.ClientInfo{User: "u", Client: "c", ConnInfo: []byte(`{"n":1}`), ChanInfo: []byte("x")}
	if err := h.b.PublishJoin(h.ctx, ch, info); err != nil {
		t.Fatalf("PublishJoin: %v", err)
	}
	if err := h.b.PublishLeave(h.ctx, ch, info); err != nil {
		t.Fatalf("PublishLeave: %v", err)
	}
	evs := h.rec.wait(t, ch, 2)
	for i, kind := range []string{"join", "leave"} {
		e := evs[i]
		if e.kind != kind || e.info == nil || e.info.User != "u" || e.info.Client != "c" ||
			!bytes.Equal(e.info.ConnInfo, info.ConnInfo) || !bytes.Equal(e.info.ChanInfo, info.ChanInfo) {
			t.Fatalf("event %d: %s %+v, want %s %+v", i, e.kind, e.info, kind, info)
		}
	}
	// Join and leave are never stored.
	pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
	if len(pubs) != 0 || sp.Offset != 0 {
		t.Fatalf("join/leave stored: %d pubs at %+v", len(pubs), sp)
	}
}

func testEventOrder(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("order")
	info := &broker.ClientInfo{User: "u", Client: "c"}
	h.publish(ch, "p1", historyOpts())
	if err := h.b.PublishJoin(h.ctx, ch, info); err != nil {
		t.Fatal(err)
	}
	h.publish(ch, "p2", broker.PublishOptions{})
	if err := h.b.PublishLeave(h.ctx, ch, info); err != nil {
		t.Fatal(err)
	}
	h.publish(ch, "p3", historyOpts())
	evs := h.rec.wait(t, ch, 5)
	var got []string
	for _, e := range evs {
		if e.kind == "pub" {
			got = append(got, string(e.pub.Data))
		} else {
			got = append(got, e.kind)
		}
	}
	if want := []string{"p1", "join", "p2", "leave", "p3"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func testConcurrentOrdering(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	const channels, publishers, perPublisher = 8, 8, 40
	chs := make([]string, channels)
	for i := range chs {
		chs[i] = h.channel(fmt.Sprint("conc-", i))
	}
	opts := broker.PublishOptions{HistorySize: channels * publishers * perPublisher, HistoryTTL: time.Hour}
	results := make([][]broker.PublishResult, publishers)
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				for c, ch := range chs {
					res, err := h.b.Publish(h.ctx, ch, fmt.Appendf(nil, "%d/%d/%d", p, i, c), opts)
					if err != nil {
						errs <- err
						return
					}
					results[p] = append(results[p], res)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}
	// Every channel received 1..N in offset order, and the delivered
	// publication at each offset is the one in history.
	const n = publishers * perPublisher
	for _, ch := range chs {
		evs := h.rec.wait(t, ch, n)
		pubs, sp := h.history(ch, broker.HistoryFilter{Limit: -1})
		checkOffsets(t, ch, pubs, seq(1, n))
		for i, e := range evs {
			if e.pub.Offset != uint64(i+1) || e.sp.Offset != uint64(i+1) || e.sp.Epoch != sp.Epoch {
				t.Fatalf("%s: event %d has offset %d position %+v", ch, i, e.pub.Offset, e.sp)
			}
			if !bytes.Equal(e.pub.Data, pubs[i].Data) {
				t.Fatalf("%s: offset %d delivered %q, history has %q", ch, i+1, e.pub.Data, pubs[i].Data)
			}
		}
	}
	// Each publisher saw strictly increasing offsets per channel.
	for p, rs := range results {
		last := make([]uint64, channels)
		for i, r := range rs {
			c := i % channels
			if r.Position.Offset <= last[c] {
				t.Fatalf("publisher %d: offset %d after %d in channel %d", p, r.Position.Offset, last[c], c)
			}
			last[c] = r.Position.Offset
		}
	}
}

func testSubscribeUnsubscribe(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	ch := h.channel("sub")
	if err := h.b.Subscribe(h.ctx, ch); err != nil {
		t.Fatalf("second Subscribe: %v", err)
	}
	h.publish(ch, "m", broker.PublishOptions{})
	h.rec.waitData(t, ch, "m")
	if err := h.b.Unsubscribe(h.ctx, ch); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	if err := h.b.Unsubscribe(h.ctx, channelName("never")); err != nil {
		t.Fatalf("Unsubscribe of a channel never subscribed: %v", err)
	}
}

func testClose(t *testing.T, nb func(t *testing.T) broker.Broker) {
	h := startBroker(t, nb)
	c, ok := h.b.(broker.Closer)
	if !ok {
		t.Skip("broker does not implement broker.Closer")
	}
	ch := h.channel("close")
	if err := c.Close(h.ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(h.ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := h.b.Publish(h.ctx, ch, []byte("x"), historyOpts()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want ErrClosed", err)
	}
	if _, _, err := h.b.History(h.ctx, ch, broker.HistoryOptions{}); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("History after Close: %v, want ErrClosed", err)
	}
}
