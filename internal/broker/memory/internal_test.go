package memory

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
)

// nopHandler discards events; if onPub is set it is called for publications.
type nopHandler struct {
	onPub func(ch string, pub *broker.Publication)
}

func (h nopHandler) HandlePublication(ch string, pub *broker.Publication, _ broker.StreamPosition, _ bool, _ *broker.Publication) error {
	if h.onPub != nil {
		h.onPub(ch, pub)
	}
	return nil
}
func (nopHandler) HandleJoin(string, *broker.ClientInfo) error  { return nil }
func (nopHandler) HandleLeave(string, *broker.ClientInfo) error { return nil }

// manualClock is a fake clock in Unix nanoseconds.
type manualClock struct{ ns atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *manualClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func startedBroker(t *testing.T, opts Options, h broker.EventHandler) *Broker {
	t.Helper()
	b := New(opts)
	if h == nil {
		h = nopHandler{}
	}
	if err := b.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

// numChannels counts the channel states held by b.
func (b *Broker) numChannels() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		n += len(s.channels)
		s.mu.Unlock()
	}
	return n
}

// retainedPubs counts the publications held by b.
func (b *Broker) retainedPubs() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		for _, c := range s.channels {
			n += c.n
		}
		s.mu.Unlock()
	}
	return n
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	b := New(Options{})
	if err := b.Subscribe(ctx, "ch"); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Subscribe before Start: %v", err)
	}
	if _, err := b.Publish(ctx, "ch", nil, broker.PublishOptions{}); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("Publish before Start: %v", err)
	}
	if _, _, err := b.History(ctx, "ch", broker.HistoryOptions{}); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("History before Start: %v", err)
	}
	if err := b.Start(ctx, nil); err == nil {
		t.Fatal("Start with nil handler succeeded")
	}
	if err := b.Start(ctx, nopHandler{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx, nopHandler{}); err == nil {
		t.Fatal("second Start succeeded")
	}
	if err := b.Subscribe(ctx, "ch"); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Subscribe":    b.Subscribe(ctx, "ch"),
		"Unsubscribe":  b.Unsubscribe(ctx, "ch"),
		"PublishJoin":  b.PublishJoin(ctx, "ch", nil),
		"PublishLeave": b.PublishLeave(ctx, "ch", nil),
		"Remove":       b.RemoveHistory(ctx, "ch"),
		"Control":      b.PublishControl(ctx, nil, ""),
		"Start":        b.Start(ctx, nopHandler{}),
	} {
		if !errors.Is(err, broker.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	// Close without Start.
	if err := New(Options{}).Close(ctx); err != nil {
		t.Fatalf("Close of an unstarted broker: %v", err)
	}
}

type controlRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *controlRecorder) HandleControl(data []byte) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(data))
	r.mu.Unlock()
	return nil
}

func TestControlLoopback(t *testing.T) {
	ctx := context.Background()
	b := startedBroker(t, Options{}, nil)
	if err := b.PublishControl(ctx, []byte("x"), ""); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("PublishControl before StartControl: %v", err)
	}
	rec := &controlRecorder{}
	if err := b.StartControl(ctx, "node-1", rec); err != nil {
		t.Fatal(err)
	}
	if err := b.StartControl(ctx, "node-1", rec); err == nil {
		t.Fatal("second StartControl succeeded")
	}
	for _, to := range []string{"", "node-1", "node-2"} {
		if err := b.PublishControl(ctx, []byte("to:"+to), to); err != nil {
			t.Fatalf("PublishControl(%q): %v", to, err)
		}
	}
	if got := rec.msgs; len(got) != 2 || got[0] != "to:" || got[1] != "to:node-1" {
		t.Fatalf("delivered %q, want broadcast and own-node messages only", got)
	}
}

func TestSweepFreesIdleChannels(t *testing.T) {
	ctx := context.Background()
	clk := newManualClock()
	b := startedBroker(t, Options{Now: clk.Now, SweepInterval: time.Hour}, nil)
	hist := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute, HistoryMetaTTL: time.Hour}
	const n = 1000 // more than one sweep batch per shard on average
	for i := range n {
		ch := "h" + strconv.Itoa(i)
		for range 3 {
			if _, err := b.Publish(ctx, ch, []byte("x"), hist); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Publish(ctx, "i"+strconv.Itoa(i), []byte("x"), broker.PublishOptions{IdempotencyKey: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Publish(ctx, "plain", []byte("x"), broker.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := b.numChannels(); got != 2*n {
		t.Fatalf("channels: %d, want %d (no state for publishes without history or key)", got, 2*n)
	}
	if got := b.retainedPubs(); got != 3*n {
		t.Fatalf("retained: %d, want %d", got, 3*n)
	}
	clk.Advance(2 * time.Minute) // history expired, meta alive
	b.sweepAll()
	if got := b.retainedPubs(); got != 0 {
		t.Fatalf("retained after history TTL: %d", got)
	}
	if got := b.numChannels(); got != 2*n {
		t.Fatalf("channels after history TTL: %d, want %d (meta and keys kept)", got, 2*n)
	}
	clk.Advance(10 * time.Minute) // idempotency results expired too
	b.sweepAll()
	if got := b.numChannels(); got != n {
		t.Fatalf("channels after idempotency TTL: %d, want %d (meta kept)", got, n)
	}
	clk.Advance(time.Hour) // meta expired
	b.sweepAll()
	if got := b.numChannels(); got != 0 {
		t.Fatalf("channels after meta TTL: %d, want 0", got)
	}
	for i := range b.shards {
		if q := len(b.shards[i].queue); q != 0 {
			t.Fatalf("shard %d: %d queue entries left", i, q)
		}
	}
}

func TestSweeperGoroutine(t *testing.T) {
	ctx := context.Background()
	clk := newManualClock()
	b := startedBroker(t, Options{Now: clk.Now, SweepInterval: time.Millisecond}, nil)
	opts := broker.PublishOptions{HistorySize: 1, HistoryTTL: time.Second, HistoryMetaTTL: time.Minute}
	if _, err := b.Publish(ctx, "ch", []byte("x"), opts); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for b.numChannels() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not free an expired channel")
		}
		time.Sleep(time.Millisecond) // polling interval, not an assertion
	}
}

func TestSweepKeepsRefreshedChannels(t *testing.T) {
	ctx := context.Background()
	clk := newManualClock()
	b := startedBroker(t, Options{Now: clk.Now, SweepInterval: time.Hour}, nil)
	opts := broker.PublishOptions{HistorySize: 5, HistoryTTL: time.Minute, HistoryMetaTTL: time.Hour}
	for range 10 {
		if _, err := b.Publish(ctx, "ch", []byte("x"), opts); err != nil {
			t.Fatal(err)
		}
		clk.Advance(50 * time.Second) // each publish refreshes the stream TTL
		b.sweepAll()
	}
	if got := b.retainedPubs(); got != 5 {
		t.Fatalf("retained: %d, want 5", got)
	}
	// Shortening the TTL of a scheduled channel reschedules it earlier.
	opts.HistoryTTL = time.Second
	if _, err := b.Publish(ctx, "ch", []byte("x"), opts); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	b.sweepAll()
	if got := b.retainedPubs(); got != 0 {
		t.Fatalf("retained after shortened TTL: %d, want 0", got)
	}
}

func TestHistorySizeShrinks(t *testing.T) {
	ctx := context.Background()
	b := startedBroker(t, Options{}, nil)
	opts := broker.PublishOptions{HistorySize: 20, HistoryTTL: time.Hour}
	for range 20 {
		if _, err := b.Publish(ctx, "ch", []byte("x"), opts); err != nil {
			t.Fatal(err)
		}
	}
	opts.HistorySize = 4
	if _, err := b.Publish(ctx, "ch", []byte("last"), opts); err != nil {
		t.Fatal(err)
	}
	pubs, _, err := b.History(ctx, "ch", broker.HistoryOptions{Filter: broker.HistoryFilter{Limit: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pubs) != 4 || pubs[0].Offset != 18 || string(pubs[3].Data) != "last" {
		t.Fatalf("after shrinking: %d pubs, first offset %d", len(pubs), pubs[0].Offset)
	}
}

func TestSinceWithEmptyEpochMatchesAny(t *testing.T) {
	ctx := context.Background()
	b := startedBroker(t, Options{}, nil)
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour}
	for range 3 {
		if _, err := b.Publish(ctx, "ch", []byte("x"), opts); err != nil {
			t.Fatal(err)
		}
	}
	pubs, _, err := b.History(ctx, "ch", broker.HistoryOptions{Filter: broker.HistoryFilter{Since: &broker.StreamPosition{Offset: 1}, Limit: -1}})
	if err != nil || len(pubs) != 2 {
		t.Fatalf("since offset 1 without epoch: %d pubs, err %v", len(pubs), err)
	}
}

func TestHandlerMayReadHistory(t *testing.T) {
	ctx := context.Background()
	var b *Broker
	var tops []uint64
	h := nopHandler{onPub: func(ch string, pub *broker.Publication) {
		_, sp, err := b.History(ctx, ch, broker.HistoryOptions{})
		if err != nil {
			t.Error(err)
		}
		tops = append(tops, sp.Offset)
	}}
	b = startedBroker(t, Options{}, h)
	opts := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour}
	for range 3 {
		if _, err := b.Publish(ctx, "ch", []byte("x"), opts); err != nil {
			t.Fatal(err)
		}
	}
	if len(tops) != 3 || tops[2] != 3 {
		t.Fatalf("tops seen by handler: %v", tops)
	}
}

func TestHandlerErrorReturned(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	b := New(Options{})
	if err := b.Start(ctx, errHandler{boom}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close(ctx) }()
	res, err := b.Publish(ctx, "ch", []byte("x"), broker.PublishOptions{HistorySize: 1, HistoryTTL: time.Hour})
	if !errors.Is(err, boom) || res.Position.Offset != 1 {
		t.Fatalf("Publish: %+v, %v", res, err)
	}
}

type errHandler struct{ err error }

func (h errHandler) HandlePublication(string, *broker.Publication, broker.StreamPosition, bool, *broker.Publication) error {
	return h.err
}
func (h errHandler) HandleJoin(string, *broker.ClientInfo) error  { return h.err }
func (h errHandler) HandleLeave(string, *broker.ClientInfo) error { return h.err }

func TestEpochFormat(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		e := newEpoch()
		if len(e) != epochLen {
			t.Fatalf("epoch %q", e)
		}
		for _, r := range e {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				t.Fatalf("epoch %q has %q", e, r)
			}
		}
		seen[e] = true
	}
	if len(seen) < 999 {
		t.Fatalf("only %d distinct epochs in 1000", len(seen))
	}
}
