package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// waitTimeout bounds every poll in these tests; it is far above what a
// passing test needs.
const waitTimeout = 5 * time.Second

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t testing.TB, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", waitTimeout, msg)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not an assertion
	}
}

// recv returns the next value from ch or fails the test after waitTimeout.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// fakeSession records what the read loop hands it. By default it echoes each
// frame back through the transport.
type fakeSession struct {
	ctx     context.Context
	t       engine.Transport
	frames  chan []byte
	closes  chan protocol.Disconnect
	onFrame func(s *fakeSession, frame []byte) bool
}

func (s *fakeSession) HandleFrame(frame []byte) bool {
	cp := bytes.Clone(frame)
	select {
	case s.frames <- cp:
	default:
	}
	if s.onFrame != nil {
		return s.onFrame(s, cp)
	}
	return s.t.WriteMany(cp) == nil
}

func (s *fakeSession) Close(d protocol.Disconnect) {
	select {
	case s.closes <- d:
	default:
	}
}

// testServer runs a Handler on 127.0.0.1:0 and tracks its connections.
type testServer struct {
	srv      *httptest.Server
	wsURL    string
	sessions chan *fakeSession
	active   atomic.Int32 // ServeHTTP calls in progress
}

type serverOption func(*serverOptions)

type serverOptions struct {
	onFrame    func(s *fakeSession, frame []byte) bool
	newSession ws.NewSessionFunc
}

func withOnFrame(f func(s *fakeSession, frame []byte) bool) serverOption {
	return func(o *serverOptions) { o.onFrame = f }
}

func withNewSession(f ws.NewSessionFunc) serverOption {
	return func(o *serverOptions) { o.newSession = f }
}

// newTestServer starts a server with cfg. Unless set, CloseTimeout is
// shortened so handlers of clients that never answer a close frame end fast.
// On cleanup it waits for every handler to return.
func newTestServer(t testing.TB, cfg ws.Config, opts ...serverOption) *testServer {
	t.Helper()
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = 500 * time.Millisecond
	}
	ts := &testServer{sessions: make(chan *fakeSession, 64)}
	newSession := o.newSession
	if newSession == nil {
		newSession = func(ctx context.Context, tr engine.Transport) (ws.Session, error) {
			s := &fakeSession{
				ctx:     ctx,
				t:       tr,
				frames:  make(chan []byte, 64),
				closes:  make(chan protocol.Disconnect, 4),
				onFrame: o.onFrame,
			}
			ts.sessions <- s
			return s, nil
		}
	}
	h := ws.NewHandler(newSession, cfg, nil)
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.active.Add(1)
		defer ts.active.Add(-1)
		h.ServeHTTP(w, r)
	}))
	ts.wsURL = "ws" + strings.TrimPrefix(ts.srv.URL, "http") + "/connection/websocket"
	t.Cleanup(func() {
		ts.srv.CloseClientConnections()
		ts.srv.Close()
		// Hijacked connections are not tracked by httptest; clients are
		// closed by their own cleanups (registered later, so run earlier).
		eventually(t, "all handlers returned", func() bool { return ts.active.Load() == 0 })
	})
	return ts
}

// dial connects a client, failing the test on error. The connection is
// closed on cleanup.
func (ts *testServer) dial(t testing.TB, query string, header http.Header, subprotocols ...string) *websocket.Conn {
	t.Helper()
	c, resp, err := ts.tryDial(t, query, header, subprotocols...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	return c
}

func (ts *testServer) tryDial(t testing.TB, query string, header http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: waitTimeout}
	u := ts.wsURL
	if query != "" {
		u += "?" + query
	}
	c, resp, err := d.Dial(u, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if c != nil {
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	}
	return c, resp, err
}

// session returns the session of the next accepted connection.
func (ts *testServer) session(t testing.TB) *fakeSession {
	t.Helper()
	return recv(t, ts.sessions, "session")
}

// waitIdle waits until every handler has returned (connections closed).
func (ts *testServer) waitIdle(t testing.TB) {
	t.Helper()
	eventually(t, "handlers returned", func() bool { return ts.active.Load() == 0 })
}

// readClose reads from c until the server's close frame and returns it.
func readClose(t testing.TB, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: want close frame, got %v", err)
		}
		return ce
	}
}

// sendText writes msgs as text frames.
func sendText(t testing.TB, c *websocket.Conn, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatalf("client write: %v", err)
		}
	}
}

// noSessionClose asserts that the read loop did not call Session.Close.
func noSessionClose(t testing.TB, s *fakeSession) {
	t.Helper()
	select {
	case d := <-s.closes:
		t.Errorf("unexpected Session.Close(%v)", d)
	default:
	}
}

// recordingHandler returns a Handler whose sessions are fakeSessions sent
// on the returned channel as they start.
func recordingHandler(cfg ws.Config) (*ws.Handler, chan *fakeSession) {
	sessions := make(chan *fakeSession, 4)
	h := ws.NewHandler(func(ctx context.Context, tr engine.Transport) (ws.Session, error) {
		s := &fakeSession{ctx: ctx, t: tr, frames: make(chan []byte, 4), closes: make(chan protocol.Disconnect, 4)}
		sessions <- s
		return s, nil
	}, cfg, nil)
	return h, sessions
}

// readHandshake reads a 101 response and its header from br.
func readHandshake(tb testing.TB, br *bufio.Reader) {
	tb.Helper()
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		tb.Fatalf("handshake: %q %v", status, err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if line == "\r\n" {
			return
		}
	}
}
