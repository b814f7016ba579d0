package rawio_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/rawio"
	"github.com/heraldrt/herald/internal/testutil/loopback"
)

// pair returns a wrapped server end and the plain client end of a loopback
// TCP connection.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := rawio.Listener{Listener: ln}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = client.Close() })
	if _, ok := s.(*rawio.Conn); !ok {
		t.Fatalf("accepted %T, want *rawio.Conn", s)
	}
	return s, client
}

func TestReadWriteEOF(t *testing.T) {
	s, c := pair(t)
	// A write larger than the socket buffers completes while the peer reads.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(c, int64(len(big))))
		got <- b
	}()
	if n, err := s.Write(big); err != nil || n != len(big) {
		t.Fatalf("write %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("peer read %d bytes, want %d intact", len(b), len(big))
	}
	// A read waits for data, then returns it.
	go func() { time.Sleep(20 * time.Millisecond); _, _ = c.Write([]byte("hello")) }() // the read waits; not an assertion
	buf := make([]byte, 16)
	if n, err := s.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	_ = c.Close()
	if n, err := s.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("after the peer closed: %d, %v; want EOF", n, err)
	}
}

func TestDeadlinesAndClose(t *testing.T) {
	s, _ := pair(t)
	_ = s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := s.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	_ = s.SetReadDeadline(time.Time{})
	_ = s.Close()
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
}

// headConn is a conn with bytes read ahead: like connsplit.Conn, its
// socket is not exposed until they were read.
type headConn struct {
	net.Conn
	head []byte
}

func (h *headConn) Read(p []byte) (int, error) {
	if len(h.head) > 0 {
		n := copy(p, h.head)
		h.head = h.head[n:]
		return n, nil
	}
	return h.Conn.Read(p)
}

func (h *headConn) SyscallConn() (syscall.RawConn, error) {
	if len(h.head) > 0 {
		return nil, errors.New("unread head")
	}
	return h.Conn.(syscall.Conn).SyscallConn()
}

func TestHeadReadFirst(t *testing.T) {
	a, c := loopback.Pair(t)
	s := rawio.Wrap(&headConn{Conn: a, head: []byte("head-")})
	defer s.Close()
	if _, err := c.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 3)
	_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len("head-tail") {
		n, err := s.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "head-tail" {
		t.Fatalf("read %q", got)
	}
	if p, q := net.Pipe(); rawio.Wrap(p) != p {
		t.Error("a conn without a socket is not returned as it is")
	} else {
		_ = q.Close()
	}
}

// TestReadNowWriteNow: the non-waiting calls report EAGAIN on an empty
// socket, return what has arrived, stop at a full socket without error,
// and report the connection's own error once it is closed.
func TestReadNowWriteNow(t *testing.T) {
	s, c, rc := loopback.RawPair(t)
	buf := make([]byte, 64)
	if n, err, cerr := rawio.ReadNow(rc, buf); n != 0 || !errors.Is(err, syscall.EAGAIN) || cerr != nil {
		t.Fatalf("empty socket: %d, %v, %v; want EAGAIN", n, err, cerr)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err, _ := rawio.ReadNow(rc, buf)
		if n > 0 {
			if string(buf[:n]) != "ping" {
				t.Fatalf("read %q", buf[:n])
			}
			break
		}
		if !errors.Is(err, syscall.EAGAIN) || time.Now().After(deadline) {
			t.Fatalf("read: %v", err)
		}
		time.Sleep(time.Millisecond) // polling for the data; not an assertion
	}
	big := make([]byte, 64<<20) // more than the socket buffers hold
	n, err := rawio.WriteNow(rc, big)
	if err != nil || n == 0 || n == len(big) {
		t.Fatalf("write to a peer that does not read: %d of %d, %v; want a partial write", n, len(big), err)
	}
	_ = s.Close()
	if _, _, cerr := rawio.ReadNow(rc, buf); !errors.Is(cerr, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", cerr)
	}
}

// TestReadAvailable: each outcome of a read without waiting is sorted for
// the reader: nothing yet, data, end of stream, a connection closed here.
func TestReadAvailable(t *testing.T) {
	server, client, rc := loopback.RawPair(t)
	buf := make([]byte, 16)
	if n, err := rawio.ReadAvailable(rc, buf); n != 0 || !errors.Is(err, rawio.ErrWouldBlock) {
		t.Fatalf("nothing sent: %d, %v; want ErrWouldBlock", n, err)
	}
	if _, err := client.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if n, err := readArrived(t, rc, buf); err != nil || string(buf[:n]) != "hi" {
		t.Fatalf("data sent: %q, %v; want hi", buf[:n], err)
	}
	_ = client.Close()
	if n, err := readArrived(t, rc, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("peer closed: %d, %v; want io.EOF", n, err)
	}
	_ = server.Close()
	if _, err := rawio.ReadAvailable(rc, buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed here: %v; want net.ErrClosed", err)
	}
}

// readArrived polls ReadAvailable until something other than
// ErrWouldBlock comes (what loopback sent has arrived), for at most 5 s.
func readArrived(t *testing.T, rc syscall.RawConn, buf []byte) (int, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := rawio.ReadAvailable(rc, buf)
		if !errors.Is(err, rawio.ErrWouldBlock) || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(time.Millisecond) // polling for the loopback delivery
	}
}
