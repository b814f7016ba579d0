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

// Timer is one scheduled callback. A Timer is made by After, or held by
// value in its owner (a connection) and bound by Start, which saves an
// allocation per timer and per connection. Stop may be called at any time
// from any goroutine, on a zero Timer too; a stopped timer's callback does
// not run, and the wheel drops its reference at once (a closed connection
// is not kept alive until its next ping time). A Timer must not be copied
// once bound.
type Timer struct {
	w      *Wheel
	fn     func()
	rounds int32 // full turns still to wait; guarded by w.mu
	slot   int32 // guarded by w.mu
	pos    int32 // index in its slot plus one, 0 when not pending; guarded by w.mu
}

// Bound reports whether t was made by After or bound by Start.
func (t *Timer) Bound() bool { return t.w != nil }

// Stop cancels the timer. A callback already running finishes.
func (t *Timer) Stop() {
	if t == nil || t.w == nil {
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
// callback has not started yet, that call still happens. t must be bound.
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
	if t.pos == 0 {
		return
	}
	s := w.slots[t.slot]
	i, last := t.pos-1, len(s)-1
	s[i] = s[last]
	s[i].pos = i + 1
	s[last] = nil
	w.slots[t.slot] = s[:last]
	t.pos = 0
}

// addLocked puts t in the slot due after about d (rounded up to the tick).
// Precondition: w.mu held, t not pending.
func (w *Wheel) addLocked(t *Timer, d time.Duration) {
	ticks := max(int((d+Tick-1)/Tick), 1)
	t.rounds = int32((ticks - 1) / Slots) //nolint:gosec // a delay of 2^31 turns is 3,400 years
	t.slot = int32((w.pos + ticks) % Slots)
	w.slots[t.slot] = append(w.slots[t.slot], t)
	t.pos = int32(len(w.slots[t.slot])) //nolint:gosec // a slot holds far fewer than 2^31 timers
}

// New starts a wheel; Close stops it.
func New() *Wheel {
	w := &Wheel{stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// After schedules fn to run once after about d (rounded up to the tick).
func (w *Wheel) After(d time.Duration, fn func()) *Timer {
	t := &Timer{w: w, fn: fn}
	w.mu.Lock()
	w.addLocked(t, d)
	w.mu.Unlock()
	return t
}

// Start binds t, a zero Timer held by its owner, to w and fn and schedules
// fn to run once after about d; later runs are scheduled with t.Reset.
// Starting a bound Timer only reschedules it (fn is kept).
func (w *Wheel) Start(t *Timer, d time.Duration, fn func()) {
	w.mu.Lock()
	if t.w == nil {
		t.w, t.fn = w, fn
	}
	w.removeLocked(t)
	w.addLocked(t, d)
	w.mu.Unlock()
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
				keep = append(keep, t)
				t.pos = int32(len(keep)) //nolint:gosec // a slot holds far fewer than 2^31 timers
				continue
			}
			t.pos = 0
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
