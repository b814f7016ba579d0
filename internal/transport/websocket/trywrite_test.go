package websocket_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/heraldrt/herald/internal/engine"
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
	for i := 0; i < n; i++ {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := fmt.Sprintf("%04d:", i); !bytes.HasPrefix(msg, []byte(want)) || len(msg) != len(payload)+5 {
			t.Fatalf("frame %d: got %q… (%d bytes)", i, msg[:8], len(msg))
		}
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "end" {
		t.Fatalf("last frame %q, %v", msg, err)
	}
}
