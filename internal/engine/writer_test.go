package engine

import (
	"errors"
	"sync"
	"testing"
	"time"
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

func TestWriterFastPath(t *testing.T) {
	f := &fakeSocket{mode: "accept", written: make(chan struct{}, 1)}
	w := newWriter(0, f.write, func(error) { t.Error("unexpected error") })
	w.tryWrite = f.tryWrite
	w.enqueue([]byte("a"))
	if got := f.snapshot(); len(got) != 1 || got[0][0] != "a" {
		t.Fatalf("fast path did not write inline: %v", got)
	}
	w.mu.Lock()
	flushing := w.flushing
	w.mu.Unlock()
	if flushing {
		t.Fatal("fast path started a drain")
	}
}

func TestWriterPartialWriteIsFinishedBeforeNextFrame(t *testing.T) {
	f := &fakeSocket{mode: "partial", written: make(chan struct{}, 16)}
	w := newWriter(0, f.write, func(error) { t.Error("unexpected error") })
	w.tryWrite = f.tryWrite
	w.enqueue([]byte("a"))
	w.enqueue([]byte("b"))
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
	w := newWriter(0, f.write, func(error) { close(failed) })
	w.tryWrite = f.tryWrite
	w.enqueue([]byte("a"))
	select {
	case <-failed:
	case <-time.After(2 * time.Second):
		t.Fatal("error not reported")
	}
	if w.enqueue([]byte("b")) {
		t.Fatal("closed writer accepted a message")
	}
}

func TestWriterQueueLimit(t *testing.T) {
	block := make(chan struct{})
	w := newWriter(10, func(msgs ...[]byte) error { <-block; return nil }, func(error) {})
	for i := 0; i < 2; i++ {
		if !w.enqueue([]byte("12345")) {
			t.Fatalf("message %d within the limit refused", i+1)
		}
	}
	if w.enqueue([]byte("123456789012")) {
		t.Fatal("over limit accepted")
	}
	close(block)
}
