package memory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/memory"
)

// historyModel is the obviously-correct reference for one channel's stream.
type historyModel struct {
	hasMeta      bool
	epoch        string // last epoch observed from the broker
	top          uint64
	pubs         []modelPub
	histDeadline time.Time
	metaDeadline time.Time
}

type modelPub struct {
	offset uint64
	data   string
}

const (
	propHistoryTTL = time.Minute
	propMetaTTL    = time.Hour
)

// expire applies what expired at now.
func (m *historyModel) expire(now time.Time) {
	if m.hasMeta && !now.Before(m.metaDeadline) {
		m.hasMeta, m.top, m.pubs = false, 0, nil
	}
	if len(m.pubs) > 0 && !now.Before(m.histDeadline) {
		m.pubs = nil
	}
}

func (m *historyModel) publish(now time.Time, data string, size int) {
	m.expire(now)
	m.hasMeta = true
	m.top++
	m.pubs = append(m.pubs, modelPub{m.top, data})
	if len(m.pubs) > size {
		m.pubs = slices.Clone(m.pubs[len(m.pubs)-size:])
	}
	m.histDeadline = now.Add(propHistoryTTL)
	m.metaDeadline = now.Add(propMetaTTL)
}

// history returns the expected offsets and data of a read.
func (m *historyModel) history(now time.Time, f broker.HistoryFilter) []modelPub {
	m.expire(now)
	m.hasMeta = true
	m.metaDeadline = now.Add(propMetaTTL)
	if f.Limit == 0 {
		return nil
	}
	var out []modelPub
	if f.Reverse {
		for i := len(m.pubs) - 1; i >= 0; i-- {
			if f.Since == nil || m.pubs[i].offset < f.Since.Offset {
				out = append(out, m.pubs[i])
			}
		}
	} else {
		for _, p := range m.pubs {
			if f.Since == nil || p.offset > f.Since.Offset {
				out = append(out, p)
			}
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// TestHistoryProperty runs random sequences of publish, history, remove and
// clock moves against the broker and the model, comparing every result.
func TestHistoryProperty(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runHistoryProperty(t, uint64(seed), 300)
		})
	}
}

func runHistoryProperty(t *testing.T, seed uint64, steps int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	clk := newFakeClock()
	b := newTestBroker(t, memory.Options{Now: clk.Now})
	if err := b.Start(ctx, discard{}); err != nil {
		t.Fatal(err)
	}
	const ch = "prop"
	var m historyModel
	size := 1 + rng.IntN(8)
	var log []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d after %v: %s", seed, log, fmt.Sprintf(format, args...))
	}
	// checkEpoch verifies the broker epoch against the model: stable while
	// the meta lives, new once it was lost.
	checkEpoch := func(wasMeta bool, got string) {
		t.Helper()
		if wasMeta && got != m.epoch {
			fail("epoch %q, want %q", got, m.epoch)
		}
		if !wasMeta && got == m.epoch {
			fail("epoch %q reused after the meta expired", got)
		}
		m.epoch = got
	}
	for step := range steps {
		switch op := rng.IntN(100); {
		case op < 45: // publish
			if rng.IntN(20) == 0 {
				size = 1 + rng.IntN(8)
			}
			data := fmt.Sprint("d", step)
			log = append(log, fmt.Sprintf("pub(size=%d)", size))
			m.expire(clk.Now())
			wasMeta := m.hasMeta
			res, err := b.Publish(ctx, ch, []byte(data), broker.PublishOptions{
				HistorySize: size, HistoryTTL: propHistoryTTL, HistoryMetaTTL: propMetaTTL,
			})
			if err != nil {
				fail("Publish: %v", err)
			}
			m.publish(clk.Now(), data, size)
			if res.Position.Offset != m.top || res.Suppressed {
				fail("Publish: %+v, want offset %d", res, m.top)
			}
			checkEpoch(wasMeta, res.Position.Epoch)
		case op < 85: // history
			f := broker.HistoryFilter{Limit: []int{-1, 0, 1, 2, 3, 5, 100}[rng.IntN(7)], Reverse: rng.IntN(3) == 0}
			wrongEpoch := false
			if rng.IntN(3) > 0 {
				f.Since = &broker.StreamPosition{Offset: uint64(rng.IntN(int(m.top) + 3)), Epoch: m.epoch}
				if rng.IntN(10) == 0 {
					f.Since.Epoch, wrongEpoch = "wrongwro", true
				}
			}
			if f.Since != nil {
				log = append(log, fmt.Sprintf("hist(since=%+v limit=%d reverse=%v)", *f.Since, f.Limit, f.Reverse))
			} else {
				log = append(log, fmt.Sprintf("hist(limit=%d reverse=%v)", f.Limit, f.Reverse))
			}
			pubs, sp, err := b.History(ctx, ch, broker.HistoryOptions{Filter: f, MetaTTL: propMetaTTL})
			if f.Reverse && f.Since != nil && f.Since.Offset == 0 {
				if !errors.Is(err, broker.ErrBadRequest) {
					fail("History: %v, want ErrBadRequest", err)
				}
				continue
			}
			m.expire(clk.Now())
			wasMeta := m.hasMeta
			want := m.history(clk.Now(), f)
			if sp.Offset != m.top {
				fail("History position %+v, want offset %d", sp, m.top)
			}
			// A Since built from an epoch the model had before the meta
			// expired is legitimately unrecoverable.
			staleEpoch := f.Since != nil && f.Since.Epoch != "" && !wasMeta
			checkEpoch(wasMeta, sp.Epoch)
			if wrongEpoch || staleEpoch {
				if !errors.Is(err, broker.ErrUnrecoverablePosition) {
					fail("History: %v, want ErrUnrecoverablePosition", err)
				}
				continue
			}
			if err != nil {
				fail("History: %v", err)
			}
			if len(pubs) != len(want) {
				fail("History: %d pubs %v, want %v", len(pubs), pubs, want)
			}
			for i, p := range pubs {
				if p.Offset != want[i].offset || string(p.Data) != want[i].data {
					fail("History[%d] = %d %q, want %d %q", i, p.Offset, p.Data, want[i].offset, want[i].data)
				}
			}
		case op < 90: // remove
			log = append(log, "remove")
			if err := b.RemoveHistory(ctx, ch); err != nil {
				fail("RemoveHistory: %v", err)
			}
			m.expire(clk.Now())
			m.pubs = nil
		default: // time passes
			d := []time.Duration{time.Second, 30 * time.Second, 61 * time.Second, 2 * time.Hour}[rng.IntN(4)]
			log = append(log, fmt.Sprint("advance ", d))
			clk.Advance(d)
		}
		if len(log) > 12 {
			log = log[len(log)-12:]
		}
	}
}

// discard is an EventHandler that drops everything.
type discard struct{}

func (discard) HandlePublication(string, *broker.Publication, broker.StreamPosition, bool, *broker.Publication) error {
	return nil
}
func (discard) HandleJoin(string, *broker.ClientInfo) error  { return nil }
func (discard) HandleLeave(string, *broker.ClientInfo) error { return nil }
