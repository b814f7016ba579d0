package websocket_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
	"github.com/heraldrt/herald/internal/uring"
)

// writeOutcome is an engine.WriteDone recording what it is told.
type writeOutcome struct {
	done chan [2]any // complete, err
}

func newWriteOutcome() *writeOutcome { return &writeOutcome{done: make(chan [2]any, 1000)} }

func (o *writeOutcome) WriteDone(complete bool, err error) { o.done <- [2]any{complete, err} }

func batchWriter(t *testing.T, s *fakeSession) engine.BatchWriter {
	t.Helper()
	bw, ok := s.t.(engine.BatchWriter)
	if !ok {
		t.Fatal("transport does not implement engine.BatchWriter")
	}
	return bw
}

// readingSession dials ts and returns the session once the server has read
// a frame from it, so that the connection is served by the reactor (which
// is when writes can be batched).
func readingSession(t *testing.T, cfg ws.Config) (*websocket.Conn, *fakeSession) {
	t.Helper()
	read := make(chan *fakeSession, 1)
	ts := newTestServer(t, cfg, withOnFrame(func(s *fakeSession, _ []byte) bool {
		select {
		case read <- s:
		default:
		}
		return true
	}))
	c := ts.dial(t, "", nil)
	sendText(t, c, "go")
	return c, recv(t, read, "the first frame")
}

func getBatch(t *testing.T) *uring.Batch {
	t.Helper()
	b := uring.Get()
	if b == nil {
		t.Skip("io_uring is not available here")
	}
	t.Cleanup(b.Release)
	return b
}

// TestBatchedWriteKeepsItsPlace: a frame queued in a batch goes out when
// the batch is submitted, and a write made meanwhile by another goroutine
// waits for it: the client reads the batched frame first.
func TestBatchedWriteKeepsItsPlace(t *testing.T) {
	c, s := readingSession(t, ws.Config{})
	bw := batchWriter(t, s)
	b := getBatch(t)
	out := newWriteOutcome()
	queued, err := bw.TryWriteManyIn(b, out, []byte("first"), []byte("second"))
	if err != nil || !queued {
		t.Fatalf("TryWriteManyIn = %v, %v; want queued", queued, err)
	}
	later := make(chan error, 1)
	go func() { later <- s.t.WriteMany([]byte("later")) }()
	// The later write must not overtake the batched one: give it the time
	// to try (what is measured is that it makes no progress).
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-later:
		t.Fatalf("a write finished before the batched frame was sent: %v", err)
	default:
	}
	b.Submit()
	if got := recv(t, out.done, "the batch outcome"); got[0] != true || got[1] != nil {
		t.Fatalf("outcome %v, want complete", got)
	}
	if err := recv(t, later, "the later write"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first\nsecond", "later"} {
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, msg, err := c.ReadMessage(); err != nil || string(msg) != want {
			t.Fatalf("read %q, %v; want %q", msg, err, want)
		}
	}
}

// TestBatchedWritesToAFullSocket: batched frames to a client that does not
// read fill its socket; the outcome then says the frame is incomplete, the
// transport keeps the rest, and WriteMany finishes it, so the client reads
// every frame whole and in order.
func TestBatchedWritesToAFullSocket(t *testing.T) {
	c, s := readingSession(t, ws.Config{WriteTimeout: 30 * time.Second})
	bw := batchWriter(t, s)
	b := getBatch(t)
	out := newWriteOutcome()
	payload := bytes.Repeat([]byte("b"), 60<<10)
	n := 0
	for ; n < 2000; n++ {
		queued, err := bw.TryWriteManyIn(b, out, append(fmt.Appendf(nil, "%04d:", n), payload...))
		if err != nil || !queued {
			t.Fatalf("frame %d: TryWriteManyIn = %v, %v", n, queued, err)
		}
		b.Submit()
		got := recv(t, out.done, "the batch outcome")
		if got[1] != nil {
			t.Fatal(got[1])
		}
		if got[0] == false {
			n++
			break
		}
	}
	if n >= 2000 {
		t.Fatal("the socket never filled up")
	}
	// With the rest of a frame kept, the next frame is not batched.
	if queued, err := bw.TryWriteManyIn(b, out, []byte("x")); queued || err != nil {
		t.Fatalf("TryWriteManyIn behind a kept rest = %v, %v; want not queued", queued, err)
	}
	finished := make(chan error, 1)
	go func() { finished <- s.t.WriteMany() }()
	readNumberedFrames(t, c, n, len(payload))
	if err := recv(t, finished, "the rest of the frame"); err != nil {
		t.Fatal(err)
	}
}

// TestBatchedWriteAfterClose: a closed transport refuses batched writes
// with ErrClosed.
func TestBatchedWriteAfterClose(t *testing.T) {
	_, s := readingSession(t, ws.Config{})
	bw := batchWriter(t, s)
	b := getBatch(t)
	if err := s.t.Close(protocol.DisconnectShutdown); err != nil {
		t.Fatal(err)
	}
	if queued, err := bw.TryWriteManyIn(b, newWriteOutcome(), []byte("x")); queued || !errors.Is(err, ws.ErrClosed) {
		t.Fatalf("TryWriteManyIn after Close = %v, %v; want ErrClosed", queued, err)
	}
	if b.Len() != 0 {
		t.Fatal("a closed transport added to the batch")
	}
}
