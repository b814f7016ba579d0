package engine

import (
	"sync"
	"time"
)

// Wheel resolution and span: a slot per tick, wheelSlots slots per turn.
const (
	wheelTick  = 50 * time.Millisecond
	wheelSlots = 1024 // 51.2 s per turn; longer delays wait extra turns
)

// timeWheel fires many connections' periodic timers (pings, pong checks,
// maintenance) from one goroutine per node, in batches per tick, instead of
// one runtime timer and one goroutine wake-up per connection per event. The
// callbacks run on the wheel goroutine one after another, so they must not
// block: work that may do I/O starts its own goroutine.
type timeWheel struct {
	mu    sync.Mutex
	slots [wheelSlots][]*wheelTimer
	pos   int // slot of the current tick

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// wheelTimer is one scheduled callback. Stop may be called at any time from
// any goroutine; a stopped timer's callback does not run, and the wheel
// drops its reference at once (a closed connection is not kept alive until
// its next ping time).
type wheelTimer struct {
	w      *timeWheel
	fn     func()
	rounds int // full turns still to wait; guarded by w.mu
	slot   int // guarded by w.mu
	idx    int // index in its slot, -1 once removed; guarded by w.mu
}

// Stop cancels the timer. A callback already running finishes.
func (t *wheelTimer) Stop() {
	if t == nil {
		return
	}
	w := t.w
	w.mu.Lock()
	if t.idx >= 0 {
		s := w.slots[t.slot]
		last := len(s) - 1
		s[t.idx] = s[last]
		s[t.idx].idx = t.idx
		s[last] = nil
		w.slots[t.slot] = s[:last]
		t.idx = -1
	}
	w.mu.Unlock()
}

func newTimeWheel() *timeWheel {
	w := &timeWheel{stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// after schedules fn to run once after about d (rounded up to the tick).
func (w *timeWheel) after(d time.Duration, fn func()) *wheelTimer {
	ticks := int((d + wheelTick - 1) / wheelTick)
	if ticks < 1 {
		ticks = 1
	}
	t := &wheelTimer{w: w, fn: fn, rounds: (ticks - 1) / wheelSlots}
	w.mu.Lock()
	t.slot = (w.pos + ticks) % wheelSlots
	t.idx = len(w.slots[t.slot])
	w.slots[t.slot] = append(w.slots[t.slot], t)
	w.mu.Unlock()
	return t
}

func (w *timeWheel) run() {
	defer close(w.done)
	ticker := time.NewTicker(wheelTick)
	defer ticker.Stop()
	var due []*wheelTimer
	for {
		select {
		case <-w.stop:
			return
		case <-ticker.C:
		}
		w.mu.Lock()
		w.pos = (w.pos + 1) % wheelSlots
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

// close stops the wheel; pending callbacks never run. It is idempotent.
func (w *timeWheel) close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}
