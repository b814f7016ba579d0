package nbtls_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/testutil/testcert"
)

const waitTimeout = 5 * time.Second

// pair returns a server *tls.Conn accepted through an nbtls listener,
// handshaken, and the client end, whose TCP writes are at most split bytes
// (0: unsplit).
func pair(t *testing.T, split int) (*tls.Conn, *tls.Conn) {
	t.Helper()
	serverTLS, clientTLS := testcert.Configs(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	tln := nbtls.NewListener(ln, serverTLS)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := tln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if split > 0 {
		raw = &splitWriter{Conn: raw, size: split}
	}
	client := tls.Client(raw, clientTLS)
	t.Cleanup(func() { _ = client.Close() })
	handshake := make(chan error, 1)
	go func() { handshake <- client.Handshake() }()
	c, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	server := c.(*tls.Conn)
	t.Cleanup(func() { _ = server.Close() })
	_ = server.SetDeadline(time.Now().Add(waitTimeout))
	if err := server.Handshake(); err != nil { // blocking mode, as the HTTP server does it
		t.Fatal(err)
	}
	if err := <-handshake; err != nil {
		t.Fatal(err)
	}
	return server, client
}

// readNonblocking reads from server until want bytes came, the way a
// reactor does: Read, and on ErrWouldBlock Fill, polling while the socket
// has nothing.
func readNonblocking(t *testing.T, server *tls.Conn, nb *nbtls.Conn, want int) (string, int) {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	wouldBlock := 0
	deadline := time.Now().Add(waitTimeout)
	for len(got) < want {
		n, err := server.Read(buf)
		got = append(got, buf[:n]...)
		if n > 0 {
			continue
		}
		if !errors.Is(err, nbtls.ErrWouldBlock) {
			t.Fatalf("read: %v after %d bytes", err, len(got))
		}
		wouldBlock++
		more, err := nb.Fill()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d bytes within %s", len(got), want, waitTimeout)
			}
			time.Sleep(time.Millisecond) // waiting for readiness; not an assertion
		}
	}
	return string(got), wouldBlock
}

// TestNonblockingReadsAcrossPartialRecords: in non-blocking mode a TLS
// connection whose records arrive a few bytes at a time reads them whole,
// with ErrWouldBlock (not a failure) in between, and reports the client's
// close as io.EOF.
func TestNonblockingReadsAcrossPartialRecords(t *testing.T) {
	server, client := pair(t, 7)
	nb := nonblocking(t, server)
	buf := make([]byte, 16)
	if n, err := server.Read(buf); n != 0 || !errors.Is(err, nbtls.ErrWouldBlock) {
		t.Fatalf("read with nothing sent = %d, %v; want ErrWouldBlock", n, err)
	}

	// Records that reach the server 7 bytes at a time.
	msg := strings.Repeat("partial-record ", 100)
	go func() { _, _ = client.Write([]byte(msg)) }()
	got, wouldBlock := readNonblocking(t, server, nb, len(msg))
	if got != msg {
		t.Fatalf("read %d bytes, want the %d sent", len(got), len(msg))
	}
	t.Logf("%d reads found no complete record", wouldBlock)

	// The server's writes are unaffected (blocking, through crypto/tls).
	if _, err := server.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(waitTimeout))
	reply := make([]byte, 5)
	if _, err := io.ReadFull(client, reply); err != nil || string(reply) != "reply" {
		t.Fatalf("client read %q, %v", reply, err)
	}

	_ = client.Close()
	deadline := time.Now().Add(waitTimeout)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			t.Fatalf("unexpected %d bytes after close", n)
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if !errors.Is(err, nbtls.ErrWouldBlock) {
			t.Fatalf("after the client closed: %v, want io.EOF", err)
		}
		if more, err := nb.Fill(); err != nil {
			t.Fatal(err)
		} else if !more {
			if time.Now().After(deadline) {
				t.Fatal("no EOF after the client closed")
			}
			time.Sleep(time.Millisecond) // waiting for readiness; not an assertion
		}
	}
}

// TestBlockingModeByDefault: until SetNonblocking, Read waits for data like
// any net.Conn (the HTTP server reads requests this way).
func TestBlockingModeByDefault(t *testing.T) {
	server, client := pair(t, 0)
	go func() {
		time.Sleep(20 * time.Millisecond) // the server's Read must wait for this; not an assertion
		_, _ = client.Write([]byte("later"))
	}()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "later" {
		t.Fatalf("blocking read %q, %v", buf, err)
	}
}

// TestSetNonblockingNeedsASocket: a connection without a file descriptor
// cannot be switched.
func TestSetNonblockingNeedsASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	nb := &nbtls.Conn{Conn: a}
	if _, err := nb.SetNonblocking(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("SetNonblocking on a pipe: %v, want ErrUnsupported", err)
	}
}

// splitWriter writes to the connection in chunks of size bytes.
type splitWriter struct {
	net.Conn
	size int
}

func (w *splitWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(w.size, len(p))
		m, err := w.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// TestNonblockingWritesKeepWhatTheSocketRefuses: in non-blocking mode
// writes to a client that does not read return at once; what the socket
// refused is pending, a Flush with a passed deadline fails with a timeout
// (the bytes are not lost to a later flush), and once the client reads,
// Flush delivers everything in order.
func TestNonblockingWritesKeepWhatTheSocketRefuses(t *testing.T) {
	server, client := pair(t, 0)
	nb := nonblocking(t, server)
	chunk := make([]byte, 16<<10)
	const chunks = 256 // 4 MiB: far more than the socket buffers take
	for i := range chunks {
		for j := range chunk {
			chunk[j] = byte(i + j)
		}
		if n, err := server.Write(chunk); err != nil || n != len(chunk) {
			t.Fatalf("write %d = %d, %v", i, n, err)
		}
	}
	if !nb.Pending() {
		t.Fatal("nothing pending after 4 MiB to a client that does not read")
	}

	got := make(chan []byte, 1)
	go func() {
		_ = client.SetReadDeadline(time.Now().Add(waitTimeout))
		b := make([]byte, chunks*len(chunk))
		n, _ := io.ReadFull(client, b)
		got <- b[:n]
	}()
	if err := nb.Flush(time.Now().Add(waitTimeout)); err != nil {
		t.Fatal(err)
	}
	if nb.Pending() {
		t.Fatal("still pending after Flush")
	}
	b := <-got
	if len(b) != chunks*len(chunk) {
		t.Fatalf("client read %d bytes, want %d", len(b), chunks*len(chunk))
	}
	for i := range chunks {
		for j := range len(chunk) {
			if b[i*len(chunk)+j] != byte(i+j) {
				t.Fatalf("byte %d of chunk %d out of order", j, i)
			}
		}
	}
}

// TestFlushTimesOut: a Flush to a client that does not read fails with a
// timeout at its deadline instead of waiting for ever.
func TestFlushTimesOut(t *testing.T) {
	server, _ := pair(t, 0)
	nb := nonblocking(t, server)
	chunk := make([]byte, 64<<10)
	for !nb.Pending() {
		if _, err := server.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	err := nb.Flush(time.Now().Add(50 * time.Millisecond))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Flush to a client that does not read: %v, want a timeout", err)
	}
}

// nonblocking switches server's reads and writes to the non-blocking mode
// and returns its nbtls.Conn.
func nonblocking(t *testing.T, server *tls.Conn) *nbtls.Conn {
	t.Helper()
	nb := server.NetConn().(*nbtls.Conn)
	if _, err := nb.SetNonblocking(); err != nil {
		t.Fatal(err)
	}
	return nb
}

// TestConnContextMarksServedConnections: only a tls.Conn with a Conn under
// it marks the request context.
func TestConnContextMarksServedConnections(t *testing.T) {
	server, _ := pair(t, 0)
	if !nbtls.Served(nbtls.ConnContext(t.Context(), server)) {
		t.Error("a connection of the nbtls listener is not marked")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if nbtls.Served(nbtls.ConnContext(t.Context(), a)) {
		t.Error("a plain connection is marked")
	}
	if nbtls.Served(nbtls.ConnContext(t.Context(), tls.Server(a, &tls.Config{}))) {
		t.Error("a TLS connection of another listener is marked")
	}
	if nbtls.Served(t.Context()) {
		t.Error("an unmarked context reports served")
	}
}
