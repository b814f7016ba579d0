package httpstream_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/testutil/rawhttp"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
	"github.com/heraldrt/herald/internal/uring"
)

// streamOf serves one HTTP-streaming response (JSON lines) and returns its
// Stream, detached when detach is set, and the client's body reader.
func streamOf(t *testing.T, detach bool) (*httpstream.Stream, *bufio.Reader) {
	t.Helper()
	rt := httpstream.NewReactor()
	t.Cleanup(func() { _ = rt.Close() })
	streams := make(chan *httpstream.Stream, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpstream.NewStream(w, httpstream.StreamOptions{Name: "http_stream", Protocol: protocol.TypeJSON, WriteTimeout: 30 * time.Second})
		if err := s.WriteMany([]byte("start")); err != nil {
			t.Error(err)
			return
		}
		if detach && !s.Detach(w, r, rt, func() {}) {
			t.Error("the stream was not detached")
			return
		}
		streams <- s
		if !detach {
			<-s.Done()
			s.Finish()
		}
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, _, resp := rawhttp.Open(t, addr, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n", nil, streamtest.WaitTimeout)
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	body := bufio.NewReader(resp.Body)
	expectLines(t, body, "start")
	var s *httpstream.Stream
	select {
	case s = <-streams:
	case <-time.After(streamtest.WaitTimeout):
		t.Fatal("no stream")
	}
	t.Cleanup(func() { _ = s.Close(protocol.DisconnectShutdown) })
	return s, body
}

func expectLines(t *testing.T, body *bufio.Reader, want ...string) {
	t.Helper()
	for _, w := range want {
		line, err := body.ReadString('\n')
		if err != nil || strings.TrimSuffix(line, "\n") != w {
			t.Fatalf("read %q, %v; want %q", line, err, w)
		}
	}
}

func TestTryWriteManyOnADetachedStream(t *testing.T) {
	s, body := streamOf(t, true)
	if ok, err := s.TryWriteMany([]byte("a"), []byte("b")); !ok || err != nil {
		t.Fatalf("TryWriteMany = %v, %v; want written", ok, err)
	}
	expectLines(t, body, "a", "b")
}

// TestTryWriteManyKeepsMessagesInAHandler: a stream still in its handler
// cannot be written without waiting: TryWriteMany keeps the messages and
// the next WriteMany writes them first.
func TestTryWriteManyKeepsMessagesInAHandler(t *testing.T) {
	s, body := streamOf(t, false)
	if ok, err := s.TryWriteMany([]byte("kept")); ok || err != nil {
		t.Fatalf("TryWriteMany = %v, %v; want kept", ok, err)
	}
	if err := s.WriteMany([]byte("after")); err != nil {
		t.Fatal(err)
	}
	expectLines(t, body, "kept", "after")
}

// TestTryWriteManyKeepsTheRestOfAChunk: to a client that does not read,
// TryWriteMany fills the socket and keeps the rest of a chunk; WriteMany
// finishes it first, so every line arrives whole and in order.
func TestTryWriteManyKeepsTheRestOfAChunk(t *testing.T) {
	s, body := streamOf(t, true)
	payload := strings.Repeat("p", 60<<10)
	n := 0
	for ; n < 2000; n++ {
		ok, err := s.TryWriteMany(fmt.Appendf(nil, "%04d:%s", n, payload))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			n++
			break
		}
	}
	if n >= 2000 {
		t.Fatal("the socket never filled up")
	}
	finished := make(chan error, 1)
	go func() { finished <- s.WriteMany([]byte("end")) }()
	for i := range n {
		line, err := body.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, fmt.Sprintf("%04d:", i)) || len(line) != len(payload)+6 {
			t.Fatalf("line %d: %d bytes %q…, %v", i, len(line), line[:min(8, len(line))], err)
		}
	}
	expectLines(t, body, "end")
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
}

// outcome is an engine.WriteDone recording what it is told.
type outcome chan error

func (o outcome) WriteDone(complete bool, err error) {
	if err == nil && !complete {
		err = fmt.Errorf("incomplete")
	}
	o <- err
}

// TestBatchedChunkKeepsItsPlace: a chunk queued in a batch goes out at the
// submission; a write made meanwhile waits for it.
func TestBatchedChunkKeepsItsPlace(t *testing.T) {
	b := uring.Get()
	if b == nil {
		t.Skip("io_uring is not available here")
	}
	defer b.Release()
	s, body := streamOf(t, true)
	done := make(outcome, 1)
	if queued, err := s.TryWriteManyIn(b, done, []byte("batched")); !queued || err != nil {
		t.Fatalf("TryWriteManyIn = %v, %v; want queued", queued, err)
	}
	later := make(chan error, 1)
	go func() { later <- s.WriteMany([]byte("later")) }()
	time.Sleep(50 * time.Millisecond) // the later write must make no progress; not a timing assertion on success
	select {
	case err := <-later:
		t.Fatalf("a write finished before the batched chunk was sent: %v", err)
	default:
	}
	b.Submit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-later; err != nil {
		t.Fatal(err)
	}
	expectLines(t, body, "batched", "later")
}
