package websocket_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/connsplit"
	"github.com/heraldrt/herald/internal/protocol"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// serveDirect accepts connections on a loopback listener and serves each
// with ws.ServeConn(h); everything is stopped at the end of the test.
func serveDirect(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { ws.ServeConn(h, c, slog.New(slog.DiscardHandler)) })
		}
	})
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// serveSplit serves h behind internal/connsplit on a loopback listener, as
// Herald serves WebSocket upgrades (ws.ServeConn); it is stopped at the end
// of the test.
func serveSplit(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := connsplit.New(ln, connsplit.Config{
		DirectPrefix: "GET /connection/websocket",
		Direct:       func(c *connsplit.Conn) { ws.ServeConn(h, c, slog.New(slog.DiscardHandler)) },
	})
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	tb.Cleanup(func() {
		_ = s.Close()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// rawRequest sends req on a new connection and returns the response and
// whether the server closed the connection afterwards.
func rawRequest(t *testing.T, addr, req string) (*http.Response, string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_, err = br.ReadByte()
	return resp, string(body), err == io.EOF
}

// TestServeConn: a WebSocket served without an HTTP server upgrades, runs a
// session (frames both ways) and closes cleanly; refused and malformed
// requests get their status and a closed connection; a panicking handler
// does not take the process down.
func TestServeConn(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{CloseTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { _ = h.Close() })
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", h)
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	addr := serveDirect(t, mux)

	// A real client upgrades, with the subprotocol negotiated.
	d := websocket.Dialer{HandshakeTimeout: waitTimeout, Subprotocols: []string{"centrifuge-protobuf"}}
	c, resp, err := d.Dial("ws://"+addr+"/connection/websocket?cf_protocol=protobuf", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || c.Subprotocol() != "centrifuge-protobuf" {
		t.Fatalf("handshake %d, subprotocol %q", resp.StatusCode, c.Subprotocol())
	}
	tr := recv(t, sessions, "session").t
	if tr.Protocol() != protocol.TypeProtobuf {
		t.Fatalf("protocol %v", tr.Protocol())
	}
	if err := tr.WriteMany([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "\x05hello" {
		t.Fatalf("server frame %q, %v", msg, err)
	}

	for _, tc := range []struct {
		name, req string
		status    int
		body      string
	}{
		{"no upgrade headers", "GET /connection/websocket HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusBadRequest, ""},
		{"bad key", "GET /connection/websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: nope\r\n\r\n", http.StatusBadRequest, ""},
		{"key of 18 bytes", "GET /connection/websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n", http.StatusBadRequest, ""},
		{"key not Base64", "GET /connection/websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!\r\n\r\n", http.StatusBadRequest, ""},
		{"key too long", "GET /connection/websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==AAAA\r\n\r\n", http.StatusBadRequest, ""},
		{"other origin", "GET /connection/websocket HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", http.StatusForbidden, ""},
		{"garbage", "\x00\x01\x02 garbage\r\n\r\n", http.StatusBadRequest, "400 Bad Request"},
		{"header over 1 MiB", "GET /connection/websocket HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, ""},
		{"not found", "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusNotFound, "404 page not found\n"},
	} {
		resp, body, closed := rawRequest(t, addr, tc.req)
		if resp.StatusCode != tc.status || (tc.body != "" && body != tc.body) || !closed {
			t.Fatalf("%s: %d %q closed=%v, want %d %q closed", tc.name, resp.StatusCode, body, closed, tc.status, tc.body)
		}
	}

	// A panic in the handler closes that connection only.
	if c, err := net.Dial("tcp", addr); err != nil {
		t.Fatal(err)
	} else {
		_ = c.SetDeadline(time.Now().Add(waitTimeout))
		_, _ = io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("panicking handler answered")
		}
		_ = c.Close()
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte("\x02hi")); err != nil {
		t.Fatalf("first connection after a panic elsewhere: %v", err)
	}
}

// TestServeConnAfterSplitter: behind internal/connsplit, as Herald serves
// it, a request whose head the splitter read in full (parsed from memory)
// and one whose head arrives in two parts (the splitter routes it on the
// first; ServeConn reads the rest from the socket) both upgrade, with the
// right accept key, and carry frames. Whether a deadline was set is not
// observable here.
func TestServeConnAfterSplitter(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{CloseTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { _ = h.Close() })
	addr := serveSplit(t, h)
	const req = "GET /connection/websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	for _, split := range []int{len(req), 40} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(waitTimeout))
		if _, err := io.WriteString(c, req[:split]); err != nil {
			t.Fatal(err)
		}
		if split < len(req) {
			time.Sleep(20 * time.Millisecond) // not for synchronisation: lets the splitter route on the first part
			if _, err := io.WriteString(c, req[split:]); err != nil {
				t.Fatal(err)
			}
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols ||
			resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Fatalf("head split at %d: %v %v", split, resp, err)
		}
		tr := recv(t, sessions, "session").t
		if err := tr.WriteMany([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		frame := make([]byte, 7)
		if _, err := io.ReadFull(br, frame); err != nil || string(frame[2:]) != "hello" {
			t.Fatalf("head split at %d: frame %q, %v", split, frame, err)
		}
		_ = c.Close()
	}
}
