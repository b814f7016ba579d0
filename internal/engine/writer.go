package engine

import (
	"math"
	"sync"
	"time"

	"github.com/heraldrt/herald/internal/uring"
)

// writer is a connection's bounded outgoing queue. Messages are drained by
// at most one goroutine at a time, started on demand when the queue turns
// non-empty, so an idle connection holds no writer goroutine. Each drain
// writes up to maxBatch messages in one transport frame.
//
// With a delay (client.write_delay), delayable messages (publications and
// join/leave pushes of a fan-out) are held for up to that long after the
// first of them, so that those arriving meanwhile share a frame and a
// system call; a message that is not delayable (a reply, another push)
// takes what is held along and goes out at once. The timer exists only
// for connections that held messages, and runs only while they do.
type writer struct {
	// The fields a delivery reads come first (see Client).
	mu       sync.Mutex
	flushing bool // a drain goroutine is running
	closed   bool
	held     bool // queued messages wait for the timer (not flushing)
	// pending reports that the transport holds part of a frame that the next
	// write must finish. Guarded by mu.
	pending  bool
	size     int           // bytes queued
	maxSize  int           // queue limit in bytes; 0 means unlimited
	maxBatch int           // messages per frame, at least 1
	delay    time.Duration // hold delayable messages this long; 0: never
	// tryWrite, when the transport supports it, writes a frame without
	// blocking; see TryWriter.
	tryWrite func(msgs ...[]byte) (bool, error)
	// batch, when the transport supports it, queues a fan-out's write in a
	// uring.Batch; see BatchWriter. While such a write is in the batch,
	// flushing is set and WriteDone ends it.
	batch BatchWriter
	queue [][]byte

	idle  *sync.Cond  // signalled when a drain ends; made by the first close that waits
	timer *time.Timer // the delayed flush; created on first use

	write func(msgs ...[]byte) error
	// one is the argument array of enqueue (avoids an allocation per call
	// through the func value). Guarded by mu.
	one [1][]byte
	// onError is called (once per failure, from the drain goroutine) when a
	// write fails.
	onError func(err error)
}

// defaultMaxMessagesInFrame is client.max_messages_in_frame's default.
const defaultMaxMessagesInFrame = 16

// writerConfig sizes a writer: maxSize is the queue limit in bytes (0:
// none), maxBatch the messages per frame (0: defaultMaxMessagesInFrame,
// negative: no limit), delay the client.write_delay.
type writerConfig struct {
	maxSize  int
	maxBatch int
	delay    time.Duration
}

// init sets up a zero writer in place (a Client holds its writer by
// value, next to the client's own fields that a delivery also reads).
func (w *writer) init(cfg writerConfig, write func(msgs ...[]byte) error, onError func(error)) {
	maxBatch := cfg.maxBatch
	switch {
	case maxBatch == 0:
		maxBatch = defaultMaxMessagesInFrame
	case maxBatch < 0:
		maxBatch = math.MaxInt
	}
	w.maxSize, w.maxBatch, w.delay, w.write, w.onError = cfg.maxSize, maxBatch, cfg.delay, write, onError
}

// enqueue adds msg to the queue, to be written at once, or after the write
// delay when delayable (a fan-out's push). It returns false when the queue
// is over its size limit (the caller disconnects the slow client) or
// closed.
func (w *writer) enqueue(msg []byte, delayable bool) bool {
	return w.enqueueIn(msg, delayable, nil)
}

// enqueueIn is enqueue with the write to an idle connection made through
// the fan-out's batch b when not nil (see BatchWriter).
func (w *writer) enqueueIn(msg []byte, delayable bool, b *uring.Batch) bool {
	w.mu.Lock()
	w.one[0] = msg
	ok := w.enqueueLocked(w.one[:], len(msg), delayable, b)
	w.one[0] = nil
	w.mu.Unlock()
	return ok
}

// enqueueDelayable adds msgs, a fan-out's messages for this connection,
// to be written in one frame when the connection is idle (through b when
// not nil: see BatchWriter), or after the write delay when there is one;
// otherwise like enqueue of a delayable message.
func (w *writer) enqueueDelayable(msgs [][]byte, b *uring.Batch) bool {
	size := 0
	for _, m := range msgs {
		size += len(m)
	}
	w.mu.Lock()
	ok := w.enqueueLocked(msgs, size, true, b)
	w.mu.Unlock()
	return ok
}

// enqueueLocked is enqueue of msgs, size bytes in all, held for the delay
// when delayable; an idle connection's write may go into b.
// Precondition: w.mu held.
func (w *writer) enqueueLocked(msgs [][]byte, size int, delayable bool, b *uring.Batch) bool {
	if w.closed {
		return false
	}
	if w.maxSize > 0 && w.size+size > w.maxSize {
		return false
	}
	if delayable && w.delay > 0 && !w.flushing {
		w.queue = append(w.queue, msgs...)
		w.size += size
		if !w.held {
			w.held = true
			if w.timer == nil {
				w.timer = time.AfterFunc(w.delay, w.flushHeld)
			} else {
				w.timer.Reset(w.delay)
			}
		}
		return true
	}
	if w.held {
		// A message that must not wait takes the held ones along.
		w.stopHeldLocked()
		w.queue = append(w.queue, msgs...)
		w.size += size
		w.flushQueueLocked()
		return true
	}
	if !w.flushing && w.tryWrite != nil && len(msgs) <= w.maxBatch {
		// Fast path: an idle connection gets the messages written at once
		// by the caller (or with its batch), with no goroutine, unless the
		// socket cannot take them all.
		if b != nil && w.batch != nil {
			queued, err := w.batch.TryWriteManyIn(b, w, msgs...)
			if err != nil {
				w.triedLocked(false, err)
				return true
			}
			if queued {
				w.flushing = true // until WriteDone
				return true
			}
		}
		w.tryWriteLocked(msgs)
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

// tryWriteLocked writes msgs as one frame without waiting, leaving the rest
// of the frame to a drain when the socket does not take it all.
// Precondition: w.mu held, not flushing, tryWrite set.
func (w *writer) tryWriteLocked(msgs [][]byte) {
	w.triedLocked(w.tryWrite(msgs...))
}

// triedLocked handles the outcome of a write made without waiting: an
// error closes the writer, an unfinished frame goes to a drain.
// Precondition: w.mu held, not flushing.
func (w *writer) triedLocked(done bool, err error) {
	if err != nil {
		w.shutLocked()
		go w.onError(err)
		return
	}
	if !done {
		w.pending = true
		w.flushing = true
		go w.drain()
	}
}

// WriteDone ends a write queued in a batch (see BatchWriter): what came
// meanwhile, or the rest of the frame, goes to a drain.
func (w *writer) WriteDone(complete bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushing = false
	if !w.closed {
		w.triedLocked(complete, err)
	}
	if !w.flushing && !w.closed && len(w.queue) > 0 {
		w.flushing = true
		go w.drain()
	}
	if !w.flushing {
		w.signalIdleLocked()
	}
}

// flushQueueLocked writes the queue now: in one frame without waiting when
// it fits, else through a drain. Precondition: w.mu held, not flushing.
func (w *writer) flushQueueLocked() {
	if w.tryWrite != nil && len(w.queue) <= w.maxBatch {
		w.tryWriteLocked(w.queue)
		clear(w.queue)
		w.queue = w.queue[:0]
		w.size = 0
		return
	}
	w.flushing = true
	go w.drain()
}

// flushHeld is the delay timer's callback: it writes the held messages.
func (w *writer) flushHeld() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.held {
		return // taken along by a message that could not wait, or closed
	}
	w.held = false
	w.flushQueueLocked()
}

// batchPool holds frame batches for drains, so that an idle connection
// keeps none and a busy one does not allocate per frame.
var batchPool = sync.Pool{New: func() any { b := make([][]byte, 0, defaultMaxMessagesInFrame); return &b }}

// maxPooledBatch bounds the batches kept in batchPool (with
// client.max_messages_in_frame -1 a burst could grow one without limit).
const maxPooledBatch = 1024

func (w *writer) drain() {
	bp := batchPool.Get().(*[][]byte)
	defer func() {
		if cap(*bp) <= maxPooledBatch {
			batchPool.Put(bp)
		}
	}()
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
			w.signalIdleLocked()
			w.mu.Unlock()
			return
		}
		n := min(len(w.queue), w.maxBatch)
		batch := append((*bp)[:0], w.queue[:n]...)
		*bp = batch
		for i := range n {
			w.size -= len(batch[i])
			w.queue[i] = nil
		}
		w.queue = w.queue[n:]
		if len(w.queue) == 0 {
			w.queue = nil // release the backing array of a burst
		}
		w.mu.Unlock()

		err := w.write(batch...)
		clear(batch)
		if err != nil {
			w.fail(err)
			return
		}
	}
}

// signalIdleLocked wakes the closes waiting for the end of a drain, if
// any ever waited: a delivery need not touch a condition variable (its
// own allocation, a cache miss per connection in a fan-out) otherwise.
// Precondition: w.mu held.
func (w *writer) signalIdleLocked() {
	if w.idle != nil {
		w.idle.Broadcast()
	}
}

// fail ends the drain after a write error.
func (w *writer) fail(err error) {
	w.mu.Lock()
	w.shutLocked()
	w.flushing = false
	w.signalIdleLocked()
	w.mu.Unlock()
	w.onError(err)
}

// close stops the writer. With flush, it first waits until queued messages
// are written (or a write fails).
func (w *writer) close(flush bool) {
	w.mu.Lock()
	if flush {
		if w.held {
			w.stopHeldLocked()
			w.flushQueueLocked()
		}
		for w.flushing && !w.closed {
			if w.idle == nil {
				w.idle = sync.NewCond(&w.mu)
			}
			w.idle.Wait()
		}
	}
	w.shutLocked()
	w.mu.Unlock()
}

// shutLocked closes the writer and drops what it holds: queued messages
// and a delayed flush. Precondition: w.mu held.
func (w *writer) shutLocked() {
	w.stopHeldLocked()
	w.closed = true
	w.queue = nil
	w.size = 0
}

// stopHeldLocked drops the delayed flush (a callback already started
// finds held false). Precondition: w.mu held.
func (w *writer) stopHeldLocked() {
	if w.held {
		w.held = false
		w.timer.Stop()
	}
}
