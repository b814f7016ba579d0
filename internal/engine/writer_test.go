package engine

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/uring"
)

// fakeSocket records frames; tryWrite accepts or holds back per its mode.
type fakeSocket struct {
	mu      sync.Mutex
	frames  [][]string
	held    []string // a frame the fast path could not finish
	mode    string   // "accept", "partial", "fail"
	written chan struct{}
}

func (f *fakeSocket) write(msgs ...[]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held != nil {
		f.frames = append(f.frames, f.held)
		f.held = nil
	}
	if len(msgs) > 0 {
		var fr []string
		for _, m := range msgs {
			fr = append(fr, string(m))
		}
		f.frames = append(f.frames, fr)
	}
	select {
	case f.written <- struct{}{}:
	default:
	}
	return nil
}

func (f *fakeSocket) tryWrite(msgs ...[]byte) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.mode {
	case "fail":
		return false, errors.New("broken pipe")
	case "partial":
		for _, m := range msgs {
			f.held = append(f.held, string(m))
		}
		return false, nil
	}
	var fr []string
	for _, m := range msgs {
		fr = append(fr, string(m))
	}
	f.frames = append(f.frames, fr)
	return true, nil
}

func (f *fakeSocket) snapshot() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.frames...)
}

// newTestWriter returns a writer over f with cfg; a write error fails the
// test.
func newTestWriter(t *testing.T, f *fakeSocket, cfg writerConfig) *writer {
	t.Helper()
	w := newWriter(cfg, f.write, func(error) { t.Error("unexpected error") })
	w.tryWrite = f.tryWrite
	return w
}

// writerState reports whether w is draining and whether it holds messages
// for the write delay.
func writerState(w *writer) (flushing, held bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushing, w.held
}

func TestWriterFastPath(t *testing.T) {
	f := &fakeSocket{mode: "accept", written: make(chan struct{}, 1)}
	w := newTestWriter(t, f, writerConfig{})
	w.enqueue([]byte("a"), false)
	if got := f.snapshot(); len(got) != 1 || got[0][0] != "a" {
		t.Fatalf("fast path did not write inline: %v", got)
	}
	if flushing, _ := writerState(w); flushing {
		t.Fatal("fast path started a drain")
	}
}

func TestWriterPartialWriteIsFinishedBeforeNextFrame(t *testing.T) {
	f := &fakeSocket{mode: "partial", written: make(chan struct{}, 16)}
	w := newTestWriter(t, f, writerConfig{})
	w.enqueue([]byte("a"), false)
	w.enqueue([]byte("b"), false)
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := f.snapshot()
		if len(got) == 2 {
			if got[0][0] != "a" || got[1][0] != "b" {
				t.Fatalf("order: %v", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("frames %v", got)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriterFastPathError(t *testing.T) {
	f := &fakeSocket{mode: "fail"}
	failed := make(chan struct{})
	w := newWriter(writerConfig{}, f.write, func(error) { close(failed) })
	w.tryWrite = f.tryWrite
	w.enqueue([]byte("a"), false)
	select {
	case <-failed:
	case <-time.After(2 * time.Second):
		t.Fatal("error not reported")
	}
	if w.enqueue([]byte("b"), false) {
		t.Fatal("closed writer accepted a message")
	}
}

func TestWriterQueueLimit(t *testing.T) {
	block := make(chan struct{})
	w := newWriter(writerConfig{maxSize: 10}, func(msgs ...[]byte) error { <-block; return nil }, func(error) {})
	for i := 0; i < 2; i++ {
		if !w.enqueue([]byte("12345"), false) {
			t.Fatalf("message %d within the limit refused", i+1)
		}
	}
	if w.enqueue([]byte("123456789012"), false) {
		t.Fatal("over limit accepted")
	}
	close(block)
}

// waitFrames polls f until it recorded n frames and returns them.
func waitFrames(t *testing.T, f *fakeSocket, n int) [][]string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := f.snapshot()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("frames %v, want %d", got, n)
		}
		time.Sleep(time.Millisecond) // polling interval, not an assertion
	}
}

// TestWriterDelayHoldsDelayableMessages: with a write delay, a fan-out's
// messages wait (nothing is written) and go out together, in one frame and
// in order, when the delay's timer fires (called directly here).
func TestWriterDelayHoldsDelayableMessages(t *testing.T) {
	f := &fakeSocket{mode: "accept"}
	w := newTestWriter(t, f, writerConfig{delay: time.Hour})
	w.enqueue([]byte("a"), true)
	w.enqueueDelayable([][]byte{[]byte("b"), []byte("c")}, nil)
	if got := f.snapshot(); len(got) != 0 {
		t.Fatalf("held messages written before the delay: %v", got)
	}
	w.flushHeld()
	got := f.snapshot()
	if len(got) != 1 || strings.Join(got[0], ",") != "a,b,c" {
		t.Fatalf("frames %v, want one frame a,b,c", got)
	}
	w.flushHeld() // a late timer callback writes nothing more
	if got := f.snapshot(); len(got) != 1 {
		t.Fatalf("frames after a second flush %v", got)
	}
}

// TestWriterImmediateMessageTakesHeldAlong: a reply does not wait for the
// delay, and takes the held messages along, before it, in one frame.
func TestWriterImmediateMessageTakesHeldAlong(t *testing.T) {
	f := &fakeSocket{mode: "accept"}
	w := newTestWriter(t, f, writerConfig{delay: time.Hour})
	w.enqueue([]byte("pub1"), true)
	w.enqueue([]byte("pub2"), true)
	w.enqueue([]byte("reply"), false)
	got := f.snapshot()
	if len(got) != 1 || strings.Join(got[0], ",") != "pub1,pub2,reply" {
		t.Fatalf("frames %v, want one frame pub1,pub2,reply", got)
	}
	if _, held := writerState(w); held {
		t.Fatal("still holding after the immediate write")
	}
}

// TestWriterDelayTimerFires: held messages go out by themselves once the
// delay has passed.
func TestWriterDelayTimerFires(t *testing.T) {
	f := &fakeSocket{mode: "accept"}
	w := newTestWriter(t, f, writerConfig{delay: 5 * time.Millisecond})
	w.enqueue([]byte("x"), true)
	if got := waitFrames(t, f, 1); got[0][0] != "x" {
		t.Fatalf("frames %v", got)
	}
	w.enqueue([]byte("y"), true) // the timer is armed again
	if got := waitFrames(t, f, 2); got[1][0] != "y" {
		t.Fatalf("frames %v", got)
	}
}

// TestWriterMaxMessagesInFrame: no frame carries more than maxBatch
// messages, whether written at once or held.
func TestWriterMaxMessagesInFrame(t *testing.T) {
	for _, delay := range []time.Duration{0, time.Hour} {
		f := &fakeSocket{mode: "accept"}
		w := newWriter(writerConfig{maxBatch: 2, delay: delay}, f.write, func(error) { t.Error("unexpected error") })
		w.tryWrite = f.tryWrite
		w.enqueueDelayable([][]byte{[]byte("a"), []byte("b"), []byte("c")}, nil)
		if delay > 0 {
			w.flushHeld()
		}
		got := waitFrames(t, f, 2)
		if len(got) != 2 || strings.Join(got[0], ",") != "a,b" || strings.Join(got[1], ",") != "c" {
			t.Fatalf("delay %s: frames %v, want a,b then c", delay, got)
		}
	}
}

// TestWriterCloseFlushesHeld: a polite close writes what is held first; the
// held messages count against the queue limit.
func TestWriterCloseFlushesHeld(t *testing.T) {
	f := &fakeSocket{mode: "accept"}
	w := newTestWriter(t, f, writerConfig{delay: time.Hour, maxSize: 10})
	for i := range 2 {
		if !w.enqueue([]byte("12345"), true) {
			t.Fatalf("held message %d within the limit refused", i+1)
		}
	}
	if w.enqueue([]byte("1"), true) {
		t.Fatal("a held message over the limit was accepted")
	}
	w.close(true)
	if got := f.snapshot(); len(got) != 1 || strings.Join(got[0], ",") != "12345,12345" {
		t.Fatalf("frames %v, want the held messages written before closing", got)
	}
}

// batchSocket is a fakeSocket whose fan-out writes are batched: a queued
// frame is written (or not) when the test calls finish, as a submission
// would.
type batchSocket struct {
	*fakeSocket
	queued [][]byte
	done   WriteDone
}

func (f *batchSocket) TryWriteManyIn(_ *uring.Batch, done WriteDone, msgs ...[]byte) (bool, error) {
	f.queued, f.done = msgs, done
	return true, nil
}

// finish ends the queued write: written whole, kept in part, or failed.
func (f *batchSocket) finish(complete bool, err error) {
	f.mu.Lock()
	var fr []string
	for _, m := range f.queued {
		fr = append(fr, string(m))
	}
	switch {
	case err != nil:
	case complete:
		f.frames = append(f.frames, fr)
	default:
		f.held = fr
	}
	f.mu.Unlock()
	f.done.WriteDone(complete, err)
}

func newBatchWriter(t *testing.T, onError func(error)) (*writer, *batchSocket, *uring.Batch) {
	t.Helper()
	b := uring.Get()
	if b == nil {
		t.Skip("io_uring is not available here")
	}
	t.Cleanup(b.Release)
	f := &batchSocket{fakeSocket: &fakeSocket{mode: "accept", written: make(chan struct{}, 16)}}
	w := newWriter(writerConfig{}, f.write, onError)
	w.tryWrite = f.tryWrite
	w.batch = f
	return w, f, b
}

// TestWriterBatchedWriteGoesFirst: messages enqueued while a fan-out's
// write waits in a batch are written after it, whether the batch wrote
// the whole frame or left a rest to finish.
func TestWriterBatchedWriteGoesFirst(t *testing.T) {
	for _, complete := range []bool{true, false} {
		w, f, b := newBatchWriter(t, func(error) { t.Error("unexpected error") })
		if !w.enqueueDelayable([][]byte{[]byte("a"), []byte("b")}, b) {
			t.Fatal("refused")
		}
		w.enqueue([]byte("reply"), false)
		if got := f.snapshot(); len(got) != 0 {
			t.Fatalf("written while the batched frame waits: %v", got)
		}
		f.finish(complete, nil)
		got := waitFrames(t, f.fakeSocket, 2)
		if len(got) != 2 || strings.Join(got[0], ",") != "a,b" || got[1][0] != "reply" {
			t.Fatalf("complete=%v: frames %v, want [a b] then [reply]", complete, got)
		}
	}
}

// TestWriterBatchedWriteError: a failed batched write closes the writer
// and reports the error once.
func TestWriterBatchedWriteError(t *testing.T) {
	failed := make(chan error, 2)
	w, f, b := newBatchWriter(t, func(err error) { failed <- err })
	w.enqueueDelayable([][]byte{[]byte("a")}, b)
	f.finish(false, errors.New("connection reset"))
	select {
	case <-failed:
	case <-time.After(5 * time.Second):
		t.Fatal("error not reported")
	}
	if w.enqueue([]byte("b"), false) {
		t.Fatal("closed writer accepted a message")
	}
}

// TestWriterCloseWaitsForBatchedWrite: a flushing close returns only once
// the batched write has ended.
func TestWriterCloseWaitsForBatchedWrite(t *testing.T) {
	w, f, b := newBatchWriter(t, func(error) { t.Error("unexpected error") })
	w.enqueueDelayable([][]byte{[]byte("a")}, b)
	closed := make(chan struct{})
	go func() { w.close(true); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while the batched write was pending")
	case <-time.After(20 * time.Millisecond): // close making no progress is what is checked
	}
	f.finish(true, nil)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not return after the batched write ended")
	}
}

// newWriter returns a writer set up by init (a Client holds its own by
// value).
func newWriter(cfg writerConfig, write func(msgs ...[]byte) error, onError func(error)) *writer {
	w := new(writer)
	w.init(cfg, write, onError)
	return w
}
