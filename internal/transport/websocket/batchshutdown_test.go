package websocket

import (
	"io"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/testutil/loopback"
	"github.com/heraldrt/herald/internal/uring"
)

// doneRecorder is an engine.WriteDone that signals its call.
type doneRecorder chan error

func (d doneRecorder) WriteDone(_ bool, err error) { d <- err }

// TestShutdownWaitsForBatchedWrite: a connection whose frame waits in a
// batch keeps its descriptor open until the batch is submitted (its number
// cannot pass to another connection while the kernel may still be given
// it), and the frame goes out whole before the connection closes.
func TestShutdownWaitsForBatchedWrite(t *testing.T) {
	b := uring.Get()
	if b == nil {
		t.Skip("io_uring is not available here")
	}
	defer b.Release()
	server, client, rc := loopback.RawPair(t)
	c := newConn(NewHandler(nil, Config{}, nil), server, protocol.TypeJSON)
	c.setRawConn(rc)

	done := make(doneRecorder, 1)
	if queued, err := c.TryWriteManyIn(b, done, []byte("batched")); !queued || err != nil {
		t.Fatalf("TryWriteManyIn = %v, %v", queued, err)
	}
	shutdownWaitsFor(t, c, "a frame waiting in a batch", func() {
		b.Submit()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(client)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x81\x07batched"; string(got) != want {
		t.Fatalf("client read %q, want the whole frame %q then the close", got, want)
	}
	if queued, err := c.TryWriteManyIn(b, done, []byte("late")); queued {
		t.Fatalf("a write was batched after shutdown (err %v)", err)
	}
}
