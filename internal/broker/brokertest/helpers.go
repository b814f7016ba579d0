package brokertest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
)

// Clock is implemented by a broker under test whose notion of time the suite
// may move forward, typically a test wrapper embedding the broker and owning
// the fake clock injected into it. Advance must make everything due within d
// expire, exactly as if d had elapsed in real time.
type Clock interface {
	Advance(d time.Duration)
}

// waitTimeout bounds every wait for an asynchronous delivery or expiry.
const waitTimeout = 10 * time.Second

// eventually polls cond every few milliseconds until it returns true, and
// fails the test if it has not done so within timeout. Call it from the test
// goroutine.
func eventually(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	eventuallyEvery(t, timeout, 5*time.Millisecond, cond)
}

// eventuallyEvery is eventually with an explicit poll interval, for probes
// that must leave the broker alone for a while between calls (a read
// refreshes stream meta, so probing meta expiry needs gaps longer than the
// TTL).
func eventuallyEvery(t testing.TB, timeout, every time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		<-tick.C
	}
}

var epochRE = regexp.MustCompile(`^[a-zA-Z]{8}$`)

// checkEpoch fails unless epoch has the stream epoch format.
func checkEpoch(t testing.TB, epoch string) {
	t.Helper()
	if !epochRE.MatchString(epoch) {
		t.Fatalf("epoch %q: want 8 letters [a-zA-Z]", epoch)
	}
}

// channelName returns a channel name unique to this run and test.
func channelName(suffix string) string {
	return fmt.Sprintf("brokertest:%08x:%s", rand.Uint32(), suffix)
}

// event is one call received by the recorder.
type event struct {
	kind     string // "pub", "join" or "leave"
	pub      *broker.Publication
	sp       broker.StreamPosition
	useDelta bool
	prev     *broker.Publication
	info     *broker.ClientInfo
}

// recorder is a broker.EventHandler that records every call per channel.
type recorder struct {
	mu     sync.Mutex
	events map[string][]event
}

func newRecorder() *recorder { return &recorder{events: make(map[string][]event)} }

func (r *recorder) add(ch string, e event) {
	r.mu.Lock()
	r.events[ch] = append(r.events[ch], e)
	r.mu.Unlock()
}

func (r *recorder) HandlePublication(ch string, pub *broker.Publication, sp broker.StreamPosition, useDelta bool, prev *broker.Publication) error {
	r.add(ch, event{kind: "pub", pub: pub, sp: sp, useDelta: useDelta, prev: prev})
	return nil
}

func (r *recorder) HandleJoin(ch string, info *broker.ClientInfo) error {
	r.add(ch, event{kind: "join", info: info})
	return nil
}

func (r *recorder) HandleLeave(ch string, info *broker.ClientInfo) error {
	r.add(ch, event{kind: "leave", info: info})
	return nil
}

// get returns a copy of the events of ch.
func (r *recorder) get(ch string) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events[ch])
}

// wait waits until ch has at least n events and returns them.
func (r *recorder) wait(t testing.TB, ch string, n int) []event {
	t.Helper()
	var evs []event
	eventually(t, waitTimeout, func() bool {
		evs = r.get(ch)
		return len(evs) >= n
	})
	return evs
}

// waitData waits until a publication with data is delivered in ch and
// returns all events up to and including it.
func (r *recorder) waitData(t testing.TB, ch string, data string) []event {
	t.Helper()
	var out []event
	eventually(t, waitTimeout, func() bool {
		evs := r.get(ch)
		for i, e := range evs {
			if e.kind == "pub" && string(e.pub.Data) == data {
				out = evs[:i+1]
				return true
			}
		}
		return false
	})
	return out
}

// pubData returns the data of the publication events in evs.
func pubData(evs []event) []string {
	var out []string
	for _, e := range evs {
		if e.kind == "pub" {
			out = append(out, string(e.pub.Data))
		}
	}
	return out
}

// harness bundles a started broker, its recorder and a context.
type harness struct {
	t   *testing.T
	b   broker.Broker
	rec *recorder
	ctx context.Context
}

func startBroker(t *testing.T, newBroker func(t *testing.T) broker.Broker) *harness {
	t.Helper()
	b := newBroker(t)
	rec := newRecorder()
	ctx := t.Context()
	if err := b.Start(ctx, rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return &harness{t: t, b: b, rec: rec, ctx: ctx}
}

// channel returns a fresh channel name the broker is subscribed to.
func (h *harness) channel(suffix string) string {
	h.t.Helper()
	ch := channelName(suffix)
	if err := h.b.Subscribe(h.ctx, ch); err != nil {
		h.t.Fatalf("Subscribe(%q): %v", ch, err)
	}
	return ch
}

func (h *harness) publish(ch, data string, opts broker.PublishOptions) broker.PublishResult {
	h.t.Helper()
	res, err := h.b.Publish(h.ctx, ch, []byte(data), opts)
	if err != nil {
		h.t.Fatalf("Publish(%q, %q): %v", ch, data, err)
	}
	return res
}

func (h *harness) history(ch string, f broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition) {
	h.t.Helper()
	pubs, sp, err := h.b.History(h.ctx, ch, broker.HistoryOptions{Filter: f})
	if err != nil {
		h.t.Fatalf("History(%q, %+v): %v", ch, f, err)
	}
	return pubs, sp
}

// historyOpts are the options the suite publishes with unless a test needs
// others: a stream large and long-lived enough for every test.
func historyOpts() broker.PublishOptions {
	return broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Hour}
}

// offsets returns the offsets of pubs.
func offsets(pubs []*broker.Publication) []uint64 {
	out := make([]uint64, len(pubs))
	for i, p := range pubs {
		out[i] = p.Offset
	}
	return out
}

// seq returns the offsets from..to inclusive, descending when from > to.
func seq(from, to uint64) []uint64 {
	var out []uint64
	if from <= to {
		for o := from; o <= to; o++ {
			out = append(out, o)
		}
		return out
	}
	for o := from; o >= to; o-- {
		out = append(out, o)
	}
	return out
}

func checkOffsets(t testing.TB, what string, pubs []*broker.Publication, want []uint64) {
	t.Helper()
	if got := offsets(pubs); !slices.Equal(got, want) {
		t.Fatalf("%s: offsets %v, want %v", what, got, want)
	}
}
