package timewheel

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestTimeWheelFiresInOrderAndStops(t *testing.T) {
	w := New()
	defer w.Close()
	var fired atomic.Int32
	var order []int
	done := make(chan struct{})
	w.After(3*Tick, func() { order = append(order, 2); close(done) })
	w.After(Tick, func() { order = append(order, 1) })
	stopped := w.After(2*Tick, func() { fired.Add(1) })
	stopped.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("timer did not fire")
	}
	if len(order) != 2 || order[0] != 1 || order[1] != 2 {
		t.Fatalf("order %v", order)
	}
	if fired.Load() != 0 {
		t.Fatal("stopped timer fired")
	}
}

func TestTimeWheelLongDelayWaitsFullTurns(t *testing.T) {
	w := New()
	defer w.Close()
	tm := w.After(Slots*Tick+2*Tick, func() {})
	w.mu.Lock()
	rounds := tm.rounds
	w.mu.Unlock()
	if rounds != 1 {
		t.Fatalf("rounds = %d, want 1", rounds)
	}
}

// TestTimeWheelStopReleases: a stopped timer leaves its slot at once, so the
// wheel holds no reference to a closed connection.
func TestTimeWheelStopReleases(t *testing.T) {
	w := New()
	defer w.Close()
	var timers []*Timer
	for i := 0; i < 100; i++ {
		timers = append(timers, w.After(10*time.Second, func() {}))
	}
	for _, tm := range timers[:99] {
		tm.Stop()
	}
	w.mu.Lock()
	n := 0
	for _, s := range w.slots {
		n += len(s)
	}
	w.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d timers left in the wheel, want 1", n)
	}
	timers[99].Stop()
	timers[99].Stop() // idempotent
}
