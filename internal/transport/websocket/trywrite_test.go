package websocket_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// TestTryWriteManyKeepsFramesWhole: while the client does not read, the
// non-blocking write path fills the socket and keeps the rest of a frame;
// the following WriteMany finishes it first, so the client reads every frame
// whole and in order once it reads again.
func TestTryWriteManyKeepsFramesWhole(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 60<<10)
	kept := make(chan int, 1)
	reading := make(chan struct{})
	ts := newTestServer(t, ws.Config{}, withOnFrame(func(s *fakeSession, frame []byte) bool {
		tw, ok := s.t.(engine.TryWriter)
		if !ok {
			t.Error("transport does not implement engine.TryWriter")
			return false
		}
		n := 0
		for ; n < 2000; n++ {
			written, err := tw.TryWriteMany(append([]byte(fmt.Sprintf("%04d:", n)), payload...))
			if err != nil {
				t.Error(err)
				return false
			}
			if !written {
				n++
				break
			}
		}
		kept <- n
		<-reading
		if err := s.t.WriteMany(); err != nil { // finish the kept rest
			t.Error(err)
			return false
		}
		if err := s.t.WriteMany([]byte("end")); err != nil {
			t.Error(err)
		}
		return true
	}))
	c := ts.dial(t, "", nil)
	sendText(t, c, "go")
	n := recv(t, kept, "a kept frame")
	close(reading)
	if n >= 2000 {
		t.Fatal("the socket never filled up")
	}
	readNumberedFrames(t, c, n, len(payload))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "end" {
		t.Fatalf("last frame %q, %v", msg, err)
	}
}

// TestWriteManyFinishesPartialWrites: frames small enough to be written by
// the non-blocking path first (under 16 KiB) to a client that is not
// reading fill the socket; WriteMany then writes what the socket did not
// take, blocking, so every frame reaches the client whole and in order
// once it reads.
func TestWriteManyFinishesPartialWrites(t *testing.T) {
	const frames = 2000 // ~24 MiB: more than the socket buffers hold
	payload := bytes.Repeat([]byte("y"), 12<<10)
	var written atomic.Int64
	done := make(chan error, 1)
	ts := newTestServer(t, ws.Config{WriteTimeout: 30 * time.Second}, withOnFrame(func(s *fakeSession, frame []byte) bool {
		go func() {
			for i := 0; i < frames; i++ {
				if err := s.t.WriteMany(append([]byte(fmt.Sprintf("%04d:", i)), payload...)); err != nil {
					done <- err
					return
				}
				written.Add(1)
			}
			done <- nil
		}()
		return true
	}))
	c := ts.dial(t, "", nil)
	sendText(t, c, "go")
	// Read nothing until the writer is stuck: the socket is full and a
	// WriteMany is waiting with part of its frame written.
	for last := int64(-1); ; {
		time.Sleep(100 * time.Millisecond) // what is measured is the writer making no progress
		n := written.Load()
		if n == frames {
			t.Fatal("every frame was written before the client read: the socket never filled up")
		}
		if n == last {
			break
		}
		last = n
	}
	readNumberedFrames(t, c, frames, len(payload))
	if err := recv(t, done, "the writer to finish"); err != nil {
		t.Fatal(err)
	}
}

// TestWritesAfterAnExpiredDeadline: a blocking write's deadline must not
// outlive it. Once a write that had to wait is over and its deadline has
// passed, later writes on both paths still succeed.
func TestWritesAfterAnExpiredDeadline(t *testing.T) {
	const writeTimeout = 50 * time.Millisecond
	ts := newTestServer(t, ws.Config{WriteTimeout: writeTimeout}, withOnFrame(func(*fakeSession, []byte) bool { return true }))
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	tw, ok := s.t.(engine.TryWriter)
	if !ok {
		t.Fatal("transport does not implement engine.TryWriter")
	}
	big := bytes.Repeat([]byte("z"), 1<<20) // written with a deadline
	small := []byte("after")
	errs := make(chan error, 1)
	go func() {
		if err := s.t.WriteMany(big); err != nil {
			errs <- err
			return
		}
		// Let the deadline of that write pass: what is measured here is
		// the passage of time itself.
		time.Sleep(4 * writeTimeout)
		if done, err := tw.TryWriteMany(small); err != nil || !done {
			errs <- fmt.Errorf("TryWriteMany = %v, %w", done, err)
			return
		}
		time.Sleep(4 * writeTimeout)
		if err := s.t.WriteMany(small); err != nil {
			errs <- fmt.Errorf("WriteMany: %w", err)
			return
		}
		errs <- s.t.Close(protocol.DisconnectShutdown) // close frame: a control write
	}()
	for i, want := range []int{len(big), len(small), len(small)} {
		_, msg, err := c.ReadMessage()
		if err != nil || len(msg) != want {
			t.Fatalf("message %d: %d bytes, %v; want %d bytes", i, len(msg), err, want)
		}
	}
	if err := recv(t, errs, "the writes"); err != nil {
		t.Fatal(err)
	}
	var ce *websocket.CloseError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != int(protocol.DisconnectShutdown.Code) {
		t.Fatalf("after the writes: %v; want close %d", err, protocol.DisconnectShutdown.Code)
	}
}

// readNumberedFrames reads n messages, each "%04d:" (its index) followed by
// size payload bytes, failing on anything else.
func readNumberedFrames(t *testing.T, c *websocket.Conn, n, size int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := fmt.Sprintf("%04d:", i); !bytes.HasPrefix(msg, []byte(want)) || len(msg) != size+5 {
			t.Fatalf("frame %d: got %q… (%d bytes)", i, msg[:min(8, len(msg))], len(msg))
		}
	}
}

// TestDirectWritesStopAtClose: writes go straight to the socket's
// descriptor; while one connection is written to in a loop and closed under
// the writer, connections opened meanwhile (which may get the closed
// descriptor's number) never receive its data, and the writes to the
// closed connection start failing. The race between a write and the close
// is narrow, so this is a stress test; TestShutdownWaitsForDirectWrite
// checks the guard itself deterministically.
func TestDirectWritesStopAtClose(t *testing.T) {
	ts := newTestServer(t, ws.Config{})
	for range 20 {
		a := ts.dial(t, "", nil)
		sa := ts.session(t)
		tw := sa.t.(engine.TryWriter)
		writerErr := make(chan error, 1)
		go func() {
			deadline := time.Now().Add(waitTimeout)
			for time.Now().Before(deadline) {
				if _, err := tw.TryWriteMany([]byte("from-a")); err != nil {
					writerErr <- err
					return
				}
			}
			writerErr <- nil
		}()
		_ = a.UnderlyingConn().Close() // the server's reader sees EOF and closes A under the writer
		b := ts.dial(t, "", nil)
		ts.session(t)
		_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, m, err := b.ReadMessage(); err == nil {
			t.Fatalf("a new connection received %q written to a closed one", m)
		}
		// Writes to the closed connection must fail, not go on succeeding
		// into a descriptor that may now be another connection's.
		if err := <-writerErr; err == nil {
			t.Fatalf("writes to a closed connection still succeed after %s", waitTimeout)
		}
		_ = b.Close()
	}
}
