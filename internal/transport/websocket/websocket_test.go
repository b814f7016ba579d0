package websocket_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

func TestJSONFraming(t *testing.T) {
	ts := newTestServer(t, ws.Config{}, withOnFrame(func(s *fakeSession, frame []byte) bool {
		var err error
		switch string(frame) {
		case "multi":
			err = s.t.WriteMany([]byte(`{"a":1}`), []byte(`{}`), []byte(`{"b":2}`))
		case "single":
			err = s.t.WriteMany([]byte(`{"id":1}`))
		case "none":
			err = s.t.WriteMany()
		}
		return err == nil
	}))
	c := ts.dial(t, "", nil)
	sendText(t, c, "none", "multi", "single")
	for _, want := range []string{"{\"a\":1}\n{}\n{\"b\":2}", `{"id":1}`} {
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if typ != websocket.TextMessage {
			t.Errorf("message type = %d, want text", typ)
		}
		if string(got) != want {
			t.Errorf("frame = %q, want %q", got, want)
		}
	}
}

func TestProtobufFraming(t *testing.T) {
	long := bytes.Repeat([]byte{'x'}, 300)
	ts := newTestServer(t, ws.Config{}, withOnFrame(func(s *fakeSession, frame []byte) bool {
		var err error
		switch frame[0] {
		case 'm':
			err = s.t.WriteMany(long, []byte{}, []byte("ab"))
		case 's':
			err = s.t.WriteMany([]byte("ab"))
		case 'e':
			err = s.t.WriteMany([]byte{})
		}
		return err == nil
	}))
	c := ts.dial(t, "", nil, ws.SubprotocolProtobuf)
	for _, m := range []string{"m", "s", "e"} {
		if err := c.WriteMessage(websocket.BinaryMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	wantMulti := append(append([]byte{0xac, 0x02}, long...), 0x00, 0x02, 'a', 'b')
	for _, want := range [][]byte{wantMulti, {0x02, 'a', 'b'}, {0x00}} {
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if typ != websocket.BinaryMessage {
			t.Errorf("message type = %d, want binary", typ)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("frame = %x, want %x", got, want)
		}
	}
}

func TestProtocolSelection(t *testing.T) {
	tests := []struct {
		name         string
		query        string
		subprotocols []string
		want         protocol.Type
		wantSub      string
	}{
		{"default", "", nil, protocol.TypeJSON, ""},
		{"subprotocol json", "", []string{ws.SubprotocolJSON}, protocol.TypeJSON, ws.SubprotocolJSON},
		{"subprotocol protobuf", "", []string{ws.SubprotocolProtobuf}, protocol.TypeProtobuf, ws.SubprotocolProtobuf},
		{"unknown subprotocol", "", []string{"mqtt"}, protocol.TypeJSON, ""},
		{"query", "cf_protocol=protobuf", nil, protocol.TypeProtobuf, ""},
		{"query json", "cf_protocol=json", nil, protocol.TypeJSON, ""},
		{"legacy query", "format=protobuf", nil, protocol.TypeProtobuf, ""},
		{"ping pong flag ignored", "cf_ws_frame_ping_pong=true&cf_protocol=protobuf", nil, protocol.TypeProtobuf, ""},
		{"negotiated subprotocol wins over query", "cf_protocol=protobuf", []string{ws.SubprotocolJSON}, protocol.TypeJSON, ws.SubprotocolJSON},
	}
	ts := newTestServer(t, ws.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(t, tt.query, nil, tt.subprotocols...)
			s := ts.session(t)
			if got := s.t.Protocol(); got != tt.want {
				t.Errorf("Protocol() = %v, want %v", got, tt.want)
			}
			if got := c.Subprotocol(); got != tt.wantSub {
				t.Errorf("negotiated subprotocol = %q, want %q", got, tt.wantSub)
			}
		})
	}
}

func TestTransportIdentity(t *testing.T) {
	ts := newTestServer(t, ws.Config{})
	ts.dial(t, "", nil)
	tr := ts.session(t).t
	if tr.Name() != "websocket" || tr.Unidirectional() || tr.Emulation() {
		t.Errorf("Name=%q Unidirectional=%v Emulation=%v", tr.Name(), tr.Unidirectional(), tr.Emulation())
	}
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"no origin, empty list", nil, "", true},
		{"origin, empty list", nil, "https://example.com", false},
		{"allowed exact", []string{"https://example.com"}, "https://example.com", true},
		{"allowed uppercase origin", []string{"https://example.com"}, "https://EXAMPLE.com", true},
		{"denied", []string{"https://example.com"}, "https://evil.test", false},
		{"wildcard subdomain", []string{"https://*.example.com"}, "https://app.example.com", true},
		{"wildcard no match", []string{"https://*.example.com"}, "https://example.org", false},
		{"star", []string{"*"}, "https://anything.test", true},
		{"no origin with list", []string{"https://example.com"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, ws.Config{AllowedOrigins: tt.allowed})
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			_, resp, err := ts.tryDial(t, "", h)
			if tt.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				ts.session(t)
				return
			}
			if err == nil {
				t.Fatal("dial succeeded, want 403")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("dial: %v, want status 403", err)
			}
			if len(ts.sessions) != 0 {
				t.Error("session started for a rejected origin")
			}
		})
	}
}

func TestNonUpgradeRequest(t *testing.T) {
	ts := newTestServer(t, ws.Config{})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, err := http.NewRequest(method, ts.srv.URL+"/connection/websocket", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ts.srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", method, resp.StatusCode)
		}
	}
	if len(ts.sessions) != 0 {
		t.Error("session started for a plain HTTP request")
	}
}

func TestOversizeMessage(t *testing.T) {
	ts := newTestServer(t, ws.Config{MessageSizeLimit: 16})
	c := ts.dial(t, "", nil)
	s := ts.session(t)

	sendText(t, c, strings.Repeat("a", 16))
	if _, got, err := c.ReadMessage(); err != nil || len(got) != 16 {
		t.Fatalf("message at the limit: got %q, %v", got, err)
	}
	sendText(t, c, strings.Repeat("b", 17))
	ce := readClose(t, c)
	if ce.Code != websocket.CloseMessageTooBig || ce.Text != "message too big" {
		t.Errorf("close = %d %q, want 1009 \"message too big\"", ce.Code, ce.Text)
	}
	if d := recv(t, s.closes, "Session.Close"); d != protocol.DisconnectConnectionClosed {
		t.Errorf("Session.Close(%v), want connection closed", d)
	}
	if got := recv(t, s.frames, "first frame"); len(got) != 16 {
		t.Errorf("frame of %d bytes delivered, want 16", len(got))
	}
	ts.waitIdle(t)
	if len(s.frames) != 0 {
		t.Error("oversized message delivered to the session")
	}
	// The session's own Close after the oversize must be a no-op.
	if err := s.t.Close(protocol.DisconnectBadRequest); err != nil {
		t.Errorf("Close after oversize: %v", err)
	}
}

func TestCloseSendsCodeAndReason(t *testing.T) {
	long := strings.Repeat("r", 200)
	multiByte := strings.Repeat("é", 100) // 200 bytes; the cut must not split a rune
	tests := []struct {
		name string
		d    protocol.Disconnect
		want string
	}{
		{"bad request", protocol.DisconnectBadRequest, "bad request"},
		{"shutdown", protocol.DisconnectShutdown, "shutdown"},
		{"custom", protocol.Disconnect{Code: 4501, Reason: "custom terminal"}, "custom terminal"},
		{"long reason truncated", protocol.Disconnect{Code: 4000, Reason: long}, long[:123]},
		{"multibyte reason truncated", protocol.Disconnect{Code: 4000, Reason: multiByte}, strings.Repeat("é", 61)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A long CloseTimeout proves the client's close frame, not the
			// timeout, ends the handshake wait.
			ts := newTestServer(t, ws.Config{CloseTimeout: time.Hour}, withOnFrame(func(s *fakeSession, _ []byte) bool {
				if err := s.t.Close(tt.d); err != nil {
					t.Errorf("Close: %v", err)
				}
				return false
			}))
			c := ts.dial(t, "", nil)
			s := ts.session(t)
			sendText(t, c, "close me")
			ce := readClose(t, c)
			if ce.Code != int(tt.d.Code) || ce.Text != tt.want {
				t.Errorf("close = %d %q, want %d %q", ce.Code, ce.Text, tt.d.Code, tt.want)
			}
			if !utf8.ValidString(ce.Text) || len(ce.Text) > 123 {
				t.Errorf("close reason of %d bytes, valid UTF-8 %v", len(ce.Text), utf8.ValidString(ce.Text))
			}
			ts.waitIdle(t)
			noSessionClose(t, s)
		})
	}
}

func TestCloseConnectionClosedSendsNoCloseFrame(t *testing.T) {
	ts := newTestServer(t, ws.Config{}, withOnFrame(func(s *fakeSession, _ []byte) bool {
		_ = s.t.Close(protocol.DisconnectConnectionClosed)
		return false
	}))
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	sendText(t, c, "x")
	_, _, err := c.ReadMessage()
	// gorilla reports a TCP close without close frame as 1006, a code that
	// never appears on the wire.
	var ce *websocket.CloseError
	if err == nil || (errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure) {
		t.Fatalf("read: got %v, want the connection dropped without close frame", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read timed out: the server did not drop the connection")
	}
	ts.waitIdle(t)
	noSessionClose(t, s)
}

func TestCloseTimeoutWhenClientNeverAnswers(t *testing.T) {
	ts := newTestServer(t, ws.Config{CloseTimeout: 100 * time.Millisecond})
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	if err := s.t.Close(protocol.DisconnectShutdown); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// The client does not read, so it never answers the close frame; the
	// server must give up after CloseTimeout.
	ts.waitIdle(t)
	if ce := readClose(t, c); ce.Code != 3001 {
		t.Errorf("close code %d, want 3001", ce.Code)
	}
	noSessionClose(t, s)
}

func TestNewSessionError(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantText string
	}{
		{"shutdown", protocol.DisconnectShutdown, 3001, "shutdown"},
		{"wrapped disconnect", fmt.Errorf("node: %w", protocol.DisconnectConnectionLimit), 3504, "connection limit"},
		{"pointer disconnect", &protocol.Disconnect{Code: 4001, Reason: "custom"}, 4001, "custom"},
		{"other error", errors.New("boom"), 3004, "internal server error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, ws.Config{}, withNewSession(func(context.Context, engine.Transport) (ws.Session, error) {
				return nil, tt.err
			}))
			c := ts.dial(t, "", nil)
			ce := readClose(t, c)
			if ce.Code != tt.wantCode || ce.Text != tt.wantText {
				t.Errorf("close = %d %q, want %d %q", ce.Code, ce.Text, tt.wantCode, tt.wantText)
			}
			ts.waitIdle(t)
		})
	}
}

func TestRequestInfoAndContext(t *testing.T) {
	type got struct {
		ri  engine.RequestInfo
		ok  bool
		ctx context.Context
	}
	gotCh := make(chan got, 1)
	ts := newTestServer(t, ws.Config{}, withNewSession(func(ctx context.Context, tr engine.Transport) (ws.Session, error) {
		ri, ok := engine.RequestInfoFrom(ctx)
		gotCh <- got{ri, ok, ctx}
		return &fakeSession{t: tr, frames: make(chan []byte, 8), closes: make(chan protocol.Disconnect, 1)}, nil
	}))
	c := ts.dial(t, "", http.Header{"X-Test": {"yes"}})
	g := recv(t, gotCh, "NewSessionFunc")
	if !g.ok {
		t.Fatal("no RequestInfo in ctx")
	}
	if g.ri.Header.Get("X-Test") != "yes" {
		t.Errorf("header X-Test = %q", g.ri.Header.Get("X-Test"))
	}
	if host, _, err := net.SplitHostPort(g.ri.RemoteAddr); err != nil || host != "127.0.0.1" {
		t.Errorf("RemoteAddr = %q", g.ri.RemoteAddr)
	}
	if g.ctx.Err() != nil {
		t.Fatal("ctx canceled while connected")
	}
	_ = c.Close()
	recv(t, g.ctx.Done(), "ctx canceled after disconnect")
}

func TestClientDisconnectClosesSession(t *testing.T) {
	ts := newTestServer(t, ws.Config{})
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if d := recv(t, s.closes, "Session.Close"); d != protocol.DisconnectConnectionClosed {
		t.Errorf("Session.Close(%v), want connection closed", d)
	}
	ts.waitIdle(t)
}

func TestHandleFrameFalseStopsDelivery(t *testing.T) {
	ts := newTestServer(t, ws.Config{}, withOnFrame(func(*fakeSession, []byte) bool { return false }))
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	sendText(t, c, "1", "2", "3")
	if got := recv(t, s.frames, "first frame"); string(got) != "1" {
		t.Fatalf("first frame %q", got)
	}
	if err := s.t.Close(protocol.DisconnectBadRequest); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, c); ce.Code != 3501 {
		t.Errorf("close code %d, want 3501", ce.Code)
	}
	ts.waitIdle(t)
	if len(s.frames) != 0 {
		t.Errorf("%d frames delivered after HandleFrame returned false", len(s.frames))
	}
}

func TestBinaryAndEmptyFramesPassThroughOnJSON(t *testing.T) {
	ts := newTestServer(t, ws.Config{}, withOnFrame(func(*fakeSession, []byte) bool { return true }))
	c := ts.dial(t, "", nil)
	s := ts.session(t)
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0x00, 0x01}); err != nil {
		t.Fatal(err)
	}
	sendText(t, c, "")
	if got := recv(t, s.frames, "binary frame"); !bytes.Equal(got, []byte{0xff, 0x00, 0x01}) {
		t.Errorf("binary frame = %x", got)
	}
	if got := recv(t, s.frames, "empty frame"); len(got) != 0 {
		t.Errorf("empty frame = %x", got)
	}
}

func TestGarbageInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{
		{0xff, 0xff, 0xff, 0xff},                                     // reserved bits and opcode
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},                        // unmasked client frame
		{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // absurd 64-bit length
		{0x89, 0xfe, 0x01, 0x00},                                     // oversized ping
		{0x00, 0x80, 0, 0, 0, 0},                                     // continuation without start
	}
	for range 20 {
		b := make([]byte, 1+rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		inputs = append(inputs, b)
	}
	ts := newTestServer(t, ws.Config{MessageSizeLimit: 1024}, withOnFrame(func(*fakeSession, []byte) bool { return true }))
	for i, in := range inputs {
		c := ts.dial(t, "", nil)
		s := ts.session(t)
		if _, err := c.NetConn().Write(in); err != nil {
			t.Fatalf("input %d: write: %v", i, err)
		}
		_ = c.NetConn().(*net.TCPConn).CloseWrite()
		if d := recv(t, s.closes, fmt.Sprintf("Session.Close for input %d (%x)", i, in)); d != protocol.DisconnectConnectionClosed {
			t.Errorf("input %d: Session.Close(%v)", i, d)
		}
	}
	ts.waitIdle(t)
}

func TestWriteTimeout(t *testing.T) {
	const writeTimeout = 100 * time.Millisecond
	ts := newTestServer(t, ws.Config{WriteTimeout: writeTimeout}, withOnFrame(func(*fakeSession, []byte) bool { return true }))
	ts.dial(t, "", nil) // the client never reads
	s := ts.session(t)
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	var err error
	for i := 0; i < 1024 && err == nil; i++ {
		start := time.Now()
		err = s.t.WriteMany(big)
		if took := time.Since(start); took > writeTimeout+2*time.Second {
			t.Fatalf("WriteMany blocked %s with a %s write timeout", took, writeTimeout)
		}
	}
	if err == nil {
		t.Fatal("1 GiB written to a client that does not read; want a timeout error")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("WriteMany error = %v, want a timeout", err)
	}
	if err := s.t.WriteMany([]byte("x")); err == nil {
		t.Error("write after a timed-out write succeeded")
	}
	start := time.Now()
	_ = s.t.Close(protocol.DisconnectWriteError)
	if took := time.Since(start); took > writeTimeout+2*time.Second {
		t.Errorf("Close blocked %s", took)
	}
	ts.waitIdle(t)
}

func TestConcurrentCloseAndWriteMany(t *testing.T) {
	for _, d := range []protocol.Disconnect{protocol.DisconnectShutdown, protocol.DisconnectConnectionClosed} {
		t.Run(fmt.Sprint(d.Code), func(t *testing.T) {
			ts := newTestServer(t, ws.Config{WriteTimeout: 200 * time.Millisecond},
				withOnFrame(func(*fakeSession, []byte) bool { return true }))
			for range 10 {
				c := ts.dial(t, "", nil)
				go func() { // drain so writes make progress
					for {
						if _, _, err := c.NextReader(); err != nil {
							return
						}
					}
				}()
				s := ts.session(t)
				msgs := [][]byte{bytes.Repeat([]byte{'m'}, 1024), []byte(`{"push":{}}`)}
				var wg sync.WaitGroup
				writeErr := make(chan error, 1)
				wg.Go(func() {
					for {
						if err := s.t.WriteMany(msgs...); err != nil {
							writeErr <- err
							return
						}
					}
				})
				wg.Go(func() {
					start := time.Now()
					_ = s.t.Close(d)
					if took := time.Since(start); took > 2*time.Second {
						t.Errorf("Close blocked %s", took)
					}
				})
				if err := recv(t, writeErr, "WriteMany to fail after Close"); !errors.Is(err, ws.ErrClosed) {
					t.Errorf("WriteMany racing Close = %v, want ErrClosed", err)
				}
				wg.Wait()
				if err := s.t.WriteMany(msgs...); !errors.Is(err, ws.ErrClosed) {
					t.Errorf("WriteMany after Close = %v, want ErrClosed", err)
				}
			}
			ts.waitIdle(t)
		})
	}
}

func TestCompression(t *testing.T) {
	ts := newTestServer(t, ws.Config{Compression: true, MessageSizeLimit: 1024})
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: waitTimeout}
	c, resp, err := d.Dial(ts.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	if ext := resp.Header.Get("Sec-Websocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("compression not negotiated: %q", ext)
	}
	c.EnableWriteCompression(true)
	// 8 KiB of compressible data: over MessageSizeLimit decompressed, far
	// below it on the wire, and below the decompressed limit.
	msg := strings.Repeat("compressible ", 630)
	sendText(t, c, msg)
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != msg {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	// Over the decompressed limit (10 × 1024).
	sendText(t, c, strings.Repeat("z", 11*1024))
	if ce := readClose(t, c); ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", ce.Code)
	}

	// Incompressible data over MessageSizeLimit on the wire.
	c2, resp, err := d.Dial(ts.wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c2.Close() })
	_ = c2.SetReadDeadline(time.Now().Add(waitTimeout))
	s2 := recv(t, ts.sessions, "second session")
	noise := make([]byte, 1500) // one frame, so the client's write completes
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	c2.EnableWriteCompression(true)
	if err := c2.WriteMessage(websocket.BinaryMessage, noise); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, c2); ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", ce.Code)
	}
	if d := recv(t, s2.closes, "Session.Close"); d != protocol.DisconnectConnectionClosed {
		t.Errorf("Session.Close(%v)", d)
	}
	ts.waitIdle(t)
}

func TestConfigValidate(t *testing.T) {
	if err := (ws.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	bad := ws.Config{MessageSizeLimit: -1, WriteTimeout: -1, CompressionLevel: 10, AllowedOrigins: []string{"https://[x"}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid Config accepted")
	}
	for _, want := range []string{"message size", "write timeout", "compression level", "allowed origin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCloseDoesNotWaitForBlockedWriter(t *testing.T) {
	const writeTimeout = 300 * time.Millisecond
	ts := newTestServer(t, ws.Config{WriteTimeout: writeTimeout}, withOnFrame(func(*fakeSession, []byte) bool { return true }))
	ts.dial(t, "", nil) // the client never reads, so writes end up blocked
	s := ts.session(t)
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		big := bytes.Repeat([]byte{'x'}, 256<<10)
		for {
			if err := s.t.WriteMany(big); err != nil {
				done <- err
				return
			}
			written.Add(int64(len(big)))
		}
	}()
	// Let the socket buffers fill so the writer is (most likely) blocked.
	eventually(t, "8 MiB written", func() bool { return written.Load() >= 8<<20 || len(done) > 0 })
	start := time.Now()
	_ = s.t.Close(protocol.DisconnectShutdown)
	if took := time.Since(start); took > writeTimeout+time.Second {
		t.Errorf("Close took %s with a %s write timeout", took, writeTimeout)
	}
	recv(t, done, "writer to fail")
	ts.waitIdle(t)
}
