//go:build linux

package rawtcp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns a Conn accepted by a Listener and the client's end; the
// client has sent first (nil: nothing), so that the accept, deferred until
// data arrives, completes at once.
func pair(t *testing.T, first []byte) (*Conn, net.Conn) {
	t.Helper()
	l := listen(t)
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if first != nil {
		if _, err := client.Write(first); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := sc.(*Conn)
	t.Cleanup(func() { _ = c.Close() })
	return c, client
}

// listen returns a Listener on a loopback port, closed at the test's end.
func listen(t *testing.T) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, ok := NewListener(ln).(*Listener)
	if !ok {
		t.Fatalf("NewListener returned %T", NewListener(ln))
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func handedOver(c *Conn) bool { return c.file.Load() != nil }

// readExactly reads len(want) bytes from c within 5 s and fails the test
// (what names the read) unless they are want.
func readExactly(t *testing.T, c net.Conn, want, what string) {
	t.Helper()
	buf := make([]byte, len(want))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.ReadFull(c, buf); err != nil || string(buf[:n]) != want {
		t.Fatalf("%s = %q, %v; want %q", what, buf[:n], err, want)
	}
}

func TestReadWriteRawUntilWaiting(t *testing.T) {
	c, client := pair(t, []byte("hello"))
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if _, err := c.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(client, buf[:5]); err != nil || string(buf[:n]) != "world" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}
	if handedOver(c) {
		t.Fatal("a connection that never waited was handed to the runtime poller")
	}
	if got, want := c.RemoteAddr().String(), client.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr = %s, want %s", got, want)
	}
	if got, want := c.LocalAddr().String(), client.RemoteAddr().String(); got != want {
		t.Errorf("LocalAddr = %s, want %s", got, want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := client.Read(buf); err != io.EOF {
		t.Fatalf("client read after Close = %d, %v; want EOF", n, err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
}

func TestAcceptedSocketOptions(t *testing.T) {
	c, _ := pair(t, []byte("x"))
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(fd uintptr) {
		if v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY); err != nil || v != 1 {
			t.Errorf("TCP_NODELAY = %d, %v; want 1", v, err)
		}
		if fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
			t.Errorf("not in non-blocking mode: flags %#x, %v", fl, err)
		}
		if fl, err := unix.FcntlInt(fd, unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("not close-on-exec: flags %#x, %v", fl, err)
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// A read with nothing to read waits in the runtime poller, honouring its
// deadline and woken by data or by Close.
func TestReadWaits(t *testing.T) {
	c, client := pair(t, []byte("a"))
	buf := make([]byte, 8)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v, want a timeout", err)
	}
	if !handedOver(c) {
		t.Fatal("a waiting read did not hand the connection over")
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		n, _ := c.Read(buf)
		got <- string(buf[:n])
	}()
	if _, err := client.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "late" {
			t.Fatalf("Read = %q, want late", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read not woken by data")
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(buf)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it block; the outcome is the same if not
	_ = c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read ended by Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake a blocked Read")
	}
}

// A deadline set before the hand-over applies after it, and an expired one
// fails the raw path too.
func TestDeadlinesCarriedOver(t *testing.T) {
	c, _ := pair(t, []byte("a"))
	if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read with an expired deadline = %v", err)
	}
	if handedOver(c) {
		t.Fatal("an expired deadline handed over")
	}
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "a" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	start := time.Now()
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("waiting Read = %v, want the carried-over deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("deadline not applied")
	}
}

// A write larger than the socket takes waits for the peer to read; with a
// peer that does not read, its deadline ends it.
func TestWriteWaits(t *testing.T) {
	c, client := pair(t, []byte("a"))
	big := bytes.Repeat([]byte("x"), 16<<20)
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(big)
		done <- err
	}()
	n, err := io.ReadFull(client, make([]byte, len(big)))
	if err != nil || n != len(big) {
		t.Fatalf("client read %d, %v", n, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	n, err = c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(big) {
		t.Fatalf("Write to a peer not reading = %d, %v; want a timeout", n, err)
	}
}

func TestCloseWrite(t *testing.T) {
	c, client := pair(t, []byte("a"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read after CloseWrite = %v, want EOF", err)
	}
	if _, err := client.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	readExactly(t, c, "ab", "Read after CloseWrite")
}

// The raw connection: Control keeps the descriptor open while it runs, even
// across a Close; Read calls its function again once readable.
func TestRawConn(t *testing.T) {
	c, client := pair(t, []byte("a"))
	rc, _ := c.SyscallConn()
	if err := rc.Control(func(fd uintptr) {
		_ = c.Close()
		if _, err := unix.FcntlInt(fd, unix.F_GETFD, 0); err != nil {
			t.Errorf("descriptor closed under Control: %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(uintptr) { t.Error("Control ran after Close") }); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Control after Close = %v, want net.ErrClosed", err)
	}

	c, client = pair(t, []byte("a"))
	rc, _ = c.SyscallConn()
	var got []byte
	calls := 0
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = client.Write([]byte("b"))
	}()
	err := rc.Read(func(fd uintptr) bool {
		calls++
		buf := make([]byte, 8)
		n, err := unix.Read(int(fd), buf)
		if err == unix.EAGAIN {
			return false
		}
		got = append(got, buf[:max(n, 0)]...)
		return len(got) >= 2
	})
	if err != nil || string(got) != "ab" || calls < 2 {
		t.Fatalf("rc.Read: %v, got %q in %d calls", err, got, calls)
	}
}

// Concurrent writes and Close: no write touches a closed descriptor (the
// race detector and the errors tell), every failure is net.ErrClosed.
func TestCloseDuringWrites(t *testing.T) {
	c, client := pair(t, []byte("a"))
	go func() { _, _ = io.Copy(io.Discard, client) }()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				if _, err := c.Write([]byte("payload")); err != nil {
					if !errors.Is(err, net.ErrClosed) {
						t.Errorf("Write = %v, want net.ErrClosed", err)
					}
					return
				}
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestListenerClose(t *testing.T) {
	l := listen(t)
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Accept")
	}
	if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		_ = c.Close()
		t.Fatal("the port still accepts connections after Close")
	}
}

// A client that sends nothing is still accepted (TCP_DEFER_ACCEPT delays
// it by about deferAccept seconds), and its connection reads the data it
// sends later.
func TestSilentClientAccepted(t *testing.T) {
	c, client := pair(t, nil)
	if _, err := client.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	readExactly(t, c, "late", "Read")
}

// Not a TCP listener: NewListener leaves it alone.
func TestNewListenerOther(t *testing.T) {
	ln, err := net.Listen("unix", t.TempDir()+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if l := NewListener(ln); l != ln {
		t.Fatalf("NewListener(unix) = %T, want the listener itself", l)
	}
}

// The listening socket stays non-blocking (a blocking one would hold a
// thread in accept4) and has TCP_DEFER_ACCEPT.
func TestListeningSocket(t *testing.T) {
	l := listen(t)
	if err := l.rc.Control(func(fd uintptr) {
		if fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
			t.Errorf("not in non-blocking mode: flags %#x, %v", fl, err)
		}
		if v, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT); err != nil || v == 0 {
			t.Errorf("TCP_DEFER_ACCEPT = %d, %v", v, err)
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// A client that resets its connection right after sending: the Conn
// reports an error (or the end of the stream), and the listener goes on
// accepting.
func TestResetConnection(t *testing.T) {
	l := listen(t)
	bad, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Write([]byte("GET / HTTP/1.1\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = bad.(*net.TCPConn).SetLinger(0)
	_ = bad.Close() // RST
	good, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if _, err := good.Write([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, err := l.Accept()
		if err != nil {
			t.Fatalf("Accept = %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if c.RemoteAddr().String() == good.LocalAddr().String() {
			if err != nil || string(buf[:n]) != "ok" {
				t.Fatalf("good connection: Read = %q, %v", buf[:n], err)
			}
			_ = c.Close()
			return
		}
		// The reset one: whatever arrived before the reset, then an error.
		for err == nil {
			_, err = c.Read(buf)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("reset connection: Read timed out")
		}
		_ = c.Close()
	}
	t.Fatal("the good connection was not accepted")
}

// TestRemoteAddrForms: the peer's address as net prints it, over IPv4, IPv6
// and IPv4 on a dual-stack listener (an IPv4-mapped address, printed as
// IPv4), from RemoteAddr and from RemoteAddrString alike.
func TestRemoteAddrForms(t *testing.T) {
	for _, tc := range []struct{ network, listen, dial, wantHost string }{
		{"tcp4", "127.0.0.1:0", "127.0.0.1", "127.0.0.1"},
		{"tcp6", "[::1]:0", "::1", "::1"},
		{"tcp", "[::]:0", "127.0.0.1", "127.0.0.1"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			ln, err := net.Listen(tc.network, tc.listen)
			if err != nil {
				t.Skipf("no %s: %v", tc.network, err)
			}
			l, ok := NewListener(ln).(*Listener)
			if !ok {
				t.Fatal("not a raw listener")
			}
			t.Cleanup(func() { _ = l.Close() })
			port := l.Addr().(*net.TCPAddr).Port
			client, err := net.Dial("tcp", net.JoinHostPort(tc.dial, strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = client.Close() })
			if _, err := client.Write([]byte("x")); err != nil { // accepted at once despite TCP_DEFER_ACCEPT
				t.Fatal(err)
			}
			nc, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = nc.Close() })
			c := nc.(*Conn)
			want := net.JoinHostPort(tc.wantHost, strconv.Itoa(client.LocalAddr().(*net.TCPAddr).Port))
			if got := c.RemoteAddrString(); got != want {
				t.Errorf("RemoteAddrString = %s, want %s", got, want)
			}
			ra, ok := c.RemoteAddr().(*net.TCPAddr)
			if !ok || ra.String() != want {
				t.Errorf("RemoteAddr = %v, want %s", c.RemoteAddr(), want)
			}
		})
	}
}
