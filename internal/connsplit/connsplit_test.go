package connsplit_test

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/connsplit"
)

// start serves a Splitter on a loopback listener; it is closed (and its
// Serve awaited) at the end of the test.
func start(t *testing.T, cfg connsplit.Config) (*connsplit.Splitter, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := connsplit.New(ln, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// accept accepts one connection from l within a generous bound.
func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Cleanup(func() { _ = r.c.Close() })
		return r.c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func dial(t *testing.T, addr, send string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// readAll reads n bytes from c.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	buf := make([]byte, n)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf)
}

func TestRouting(t *testing.T) {
	s, addr := start(t, connsplit.Config{FastPrefix: "POST /api", Timeout: 30 * time.Second})
	for _, tc := range []struct {
		send string
		fast bool
	}{
		{"POST /api/publish HTTP/1.1\r\n", true},
		{"POST /api HTTP/1.1\r\n", true},
		{"POST /api?x=1 HTTP/1.1\r\n", true},
		{"POST /apix HTTP/1.1\r\n", false},
		{"POST /ap", false}, // too short to decide: decided when the client stops writing (below)
		{"GET /api/publish HTTP/1.1\r\n", false},
		{"GET /connection/websocket HTTP/1.1\r\n", false},
		{"\x16\x03\x01\x00", false}, // a TLS ClientHello
		{"P", false},
		{"X", false}, // decided on the first byte, no wait
	} {
		c := dial(t, addr, tc.send)
		l := s.Slow()
		if tc.fast {
			l = s.Fast()
		}
		if tc.send == "POST /ap" || tc.send == "P" {
			_ = c.(*net.TCPConn).CloseWrite() // EOF before the prefix is complete
		}
		got := accept(t, l)
		if s := readN(t, got, len(tc.send)); s != tc.send {
			t.Fatalf("%q: read back %q", tc.send, s)
		}
		// The rest of the connection follows the head, in both directions.
		if tc.send != "POST /ap" && tc.send != "P" {
			if _, err := io.WriteString(c, "more"); err != nil {
				t.Fatal(err)
			}
			if s := readN(t, got, 4); s != "more" {
				t.Fatalf("%q: then read %q", tc.send, s)
			}
		}
		if _, err := io.WriteString(got, "reply"); err != nil {
			t.Fatal(err)
		}
		if s := readN(t, c, 5); s != "reply" {
			t.Fatalf("%q: client read %q", tc.send, s)
		}
	}
}

func TestNoFastPrefix(t *testing.T) {
	s, addr := start(t, connsplit.Config{})
	dial(t, addr, "POST /api/publish HTTP/1.1\r\n")
	accept(t, s.Slow())
}

// TestSilentConnection: a connection that sends nothing within the timeout
// is closed and reaches neither listener.
func TestSilentConnection(t *testing.T) {
	s, addr := start(t, connsplit.Config{FastPrefix: "POST /api", Timeout: 50 * time.Millisecond})
	c := dial(t, addr, "")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read on a silent connection: %v, want EOF (closed by the server)", err)
	}
	// A slow partial prefix goes to the slow listener after the timeout.
	dial(t, addr, "POS")
	if got := readN(t, accept(t, s.Slow()), 3); got != "POS" {
		t.Fatalf("read %q", got)
	}
}

func TestSyscallConnAfterHead(t *testing.T) {
	s, addr := start(t, connsplit.Config{FastPrefix: "POST /api"})
	dial(t, addr, "GET / HTTP/1.1\r\n")
	c := accept(t, s.Slow())
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatal("handed-over connection is not a syscall.Conn")
	}
	if _, err := sc.SyscallConn(); err == nil {
		t.Fatal("SyscallConn with unread head bytes succeeded")
	}
	readN(t, c, len("GET / HTTP/1.1\r\n"))
	if _, err := sc.SyscallConn(); err != nil {
		t.Fatalf("SyscallConn after the head: %v", err)
	}
}

// TestClose: closing either listener stops Serve, fails pending Accepts
// and closes connections still being classified.
func TestClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := connsplit.New(ln, connsplit.Config{FastPrefix: "POST /api", Timeout: time.Minute})
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	pending := dial(t, ln.Addr().String(), "PO") // waits for more bytes
	// A second connection handed over proves the accept loop has passed
	// the pending one.
	dial(t, ln.Addr().String(), "GET / HTTP/1.1\r\n")
	accept(t, s.Slow())
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, l := range []net.Listener{s.Fast(), s.Slow()} {
		wg.Go(func() {
			_, err := l.Accept()
			errs <- err
		})
	}
	if err := s.Slow().Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Fast().Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	// The pending connection is closed: EOF, or a reset when Close came
	// before the Splitter had read the client's bytes (the kernel resets a
	// socket closed with unread input). A timeout means it was left open.
	_ = pending.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := pending.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("pending connection: %v, want EOF or a reset", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still accepts after Close")
	}
}

// flakyListener fails its first Accepts with EMFILE, as a listener does
// when the process is out of descriptors, then accepts from ln.
type flakyListener struct {
	net.Listener
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestTemporaryAcceptError: running out of descriptors does not stop the
// listener; connections are accepted again once the error passes.
func TestTemporaryAcceptError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := connsplit.New(&flakyListener{Listener: ln, fails: 3}, connsplit.Config{FastPrefix: "POST /api"})
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	defer func() {
		_ = s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	dial(t, ln.Addr().String(), "POST /api/info HTTP/1.1\r\n")
	accept(t, s.Fast())
}
