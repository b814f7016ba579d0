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
	n := pendingTimers(w)
	if n != 1 {
		t.Fatalf("%d timers left in the wheel, want 1", n)
	}
	timers[99].Stop()
	timers[99].Stop() // idempotent
}

// TestTimeWheelReset: a fired timer reset from its own callback fires
// again (a periodic timer with one Timer); a pending one reset moves (it
// fires once, at the new time); a stopped one reset fires.
func TestTimeWheelReset(t *testing.T) {
	w := New()
	defer w.Close()
	var periodic *Timer
	var runs atomic.Int32
	done := make(chan struct{})
	periodic = w.After(Tick, func() {
		if runs.Add(1) == 3 {
			close(done)
			return
		}
		periodic.Reset(Tick)
	})
	var moved atomic.Int32
	pending := w.After(time.Hour, func() { moved.Add(1) })
	pending.Reset(Tick)
	stopped := w.After(Tick, func() { moved.Add(10) })
	stopped.Stop()
	stopped.Reset(2 * Tick)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("periodic timer ran %d times, want 3", runs.Load())
	}
	deadline := time.Now().Add(5 * time.Second)
	for moved.Load() != 11 && time.Now().Before(deadline) {
		time.Sleep(Tick) // polling interval
	}
	if got := moved.Load(); got != 11 {
		t.Fatalf("moved and restarted timers: %d, want 11 (each once)", got)
	}
	n := pendingTimers(w)
	if n != 0 {
		t.Fatalf("%d timers left in the wheel, want 0 (the moved one left its hour slot)", n)
	}
}

// BenchmarkPeriodicTimer compares a periodic timer that allocates a Timer
// per period (After) with one that reuses it (Reset).
func BenchmarkPeriodicTimer(b *testing.B) {
	w := New()
	defer w.Close()
	b.Run("After", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			w.After(time.Minute, func() {}).Stop()
		}
	})
	b.Run("Reset", func(b *testing.B) {
		tm := w.After(time.Minute, func() {})
		b.ReportAllocs()
		for range b.N {
			tm.Reset(time.Minute)
		}
		tm.Stop()
	})
}

// pendingTimers counts the timers waiting in w's slots.
func pendingTimers(w *Wheel) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.slots {
		n += len(s)
	}
	return n
}

// TestTimeWheelStartHeldTimer: a Timer held by value is inert until Start
// binds it (Stop on it does nothing), fires after Start, is rescheduled
// by another Start with its first callback, and Stop cancels it.
func TestTimeWheelStartHeldTimer(t *testing.T) {
	w := New()
	defer w.Close()
	var owner struct {
		tm Timer
	}
	owner.tm.Stop() // zero: nothing to stop
	if owner.tm.Bound() {
		t.Fatal("zero Timer bound")
	}
	fired := make(chan int, 2)
	w.Start(&owner.tm, Tick, func() { fired <- 1 })
	w.Start(&owner.tm, Tick, func() { fired <- 2 }) // rescheduled, fn kept
	select {
	case v := <-fired:
		if v != 1 {
			t.Fatalf("callback %d ran, want the first", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("started timer did not fire")
	}
	w.mu.Lock()
	pending := len(w.slots[owner.tm.slot])
	w.mu.Unlock()
	if pending != 0 || owner.tm.pos != 0 {
		t.Fatalf("fired timer still pending (%d in its slot, pos %d)", pending, owner.tm.pos)
	}
	owner.tm.Reset(Tick)
	owner.tm.Stop()
	w.mu.Lock()
	pos := owner.tm.pos
	w.mu.Unlock()
	if pos != 0 || !owner.tm.Bound() {
		t.Fatalf("stopped timer: pos %d, bound %v", pos, owner.tm.Bound())
	}
	select {
	case <-fired:
		t.Fatal("fired twice")
	case <-time.After(3 * Tick):
	}
}
