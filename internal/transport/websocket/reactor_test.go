package websocket_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/testutil/rawhttp"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// clientFrame builds a masked client frame.
func clientFrame(fin bool, opcode byte, payload []byte) []byte {
	return ws.MaskedFrame(fin, 0, opcode, payload)
}

// readServerFrame reads one unmasked server frame from br.
func readServerFrame(t testing.TB, br *bufio.Reader) (opcode byte, payload []byte) {
	t.Helper()
	b0, masked, payload, err := rawhttp.ReadFrame(br)
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	if masked {
		t.Fatal("server frame is masked")
	}
	return b0 & 0x0f, payload
}

// rawConnect dials ts with a hand-written handshake followed at once (in the
// same write) by extra bytes, and returns the connection and a reader
// positioned after the handshake response.
func rawConnect(t testing.TB, ts *testServer, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, br, _ := rawHandshake(t, ts, "", extra)
	return c, br
}

// rawHandshake is rawConnect with extra request header lines (each ending
// in CRLF); it also returns the response's Sec-WebSocket-Extensions.
func rawHandshake(t testing.TB, ts *testServer, headers string, extra []byte) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	addr := strings.TrimPrefix(ts.srv.URL, "http://")
	req := "GET /connection/websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + headers + "\r\n"
	c, br, resp := rawhttp.Open(t, addr, req, extra, waitTimeout)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: status %d", resp.StatusCode)
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Error("missing or wrong Sec-WebSocket-Accept")
	}
	return c, br, resp.Header.Get("Sec-WebSocket-Extensions")
}

func TestFramesSentWithTheHandshake(t *testing.T) {
	ts := newTestServer(t, ws.Config{})
	extra := append(clientFrame(true, 0x1, []byte("first")), clientFrame(true, 0x1, []byte("second"))...)
	_, br := rawConnect(t, ts, extra)
	s := ts.session(t)
	for _, want := range []string{"first", "second"} {
		if got := recv(t, s.frames, want); string(got) != want {
			t.Errorf("frame %q, want %q", got, want)
		}
		if op, p := readServerFrame(t, br); op != 0x1 || string(p) != want {
			t.Errorf("echo: opcode %d %q", op, p)
		}
	}
}

func TestFragmentedMessageWithInterleavedPing(t *testing.T) {
	ts := newTestServer(t, ws.Config{MessageSizeLimit: 64})
	c, br := rawConnect(t, ts, nil)
	s := ts.session(t)
	var in []byte
	in = append(in, clientFrame(false, 0x1, []byte("frag"))...)
	in = append(in, clientFrame(true, 0x9, []byte("ping-data"))...)
	in = append(in, clientFrame(false, 0x0, []byte("men"))...)
	in = append(in, clientFrame(true, 0x0, []byte("ted"))...)
	if _, err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	if op, p := readServerFrame(t, br); op != 0xa || string(p) != "ping-data" {
		t.Errorf("want pong with the ping's payload, got opcode %d %q", op, p)
	}
	if got := recv(t, s.frames, "reassembled message"); string(got) != "fragmented" {
		t.Errorf("message %q, want %q", got, "fragmented")
	}
	if op, p := readServerFrame(t, br); op != 0x1 || string(p) != "fragmented" {
		t.Errorf("echo: opcode %d %q", op, p)
	}
	// Fragments adding up to more than the limit are refused with 1009.
	in = append(clientFrame(false, 0x1, bytes.Repeat([]byte("a"), 40)), clientFrame(true, 0x0, bytes.Repeat([]byte("b"), 40))...)
	if _, err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	op, p := readServerFrame(t, br)
	if op != 0x8 || len(p) < 2 || binary.BigEndian.Uint16(p) != 1009 || string(p[2:]) != "message too big" {
		t.Errorf("want close 1009 message too big, got opcode %d %q", op, p)
	}
	if d := recv(t, s.closes, "Session.Close"); d != protocol.DisconnectConnectionClosed {
		t.Errorf("Session.Close(%v)", d)
	}
}

func TestFrameArrivingByteByByte(t *testing.T) {
	ts := newTestServer(t, ws.Config{})
	c, br := rawConnect(t, ts, nil)
	s := ts.session(t)
	for _, size := range []int{5, 300, 65536} { // 7-bit, 16-bit and 64-bit lengths; the last at the limit
		msg := bytes.Repeat([]byte{'x'}, size)
		f := clientFrame(true, 0x2, msg)
		// Header and a first payload byte one by one, then the rest.
		for i := 0; i < len(f) && i < 12; i++ {
			if _, err := c.Write(f[i : i+1]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond) // let the server see a partial frame; not an assertion
		}
		if len(f) > 12 {
			if _, err := c.Write(f[12:]); err != nil {
				t.Fatal(err)
			}
		}
		if got := recv(t, s.frames, "frame"); !bytes.Equal(got, msg) {
			t.Fatalf("frame of %d bytes, want %d", len(got), len(msg))
		}
		if _, p := readServerFrame(t, br); !bytes.Equal(p, msg) {
			t.Fatalf("echo of %d bytes, want %d", len(p), len(msg))
		}
	}
}

func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testIdleConnectionsHoldNoGoroutine(t, false) })
	t.Run("permessage-deflate", func(t *testing.T) { testIdleConnectionsHoldNoGoroutine(t, true) })
}

func testIdleConnectionsHoldNoGoroutine(t *testing.T, compress bool) {
	ts := newTestServer(t, ws.Config{Compression: compress})
	base := runtime.NumGoroutine()
	const n = 50
	conns := make([]*websocket.Conn, 0, n)
	d := websocket.Dialer{EnableCompression: compress, HandshakeTimeout: waitTimeout}
	for range n {
		c, resp, err := d.Dial(ts.wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got := resp.Header.Get("Sec-Websocket-Extensions") != ""; got != compress {
			t.Fatalf("compression negotiated: %v, want %v", got, compress)
		}
		t.Cleanup(func() { _ = c.Close() })
		ts.session(t)
		conns = append(conns, c)
	}
	// A message each way, so that compressed connections used their
	// (pooled) compressor and decompressor once.
	for _, c := range conns {
		c.EnableWriteCompression(compress)
		sendText(t, c, "hello")
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "hello" {
			t.Fatalf("echo %q, %v", got, err)
		}
	}
	// The client side has one goroutine per connection at most (none
	// while nobody reads); the server side must add none per connection.
	// The reactor's fixed goroutines are started by the first connection.
	if got := runtime.NumGoroutine() - base; got >= n/2 {
		t.Errorf("%d goroutines for %d idle connections", got, n)
	}
	ts.waitIdle(t)
	runtime.KeepAlive(conns)
}

func TestHandlerCloseClosesConnections(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{})
	ts := &testServer{sessions: sessions}
	ts.srv = newHTTPServer(t, h)
	ts.wsURL = "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/connection/websocket"

	base := runtime.NumGoroutine()
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, s.closes, "Session.Close"); d != protocol.DisconnectConnectionClosed {
		t.Errorf("Session.Close(%v)", d)
	}
	recv(t, s.ctx.Done(), "ctx canceled")
	if _, _, err := c.ReadMessage(); err == nil {
		t.Error("connection still open after Handler.Close")
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// New connections are refused (dropped after the handshake).
	c2 := ts.dial(t, "", nil)
	if _, _, err := c2.ReadMessage(); err == nil {
		t.Error("connection accepted after Handler.Close")
	}
	eventually(t, "reactor goroutines stopped", func() bool { return runtime.NumGoroutine() <= base+2 })
}

func TestRequestContextOutlivesServeHTTP(t *testing.T) {
	ts := newTestServer(t, ws.Config{})
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	ts.waitIdle(t) // ServeHTTP has returned; the connection lives on
	select {
	case <-s.ctx.Done():
		t.Fatal("session ctx canceled while the connection is open")
	default:
	}
	sendText(t, c, "still here")
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "still here" {
		t.Fatalf("echo %q, %v", got, err)
	}
}

// newHTTPServer serves h on 127.0.0.1:0 until the test ends.
func newHTTPServer(t testing.TB, h *ws.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestTLSConnectionReadInBlockingMode covers connections whose net.Conn has
// no file descriptor to poll (*tls.Conn): they are read in the upgrade
// goroutine with the same frame code.
func TestTLSConnectionReadInBlockingMode(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{MessageSizeLimit: 1024, CloseTimeout: time.Second})
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = h.Close() })
	d := websocket.Dialer{TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig, HandshakeTimeout: waitTimeout}
	c, resp, err := d.Dial("wss"+strings.TrimPrefix(srv.URL, "https")+"/connection/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	s := recv(t, sessions, "session")
	sendText(t, c, "over tls")
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "over tls" {
		t.Fatalf("echo %q, %v", got, err)
	}
	sendText(t, c, strings.Repeat("z", 1025))
	if ce := readClose(t, c); ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", ce.Code)
	}
	if d := recv(t, s.closes, "Session.Close"); d != protocol.DisconnectConnectionClosed {
		t.Errorf("Session.Close(%v)", d)
	}
	recv(t, s.ctx.Done(), "ctx canceled once the client answered the close frame")
}
