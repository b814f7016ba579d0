package engine

import (
	"sync"
)

// writer is a connection's bounded outgoing queue. Messages are drained by
// at most one goroutine at a time, started on demand when the queue turns
// non-empty, so an idle connection holds no writer goroutine. Each drain
// writes up to maxMessagesInFrame messages in one transport frame.
type writer struct {
	mu       sync.Mutex
	queue    [][]byte
	size     int  // bytes queued
	maxSize  int  // queue limit in bytes; 0 means unlimited
	flushing bool // a drain goroutine is running
	closed   bool
	idle     *sync.Cond // signalled when a drain ends

	write func(msgs ...[]byte) error
	// tryWrite, when the transport supports it, writes a frame without
	// blocking; see TryWriter.
	tryWrite func(msgs ...[]byte) (bool, error)
	// pending reports that the transport holds part of a frame that the next
	// write must finish. Guarded by mu.
	pending bool
	// one is the argument array of enqueue (avoids an allocation per call
	// through the func value). Guarded by mu.
	one [1][]byte
	// onError is called (once per failure, from the drain goroutine) when a
	// write fails.
	onError func(err error)
}

const maxMessagesInFrame = 16

func newWriter(maxSize int, write func(msgs ...[]byte) error, onError func(error)) *writer {
	w := &writer{maxSize: maxSize, write: write, onError: onError}
	w.idle = sync.NewCond(&w.mu)
	return w
}

// enqueue adds msg to the queue. It returns false when the queue is over its
// size limit (the caller disconnects the slow client) or closed.
func (w *writer) enqueue(msg []byte) bool {
	w.mu.Lock()
	w.one[0] = msg
	ok := w.enqueueLocked(w.one[:], len(msg))
	w.one[0] = nil
	w.mu.Unlock()
	return ok
}

// enqueueMany adds msgs (at most maxMessagesInFrame), to be written in one
// frame when the connection is idle, like enqueue.
func (w *writer) enqueueMany(msgs [][]byte) bool {
	size := 0
	for _, m := range msgs {
		size += len(m)
	}
	w.mu.Lock()
	ok := w.enqueueLocked(msgs, size)
	w.mu.Unlock()
	return ok
}

// enqueueLocked is enqueue of msgs, size bytes in all. Precondition: w.mu
// held.
func (w *writer) enqueueLocked(msgs [][]byte, size int) bool {
	if w.closed {
		return false
	}
	if w.maxSize > 0 && w.size+size > w.maxSize {
		return false
	}
	if !w.flushing && w.tryWrite != nil {
		// Fast path: an idle connection gets the messages written at once
		// by the caller, with no goroutine, unless the socket cannot take
		// them all.
		done, err := w.tryWrite(msgs...)
		if err != nil {
			w.closed = true
			go w.onError(err)
			return true
		}
		if !done {
			w.pending = true
			w.flushing = true
			go w.drain()
		}
		return true
	}
	w.queue = append(w.queue, msgs...)
	w.size += size
	if !w.flushing {
		w.flushing = true
		go w.drain()
	}
	return true
}

// batchPool holds frame batches for drains, so that an idle connection
// keeps none and a busy one does not allocate per frame.
var batchPool = sync.Pool{New: func() any { return new([maxMessagesInFrame][]byte) }}

func (w *writer) drain() {
	batch := batchPool.Get().(*[maxMessagesInFrame][]byte)
	defer batchPool.Put(batch)
	for {
		w.mu.Lock()
		if w.pending && !w.closed {
			// Finish the frame the fast path could not write completely.
			w.pending = false
			w.mu.Unlock()
			if err := w.write(); err != nil {
				w.fail(err)
				return
			}
			continue
		}
		if len(w.queue) == 0 || w.closed {
			w.flushing = false
			w.idle.Broadcast()
			w.mu.Unlock()
			return
		}
		n := copy(batch[:], w.queue)
		for i := 0; i < n; i++ {
			w.size -= len(batch[i])
			w.queue[i] = nil
		}
		w.queue = w.queue[n:]
		if len(w.queue) == 0 {
			w.queue = nil // release the backing array of a burst
		}
		w.mu.Unlock()

		err := w.write(batch[:n]...)
		for i := 0; i < n; i++ {
			batch[i] = nil
		}
		if err != nil {
			w.fail(err)
			return
		}
	}
}

// fail ends the drain after a write error.
func (w *writer) fail(err error) {
	w.mu.Lock()
	w.closed = true
	w.queue = nil
	w.size = 0
	w.flushing = false
	w.idle.Broadcast()
	w.mu.Unlock()
	w.onError(err)
}

// close stops the writer. With flush, it first waits until queued messages
// are written (or a write fails).
func (w *writer) close(flush bool) {
	w.mu.Lock()
	if flush {
		for w.flushing && !w.closed {
			w.idle.Wait()
		}
	}
	w.closed = true
	w.queue = nil
	w.size = 0
	w.mu.Unlock()
}
