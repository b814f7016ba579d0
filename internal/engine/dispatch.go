package engine

import (
	"runtime"
	"sync"

	"github.com/heraldrt/herald/internal/broker"
)

// dispatchQueueSize bounds the channel events waiting for fan-out per
// worker; a full queue makes the broker (and so the publisher) wait. A
// worker that keeps up finds the queue empty, so the depth costs nothing
// then; one that falls behind finds many events waiting and takes them
// together (maxEventBatch), which is what lets it catch up: with 10,000
// subscribers on 100 channels at 1,000 publications per second, more than
// two cores' worth of sends, a queue of 2 (batches of at most 8) kept
// 89% of the rate, its backlog growing to a p99 of 5.7–6.4 s, while a
// queue of 128 keeps the rate with a p99 of 0.24–0.25 s and 11% less CPU
// per delivered message (docs/benchmarks.md).
const dispatchQueueSize = 128

// maxEventBatch bounds the events a worker takes from its queue at once
// (the queue plus senders waiting on it). Publications of one channel
// taken together are written to each subscriber in frames of up to
// defaultMaxMessagesInFrame (one system call each), so a worker that fell
// behind catches up with fewer writes and the waiting publications do not
// each wait for a whole fan-out; a worker that keeps up fans out every
// event alone, at once.
const maxEventBatch = 128

// event is one channel event to fan out: a publication (pub set) or
// another job (run).
type event struct {
	ch   string
	pub  *broker.Publication
	sp   broker.StreamPosition
	prev *broker.Publication // for delta compression; nil without
	run  func()
}

// dispatcher runs channel events (publications, joins, leaves) off the
// broker's delivery path, on a fixed set of workers. Events of one channel
// always go to the same worker, so they are fanned out in the order the
// broker delivered them; the publisher does not wait for the fan-out.
type dispatcher struct {
	queues []chan event
	handle func(batch []event) // runs a batch of events, keeping each channel's order
	wg     sync.WaitGroup

	mu      sync.RWMutex // held for reading while queueing; for writing by stop
	stopped bool
}

func newDispatcher(handle func(batch []event)) *dispatcher {
	n := runtime.GOMAXPROCS(0)
	if n < 2 {
		n = 2
	}
	d := &dispatcher{queues: make([]chan event, n), handle: handle}
	for i := range d.queues {
		q := make(chan event, dispatchQueueSize)
		d.queues[i] = q
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.work(q)
		}()
	}
	return d
}

// work runs the events of q until it is closed, taking at once every event
// already waiting (up to maxEventBatch).
func (d *dispatcher) work(q chan event) {
	batch := make([]event, 0, maxEventBatch)
	for ev := range q {
		batch = append(batch[:0], ev)
	more:
		for len(batch) < maxEventBatch {
			select {
			case ev, ok := <-q:
				if !ok {
					break more
				}
				batch = append(batch, ev)
			default:
				break more
			}
		}
		d.handle(batch)
		clear(batch) // drop the references until the next batch
	}
}

// dispatch queues ev on the worker of its channel; after stop it is
// dropped.
func (d *dispatcher) dispatch(ev event) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.stopped {
		return
	}
	h := uint32(2166136261)
	for i := 0; i < len(ev.ch); i++ {
		h ^= uint32(ev.ch[i])
		h *= 16777619
	}
	d.queues[h%uint32(len(d.queues))] <- ev
}

// stop lets the workers finish the queued events and waits for them;
// events dispatched later are dropped. It is idempotent.
func (d *dispatcher) stop() {
	d.mu.Lock()
	if !d.stopped {
		d.stopped = true
		for _, q := range d.queues {
			close(q)
		}
	}
	d.mu.Unlock()
	d.wg.Wait()
}
