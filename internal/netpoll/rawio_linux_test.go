//go:build linux

package netpoll_test

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/testutil/loopback"
)

// withFD runs f with the descriptor behind rc.
func withFD(t *testing.T, rc syscall.RawConn, f func(fd int)) {
	t.Helper()
	if err := rc.Control(func(fd uintptr) { f(int(fd)) }); err != nil { //nolint:gosec // fd fits in int
		t.Fatal(err)
	}
}

func TestRawReadWrite(t *testing.T) {
	_, client, rc := loopback.RawPair(t)
	buf := make([]byte, 16)

	withFD(t, rc, func(fd int) {
		if n, err := netpoll.Read(fd, buf); !errors.Is(err, syscall.EAGAIN) || n != -1 {
			t.Errorf("read with nothing arrived = %d, %v; want -1, EAGAIN", n, err)
		}
		if n, err := netpoll.Read(fd, nil); n != 0 || err != nil {
			t.Errorf("read into an empty buffer = %d, %v; want 0, nil", n, err)
		}
		if n, err := netpoll.Write(fd, []byte("hello")); n != 5 || err != nil {
			t.Errorf("write = %d, %v; want 5, nil", n, err)
		}
	})
	got := make([]byte, 5)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "hello" {
		t.Fatalf("client read %q, %v", got, err)
	}

	if _, err := client.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the server end reads what the client wrote", func() bool {
		var n int
		withFD(t, rc, func(fd int) { n, _ = netpoll.Read(fd, buf) })
		return n == 3 && bytes.Equal(buf[:3], []byte("abc"))
	})

	// The client closing its side reads as 0 bytes and no error (EOF).
	_ = client.Close()
	eventually(t, "end of stream", func() bool {
		var (
			n   int
			err error
		)
		withFD(t, rc, func(fd int) { n, err = netpoll.Read(fd, buf) })
		return n == 0 && err == nil
	})
}

func TestRawWriteFullSocket(t *testing.T) {
	_, _, rc := loopback.RawPair(t) // the client never reads
	// A full socket buffer ends a write with EAGAIN, never by blocking.
	withFD(t, rc, func(fd int) {
		chunk := make([]byte, 64<<10)
		for i := 0; ; i++ {
			n, err := netpoll.Write(fd, chunk)
			if errors.Is(err, syscall.EAGAIN) {
				if n != 0 {
					t.Errorf("failed write reported %d bytes", n)
				}
				return
			}
			if err != nil || i > 10000 {
				t.Fatalf("write %d: %d, %v", i, n, err)
			}
		}
	})

}

// TestRawReadWriteNotSocket: on a descriptor that is not a socket (a pipe),
// where sendto/recvfrom fail with ENOTSOCK, Write and Read fall back to
// write(2) and read(2).
func TestRawReadWriteNotSocket(t *testing.T) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(p[0]); _ = syscall.Close(p[1]) })
	if n, err := netpoll.Write(p[1], []byte("pipe")); n != 4 || err != nil {
		t.Fatalf("write to a pipe = %d, %v; want 4, nil", n, err)
	}
	buf := make([]byte, 8)
	if n, err := netpoll.Read(p[0], buf); n != 4 || err != nil || string(buf[:4]) != "pipe" {
		t.Fatalf("read from a pipe = %d, %v, %q; want 4, nil, \"pipe\"", n, err, buf[:n])
	}
	if n, err := netpoll.Read(p[0], buf); n != -1 || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("read from an empty pipe = %d, %v; want -1, EAGAIN", n, err)
	}
}
