package engine

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
)

func TestGroupEventsKeepsEachChannelsOrder(t *testing.T) {
	pub := func(ch string, n uint64) event { return event{ch: ch, pub: &broker.Publication{Offset: n}} }
	var calls []string
	job := func(ch, name string) event {
		return event{ch: ch, run: func() { calls = append(calls, name) }}
	}
	batch := []event{pub("a", 1), pub("b", 1), pub("a", 2), job("a", "join a"), pub("a", 3), pub("b", 2), pub("b", 3),
		job("b", "leave b"), pub("b", 4), pub("b", 5)} // the last run: one channel only
	groupEvents(batch, func(ch string, group []event) {
		var offs []string
		for _, ev := range group {
			if ev.ch != ch {
				t.Errorf("event of %s in the group of %s", ev.ch, ch)
			}
			offs = append(offs, fmt.Sprint(ev.pub.Offset))
		}
		calls = append(calls, ch+" "+strings.Join(offs, ","))
	}, func(ev *event) { ev.run() })
	want := "a 1,2 | b 1 | join a | a 3 | b 2,3 | leave b | b 4,5"
	if got := strings.Join(calls, " | "); got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// TestDispatcherTakesWaitingEventsTogether: events queued while the worker
// is busy are handed over in one batch, in order; stop runs what is queued.
func TestDispatcherTakesWaitingEventsTogether(t *testing.T) {
	var (
		mu      sync.Mutex
		batches []string
	)
	release := make(chan struct{})
	d := newDispatcher(func(batch []event) {
		var names []string
		for _, ev := range batch {
			names = append(names, fmt.Sprint(ev.pub.Offset))
		}
		mu.Lock()
		batches = append(batches, strings.Join(names, ","))
		mu.Unlock()
		if batch[0].pub.Offset == 1 {
			<-release
		}
	})
	ev := func(n uint64) event { return event{ch: "x", pub: &broker.Publication{Offset: n}} }
	d.dispatch(ev(1))
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		started := len(batches) == 1
		mu.Unlock()
		if started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first event was not handled")
		}
		time.Sleep(time.Millisecond)
	}
	d.dispatch(ev(2))
	d.dispatch(ev(3))
	close(release)
	d.stop()
	if got := strings.Join(batches, " | "); got != "1 | 2,3" {
		t.Fatalf("batches %q, want \"1 | 2,3\"", got)
	}
}

// TestGroupPublicationsFramed: a channel's publications taken together go
// in pieces of at most defaultMaxMessagesInFrame, in order, whether the
// batch is of one channel or of several.
func TestGroupPublicationsFramed(t *testing.T) {
	var oneChannel, mixed []event
	for i := range 40 {
		a := event{ch: "a", pub: &broker.Publication{Offset: uint64(i + 1)}}
		oneChannel = append(oneChannel, a)
		mixed = append(mixed, a)
		if i%2 == 0 {
			mixed = append(mixed, event{ch: "b", pub: &broker.Publication{Offset: uint64(i/2 + 1)}})
		}
	}
	for _, batch := range [][]event{oneChannel, mixed} {
		next := map[string]uint64{"a": 1, "b": 1}
		groupPublications(batch, func(ch string, group []event) {
			if len(group) == 0 || len(group) > defaultMaxMessagesInFrame {
				t.Fatalf("group of %d publications", len(group))
			}
			for _, ev := range group {
				if ev.ch != ch || ev.pub.Offset != next[ch] {
					t.Fatalf("%s: got %s %d, want offset %d", ch, ev.ch, ev.pub.Offset, next[ch])
				}
				next[ch]++
			}
		})
		if next["a"] != 41 {
			t.Fatalf("channel a: %d publications handed over, want 40", next["a"]-1)
		}
	}
}

// BenchmarkGroupPublications: a full batch of a worker that fell behind,
// publications of 50 channels mixed, grouped by channel.
func BenchmarkGroupPublications(b *testing.B) {
	evs := make([]event, maxEventBatch)
	for i := range evs {
		evs[i] = event{ch: "channel-" + strconv.Itoa(i%50), pub: &broker.Publication{Offset: uint64(i + 1)}}
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		groupPublications(evs, func(_ string, group []event) { n += len(group) })
	}
	if n == 0 {
		b.Fatal("no publication handed over")
	}
}
