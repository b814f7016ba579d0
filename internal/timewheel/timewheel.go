// Package timewheel fires many periodic per-connection timers (pings,
// pong checks, maintenance) from one goroutine, in batches per 50 ms tick,
// instead of one runtime timer and one goroutine wake-up per connection per
// event.
package timewheel

import (
	"sync"
	"time"
)

// Wheel resolution and span: a slot per tick, Slots slots per turn.
const (
	Tick  = 50 * time.Millisecond
	Slots = 1024 // 51.2 s per turn; longer delays wait extra turns
)

// Wheel fires many connections' periodic timers (pings, pong checks,
// maintenance) from one goroutine per node, in batches per tick, instead of
// one runtime timer and one goroutine wake-up per connection per event. The
// callbacks run on the wheel goroutine one after another, so they must not
// block: work that may do I/O starts its own goroutine.
type Wheel struct {
	mu    sync.Mutex
	slots [Slots][]*Timer
	pos   int // slot of the current tick

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Timer is one scheduled callback. Stop may be called at any time from
// any goroutine; a stopped timer's callback does not run, and the wheel
// drops its reference at once (a closed connection is not kept alive until
// its next ping time).
type Timer struct {
	w      *Wheel
	fn     func()
	rounds int // full turns still to wait; guarded by w.mu
	slot   int // guarded by w.mu
	idx    int // index in its slot, -1 once removed; guarded by w.mu
}

// Stop cancels the timer. A callback already running finishes.
func (t *Timer) Stop() {
	if t == nil {
		return
	}
	w := t.w
	w.mu.Lock()
	w.removeLocked(t)
	w.mu.Unlock()
}

// Reset schedules t's callback to run once more after about d, whether t
// is pending (it moves), has fired or was stopped: a periodic timer reuses
// one Timer instead of allocating one per period. If t fired and its
// callback has not started yet, that call still happens.
func (t *Timer) Reset(d time.Duration) {
	w := t.w
	w.mu.Lock()
	w.removeLocked(t)
	w.addLocked(t, d)
	w.mu.Unlock()
}

// removeLocked takes t out of its slot if it is pending.
// Precondition: w.mu held.
func (w *Wheel) removeLocked(t *Timer) {
	if t.idx < 0 {
		return
	}
	s := w.slots[t.slot]
	last := len(s) - 1
	s[t.idx] = s[last]
	s[t.idx].idx = t.idx
	s[last] = nil
	w.slots[t.slot] = s[:last]
	t.idx = -1
}

// addLocked puts t in the slot due after about d (rounded up to the tick).
// Precondition: w.mu held, t not pending.
func (w *Wheel) addLocked(t *Timer, d time.Duration) {
	ticks := max(int((d+Tick-1)/Tick), 1)
	t.rounds = (ticks - 1) / Slots
	t.slot = (w.pos + ticks) % Slots
	t.idx = len(w.slots[t.slot])
	w.slots[t.slot] = append(w.slots[t.slot], t)
}

// New starts a wheel; Close stops it.
func New() *Wheel {
	w := &Wheel{stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// After schedules fn to run once after about d (rounded up to the tick).
func (w *Wheel) After(d time.Duration, fn func()) *Timer {
	t := &Timer{w: w, fn: fn, idx: -1}
	w.mu.Lock()
	w.addLocked(t, d)
	w.mu.Unlock()
	return t
}

func (w *Wheel) run() {
	defer close(w.done)
	ticker := time.NewTicker(Tick)
	defer ticker.Stop()
	var due []*Timer
	for {
		select {
		case <-w.stop:
			return
		case <-ticker.C:
		}
		w.mu.Lock()
		w.pos = (w.pos + 1) % Slots
		slot := w.slots[w.pos]
		keep := slot[:0]
		for _, t := range slot {
			if t.rounds > 0 {
				t.rounds--
				t.idx = len(keep)
				keep = append(keep, t)
				continue
			}
			t.idx = -1
			due = append(due, t)
		}
		clear(slot[len(keep):])
		if len(keep) == 0 {
			keep = nil // release the array of a burst
		}
		w.slots[w.pos] = keep
		w.mu.Unlock()
		for i, t := range due {
			t.fn()
			due[i] = nil
		}
		due = due[:0]
	}
}

// Close stops the wheel; pending callbacks never run. It is idempotent.
func (w *Wheel) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}
