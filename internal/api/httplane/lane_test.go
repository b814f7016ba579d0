package httplane_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heraldrt/herald/internal/api/httplane"
	"github.com/heraldrt/herald/internal/netpoll"
)

// server is a Lane on a loopback listener whose handler echoes what it
// saw, and whose fallback answers "fallback <method> <path> <body>" over
// net/http's request parser, so that tests see which side answered.
type server struct {
	lane     *httplane.Lane
	addr     string
	fallback atomic.Int32 // connections handed to the fallback
}

func start(t testing.TB, cfg httplane.Config) *server {
	t.Helper()
	s := &server{}
	if cfg.Prefix == "" {
		cfg.Prefix = "/api"
	}
	if cfg.Handler == nil {
		cfg.Handler = echo
	}
	cfg.Fallback = func(c net.Conn) {
		s.fallback.Add(1)
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(req.Body)
			text := fmt.Sprintf("fallback %s %s %s", req.Method, req.URL.Path, body)
			resp := &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, ContentLength: int64(len(text)),
				Body: io.NopCloser(strings.NewReader(text)), Header: http.Header{}}
			if err := resp.Write(c); err != nil || req.Close {
				return
			}
		}
	}
	l, err := httplane.New(cfg)
	if errors.Is(err, netpoll.ErrUnsupported) {
		t.Skip("no reactor on this platform")
	}
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve(ln) }()
	t.Cleanup(func() {
		_ = ln.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	s.lane, s.addr = l, ln.Addr().String()
	return s
}

// echo answers "lane <method> <path> key=<X-API-Key> q=<api_key> <body>".
func echo(r *httplane.Request, resp *httplane.Response) {
	resp.Status = http.StatusOK
	resp.ContentType = "text/plain"
	resp.Body = fmt.Appendf(nil, "lane %s %s key=%s q=%s %s", r.Method, r.Path, r.Header("x-api-key"), r.Query("api_key"), r.Body)
}

func dial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// read reads one response and returns its status and body.
func read(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func post(path, body string, extra ...string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\n" + strings.Join(extra, "") +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// TestServesKeepAliveAndPipelined: plain requests are answered by the
// lane, in order, pipelined or not, and whether they arrive whole or a
// byte at a time.
func TestServesKeepAliveAndPipelined(t *testing.T) {
	s := start(t, httplane.Config{})
	c, br := dial(t, s.addr)
	write(t, c, post("/api/publish?api_key=q1", `{"a":1}`))
	resp, body := read(t, br)
	if resp.StatusCode != 200 || body != `lane POST /api/publish key=k q=q1 {"a":1}` {
		t.Fatalf("first: %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("Date") == "" || resp.Header.Get("Content-Type") != "text/plain" || resp.Close {
		t.Fatalf("headers: %v close=%v", resp.Header, resp.Close)
	}
	write(t, c, post("/api", "1")+post("/api/info", "")+post("/api/x", "3"))
	for _, want := range []string{"lane POST /api key=k q= 1", "lane POST /api/info key=k q= ", "lane POST /api/x key=k q= 3"} {
		if _, body := read(t, br); body != want {
			t.Fatalf("pipelined: %q, want %q", body, want)
		}
	}
	// A request a byte at a time (one segment each: Go sets TCP_NODELAY),
	// so that the lane reads it in pieces.
	req := post("/api/slow", "abc")
	for i := range len(req) {
		write(t, c, req[i:i+1])
	}
	if _, body := read(t, br); body != "lane POST /api/slow key=k q= abc" {
		t.Fatalf("byte at a time: %q", body)
	}
	// No Content-Length: no body. Other methods reach the handler too.
	write(t, c, "GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := read(t, br); body != "lane GET /api/info key= q= " {
		t.Fatalf("GET: %q", body)
	}
	if n := s.fallback.Load(); n != 0 {
		t.Fatalf("%d connections went to the fallback", n)
	}
}

// TestConnectionClose: "Connection: close" is answered with the same field
// and the connection is closed after the answer; requests after it are
// not served.
func TestConnectionClose(t *testing.T) {
	s := start(t, httplane.Config{})
	c, br := dial(t, s.addr)
	write(t, c, post("/api/a", "1", "Connection: close\r\n")+post("/api/b", "2"))
	resp, body := read(t, br)
	if body != "lane POST /api/a key=k q= 1" || !resp.Close {
		t.Fatalf("%q close=%v", body, resp.Close)
	}
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after Connection: close: %q %v, want EOF", b, err)
	}
}

// TestFallback: at the first request the lane does not serve itself, the
// connection goes to the fallback with that request, after the lane's
// answers to the requests before it, and stays there.
func TestFallback(t *testing.T) {
	for _, tc := range []struct{ name, req, want string }{
		{"path outside the prefix", post("/health", "h"), "fallback POST /health h"},
		{"prefix without a separator", post("/apix", "h"), "fallback POST /apix h"},
		{"percent-encoding", post("/api/pub%6cish", "h"), "fallback POST /api/publish h"},
		{"dot segment", post("/api/./publish", "h"), "fallback POST /api/./publish h"},
		{"chunked body", "POST /api/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "fallback POST /api/publish hi"},
		{"expect continue", post("/api/publish", "e", "Expect: 100-continue\r\n"), "fallback POST /api/publish e"},
		{"no Host", "POST /api/publish HTTP/1.1\r\nContent-Length: 1\r\n\r\nz", "fallback POST /api/publish z"},
		{"two Content-Lengths", "POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nz", "fallback POST /api/publish z"},
		{"folded header", "POST /api/publish HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nContent-Length: 1\r\n\r\nz", "fallback POST /api/publish z"},
		{"HTTP/1.0", "POST /api/publish HTTP/1.0\r\nHost: x\r\nContent-Length: 1\r\n\r\nz", "fallback POST /api/publish z"},
		{"Connection: upgrade", post("/api/publish", "u", "Connection: upgrade\r\n"), "fallback POST /api/publish u"},
		{"body over the lane's buffer", post("/api/big", strings.Repeat("b", 20000)), "fallback POST /api/big " + strings.Repeat("b", 20000)},
		{"head over the lane's buffer", post("/api/big", "h", "X-Big: "+strings.Repeat("h", 20000)+"\r\n"), "fallback POST /api/big h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, httplane.Config{})
			c, br := dial(t, s.addr)
			write(t, c, post("/api/first", "1")+tc.req)
			if _, body := read(t, br); body != "lane POST /api/first key=k q= 1" {
				t.Fatalf("first: %q", body)
			}
			if _, body := read(t, br); body != tc.want {
				t.Fatalf("%q, want %q", body, tc.want)
			}
			if s.fallback.Load() != 1 {
				t.Fatalf("%d connections handed over, want 1", s.fallback.Load())
			}
			if tc.name != "HTTP/1.0" { // the connection stays with the fallback
				write(t, c, post("/api/after", "2"))
				if _, body := read(t, br); body != "fallback POST /api/after 2" {
					t.Fatalf("after the hand-over: %q", body)
				}
			}
		})
	}
}

// TestFirstRequestUnsupported: a connection whose first request the lane
// does not serve goes to the fallback at once.
func TestFirstRequestUnsupported(t *testing.T) {
	s := start(t, httplane.Config{})
	c, br := dial(t, s.addr)
	write(t, c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := read(t, br); body != "fallback GET /metrics " {
		t.Fatalf("%q", body)
	}
}

// TestGarbageNeverCrashes: garbage, binary input and a stream that ends
// mid-request leave the lane serving other connections.
func TestGarbageNeverCrashes(t *testing.T) {
	s := start(t, httplane.Config{})
	for _, in := range []string{
		"\x00\x01\x02garbage\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort",
		"POST /api/\xff HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST  /api/x HTTP/1.1\r\n\r\n",
		strings.Repeat("\r\n", 10000),
	} {
		c, _ := dial(t, s.addr)
		write(t, c, in)
		_ = c.Close()
	}
	c, br := dial(t, s.addr)
	write(t, c, post("/api/ok", "1"))
	if _, body := read(t, br); body != "lane POST /api/ok key=k q= 1" {
		t.Fatalf("after garbage: %q", body)
	}
}

// answerSize is the size of the answers of bigAnswers' handler.
const answerSize = 64 << 10

// bigAnswers starts a lane whose handler answers every request with
// answerSize bytes, waiting at most writeTimeout for a client to take them.
func bigAnswers(t *testing.T, writeTimeout time.Duration) *server {
	big := bytes.Repeat([]byte("x"), answerSize)
	return start(t, httplane.Config{
		WriteTimeout: writeTimeout,
		Handler: func(_ *httplane.Request, resp *httplane.Response) {
			resp.Status, resp.ContentType, resp.Body = 200, "text/plain", big
		},
	})
}

// flood connects to addr and sends many pipelined requests whose answers
// it never reads, until a write fails; at the end of the test the
// connection is closed and the goroutine writing awaited.
func flood(t *testing.T, addr string) net.Conn {
	c, _ := dial(t, addr)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2000 {
			if _, err := io.WriteString(c, post("/api/big", "")); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return c
}

// pollSocket calls ready with c's descriptor every 10 ms until it reports
// true, and fails the test as what if it has not after 10 s.
func pollSocket(t *testing.T, c net.Conn, what string, ready func(fd int) bool) {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var ok bool
		_ = raw.Control(func(fd uintptr) { ok = ready(int(fd)) })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after 10 s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling the socket
	}
}

// TestClientNotReading: answers a client does not read fill its socket;
// the lane waits for room off the reactor (other connections are served
// meanwhile) and gives up after WriteTimeout.
func TestClientNotReading(t *testing.T) {
	s := bigAnswers(t, 300*time.Millisecond)
	slow := flood(t, s.addr)
	c, br := dial(t, s.addr)
	for range 3 {
		write(t, c, post("/api/other", ""))
		if resp, body := read(t, br); resp.StatusCode != 200 || len(body) != answerSize {
			t.Fatalf("other connection: %d, %d bytes", resp.StatusCode, len(body))
		}
	}
	// The slow connection is closed once the write timeout passes: its
	// socket leaves the ESTABLISHED state (the client never reads).
	pollSocket(t, slow, "the connection of a client that does not read still open", func(fd int) bool {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		return err == nil && info.State != unix.BPF_TCP_ESTABLISHED
	})
}

// TestCloseEndsConnections: Close closes idle connections, lane and
// fallback ones alike, and returns.
func TestCloseEndsConnections(t *testing.T) {
	s := start(t, httplane.Config{})
	c, br := dial(t, s.addr)
	write(t, c, post("/api/a", ""))
	read(t, br)
	f, fr := dial(t, s.addr)
	write(t, f, post("/other", ""))
	read(t, fr)
	if err := s.lane.Close(); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, br, "a lane connection after Close")
	wantClosed(t, fr, "a fallback connection after Close")
}

// wantClosed fails unless the next read of r finds the connection closed
// by the server (not a byte, not the test's read deadline).
func wantClosed(t *testing.T, r *bufio.Reader, what string) {
	t.Helper()
	b, err := r.ReadByte()
	if err == nil {
		t.Fatalf("%s: read %q, want the connection closed", what, b)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatalf("%s: still open when the read deadline passed", what)
	}
}

// TestCloseDoesNotWaitForSlowClients: Close cuts a connection that waits
// for room for its answers instead of waiting WriteTimeout for it.
func TestCloseDoesNotWaitForSlowClients(t *testing.T) {
	s := bigAnswers(t, time.Hour)
	slow := flood(t, s.addr)
	// Wait until the lane has answers it cannot write: the client's
	// socket holds unread data and its own requests stop draining.
	pollSocket(t, slow, "the client's socket never filled", func(fd int) bool {
		unread, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
		return err == nil && unread >= answerSize
	})
	closed := make(chan error, 1)
	go func() { closed <- s.lane.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close still waiting for a client that does not read after 30 s")
	}
}

// TestPartialRequestTimeout: a connection holding a partial request longer
// than ReadTimeout is closed; an idle connection (between requests) is
// not.
func TestPartialRequestTimeout(t *testing.T) {
	s := start(t, httplane.Config{ReadTimeout: 200 * time.Millisecond})
	idle, ir := dial(t, s.addr)
	write(t, idle, post("/api/a", "1"))
	read(t, ir)
	partial, pr := dial(t, s.addr)
	write(t, partial, post("/api/b", "1"))
	read(t, pr)
	write(t, partial, "POST /api/c HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	wantClosed(t, pr, "a connection holding a partial request")
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("closed after %v, before ReadTimeout", waited)
	}
	// The idle connection, idle for longer than ReadTimeout by now, is
	// still served.
	write(t, idle, post("/api/d", "2"))
	if _, body := read(t, ir); body != "lane POST /api/d key=k q= 2" {
		t.Fatalf("idle connection: %q", body)
	}
}

// TestHandlerPanic: a panic in the handler closes its connection without
// an answer (as net/http does) and leaves the lane serving others.
func TestHandlerPanic(t *testing.T) {
	s := start(t, httplane.Config{
		Logger: slog.New(slog.DiscardHandler),
		Handler: func(r *httplane.Request, resp *httplane.Response) {
			if r.Path == "/api/panic" {
				panic("boom")
			}
			echo(r, resp)
		},
	})
	c, br := dial(t, s.addr)
	write(t, c, post("/api/panic", ""))
	wantClosed(t, br, "the connection of a request whose handler panicked")
	c2, br2 := dial(t, s.addr)
	write(t, c2, post("/api/ok", "1"))
	if _, body := read(t, br2); body != "lane POST /api/ok key=k q= 1" {
		t.Fatalf("after a panic: %q", body)
	}
}
