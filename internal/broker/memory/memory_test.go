package memory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/brokertest"
	"github.com/heraldrt/herald/internal/broker/memory"
)

// fakeClock is a manually advanced clock, safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// clockedBroker is a memory broker whose clock the conformance suite moves
// (it implements brokertest.Clock).
type clockedBroker struct {
	*memory.Broker
	*fakeClock
}

func newTestBroker(t *testing.T, opts memory.Options) *memory.Broker {
	t.Helper()
	b := memory.New(opts)
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func TestBrokerConformance(t *testing.T) {
	brokertest.RunBroker(t, func(t *testing.T) broker.Broker {
		return newTestBroker(t, memory.Options{SweepInterval: 10 * time.Millisecond})
	})
}

func TestBrokerConformanceFakeClock(t *testing.T) {
	brokertest.RunBroker(t, func(t *testing.T) broker.Broker {
		clk := newFakeClock()
		return clockedBroker{newTestBroker(t, memory.Options{Now: clk.Now}), clk}
	})
}

func TestPresenceConformance(t *testing.T) {
	brokertest.RunPresence(t, func(t *testing.T) broker.PresenceManager {
		return memory.NewPresenceManager()
	})
}
