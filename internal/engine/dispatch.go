package engine

import (
	"runtime"
	"sync"
)

// dispatchQueueSize bounds the channel events waiting for fan-out per
// worker; a full queue makes the broker (and so the publisher) wait.
const dispatchQueueSize = 2

// dispatcher runs channel events (publications, joins, leaves) off the
// broker's delivery path, on a fixed set of workers. Events of one channel
// always go to the same worker, so they are fanned out in the order the
// broker delivered them; the publisher does not wait for the fan-out.
type dispatcher struct {
	queues []chan func()
	wg     sync.WaitGroup

	mu      sync.RWMutex // held for reading while queueing; for writing by stop
	stopped bool
}

func newDispatcher() *dispatcher {
	n := runtime.GOMAXPROCS(0)
	if n < 2 {
		n = 2
	}
	d := &dispatcher{queues: make([]chan func(), n)}
	for i := range d.queues {
		q := make(chan func(), dispatchQueueSize)
		d.queues[i] = q
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for job := range q {
				job()
			}
		}()
	}
	return d
}

// dispatch queues job on the worker of ch; after stop the job is dropped.
func (d *dispatcher) dispatch(ch string, job func()) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.stopped {
		return
	}
	h := uint32(2166136261)
	for i := 0; i < len(ch); i++ {
		h ^= uint32(ch[i])
		h *= 16777619
	}
	d.queues[h%uint32(len(d.queues))] <- job
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
