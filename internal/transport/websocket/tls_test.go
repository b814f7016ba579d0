package websocket_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/testutil/memstat"
	"github.com/heraldrt/herald/internal/testutil/testcert"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// tlsReactorServer serves h over TLS through an nbtls listener, as Herald's
// HTTP server does, counting the ServeHTTP calls in progress. It returns
// the server's address and a client TLS configuration trusting it.
func tlsReactorServer(t *testing.T, h *ws.Handler, active *atomic.Int32) (string, *tls.Config) {
	t.Helper()
	serverTLS, clientTLS := testcert.Configs(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		h.ServeHTTP(w, r)
	}))
	srv.Listener = nbtls.NewListener(ln, serverTLS)
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = h.Close() })
	return ln.Addr().String(), clientTLS
}

// dialTLS connects a wss:// client to addr; it is closed when the test ends.
func dialTLS(tb testing.TB, addr string, clientTLS *tls.Config) *websocket.Conn {
	tb.Helper()
	d := websocket.Dialer{TLSClientConfig: clientTLS, HandshakeTimeout: waitTimeout}
	c, resp, err := d.Dial("wss://"+addr+"/connection/websocket", nil)
	if err != nil {
		tb.Fatal(err)
	}
	_ = resp.Body.Close()
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// TestTLSConnectionsInReactor: WebSocket connections over TLS accepted
// through nbtls are handed to the reactor (their upgrade handlers return,
// so no goroutine is held per connection), and keep working: echoes, a
// message of many TLS records, the close handshake.
func TestTLSConnectionsInReactor(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{MessageSizeLimit: 1 << 20, CloseTimeout: time.Second})
	var active atomic.Int32
	addr, clientTLS := tlsReactorServer(t, h, &active)

	const n = 10
	clients := make([]*websocket.Conn, n)
	for i := range clients {
		c := dialTLS(t, addr, clientTLS)
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		clients[i] = c
		recv(t, sessions, "session")
	}
	eventually(t, "upgrade handlers returned while the TLS connections stay open", func() bool { return active.Load() == 0 })

	for i, c := range clients {
		msg := "over tls " + strings.Repeat("x", i)
		sendText(t, c, msg)
		if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("client %d: echo %q, %v", i, got, err)
		}
	}
	big := strings.Repeat("0123456789abcdef", 40<<10/16) // 40 KiB: three TLS records and more
	sendText(t, clients[0], big)
	if _, got, err := clients[0].ReadMessage(); err != nil || string(got) != big {
		t.Fatalf("big echo: %d bytes, %v", len(got), err)
	}

	if err := clients[1].WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	if ce := readClose(t, clients[1]); ce.Code != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want 1000", ce.Code)
	}
}

// TestTLSRecordsWithTheUpgradeRequest: a client that sends its first frame
// right behind the upgrade request, in TLS records of their own, gets its
// answer although the socket gives no readiness edge for records that
// crypto/tls had already read along with the request.
func TestTLSRecordsWithTheUpgradeRequest(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{CloseTimeout: time.Second})
	var active atomic.Int32
	addr, clientTLS := tlsReactorServer(t, h, &active)
	c, err := tls.Dial("tcp", addr, clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	req := "GET /connection/websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	frames := [][]byte{
		{0x81, 0x82, 1, 2, 3, 4, '{' ^ 1, '}' ^ 2},          // masked text frame "{}"
		{0x81, 0x83, 1, 2, 3, 4, '[' ^ 1, '1' ^ 2, ']' ^ 3}, // masked text frame "[1]"
	}
	// One TLS record each, written back to back before reading anything.
	for _, b := range append([][]byte{[]byte(req)}, frames...) {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	readHandshake(t, bufio.NewReader(c))
	s := recv(t, sessions, "session")
	for _, want := range []string{"{}", "[1]"} {
		if got := recv(t, s.frames, "frame "+want); !bytes.Equal(got, []byte(want)) {
			t.Fatalf("frame %q, want %q", got, want)
		}
	}
	noSessionClose(t, s)
	eventually(t, "upgrade handler returned", func() bool { return active.Load() == 0 })
}

// TestTLSConnectionClosedByClient: a TLS client that drops its connection
// (no close frame) ends its session.
func TestTLSConnectionClosedByClient(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{CloseTimeout: time.Second})
	var active atomic.Int32
	addr, clientTLS := tlsReactorServer(t, h, &active)
	c := dialTLS(t, addr, clientTLS)
	s := recv(t, sessions, "session")
	eventually(t, "upgrade handler returned", func() bool { return active.Load() == 0 })
	_ = c.UnderlyingConn().Close()
	if d := recv(t, s.closes, "Session.Close"); d != protocol.DisconnectConnectionClosed {
		t.Errorf("Session.Close(%v)", d)
	}
}

// BenchmarkIdleTLSConnectionMemory opens 1,000 idle WebSocket connections
// over TLS and reports heap and stack bytes and goroutines per connection,
// accepted through nbtls (the reactor reads them) and through crypto/tls's
// own listener (a read loop per connection). Both figures include the
// client side's tls.Conn, in the same process; the difference is the
// server's saving. Run with -benchtime=1x.
func BenchmarkIdleTLSConnectionMemory(b *testing.B) {
	for _, mode := range []string{"reactor", "blocking"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				benchmarkIdleTLSConnectionMemory(b, mode == "reactor")
			}
		})
	}
}

func benchmarkIdleTLSConnectionMemory(b *testing.B, reactor bool) {
	const conns = 1000
	srvTLS, clientTLS := testcert.Configs(b)
	h, sessions := recordingHandler(ws.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	if reactor {
		srv.Listener = nbtls.NewListener(ln, srvTLS)
	} else {
		srv.Listener = tls.NewListener(ln, srvTLS)
	}
	srv.Start()
	d := websocket.Dialer{TLSClientConfig: clientTLS, HandshakeTimeout: waitTimeout}
	dial := func() net.Conn {
		c, resp, err := d.Dial("wss://"+ln.Addr().String()+"/connection/websocket", nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		<-sessions
		if err := c.WriteMessage(websocket.TextMessage, []byte("{}")); err != nil {
			b.Fatal(err)
		}
		return c.NetConn()
	}
	warm := dial()
	heap0, stack0, g0 := memstat.Sample()
	clients := make([]net.Conn, 0, conns)
	for range conns {
		clients = append(clients, dial())
	}
	time.Sleep(200 * time.Millisecond) // let the frames be read; not an assertion
	heap1, stack1, g1 := memstat.Sample()
	dh, ds := float64(heap1)-float64(heap0), float64(stack1)-float64(stack0)
	b.ReportMetric(dh/conns, "heap-B/conn")
	b.ReportMetric(ds/conns, "stack-B/conn")
	b.ReportMetric((dh+ds)/conns, "total-B/conn")
	b.ReportMetric(float64(g1-g0)/conns, "goroutines/conn")
	for _, c := range clients {
		_ = c.Close()
	}
	_ = warm.Close()
	srv.Close()
	_ = h.Close()
}

// TestTLSWritesWithoutWaiting: over TLS on the reactor, TryWriteMany
// encrypts and writes without waiting for the socket; against a client
// that reads only later, it reports the frames that the socket did not
// take, the next WriteMany sends them (as the engine's writer does), and
// the client then receives every message in order.
func TestTLSWritesWithoutWaiting(t *testing.T) {
	h, sessions := recordingHandler(ws.Config{CloseTimeout: time.Second, WriteTimeout: waitTimeout})
	var active atomic.Int32
	addr, clientTLS := tlsReactorServer(t, h, &active)
	c := dialTLS(t, addr, clientTLS)
	s := recv(t, sessions, "session")
	eventually(t, "upgrade handler returned", func() bool { return active.Load() == 0 })
	tw := s.t.(engine.TryWriter)

	const n = 2000
	payload := strings.Repeat("p", 16<<10) // 32 MiB in all: more than the socket buffers take
	refused := make(chan int, 1)           // the first message the socket did not take at once
	go func() {
		first := true
		for i := range n {
			done, err := tw.TryWriteMany([]byte(fmt.Sprintf("%d %s", i, payload)))
			if err != nil {
				t.Error(err)
				return
			}
			if !done {
				if first {
					refused <- i
					first = false
				}
				if err := s.t.WriteMany(); err != nil { // the writer's flush: waits for the client
					t.Error(err)
					return
				}
			}
		}
		if first {
			refused <- -1
		}
	}()
	// The client reads only once the server found the socket full.
	switch i := recv(t, refused, "a refused write"); {
	case i < 0:
		t.Fatalf("the socket took all %d messages (%d MiB) at once", n, n*len(payload)>>20)
	case i == 0:
		t.Fatal("TryWriteMany wrote nothing at once (it left every frame to the writer)")
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	for i := range n {
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf("%d %s", i, payload); string(got) != want {
			t.Fatalf("message %d out of order: %.20q", i, got)
		}
	}
}

// BenchmarkTLSWrite writes one small message per operation to a TLS
// connection on the reactor the way the engine's writer does (TryWriteMany,
// and WriteMany when the socket did not take it all), to a client that
// reads in a goroutine of its own.
func BenchmarkTLSWrite(b *testing.B) {
	h, sessions := recordingHandler(ws.Config{WriteTimeout: waitTimeout})
	h2 := http.HandlerFunc(h.ServeHTTP)
	serverTLS, clientTLS := testcert.Configs(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h2)
	srv.Listener = nbtls.NewListener(ln, serverTLS)
	srv.Start()
	defer srv.Close()
	defer h.Close()
	c := dialTLS(b, ln.Addr().String(), clientTLS)
	s := recv(b, sessions, "session")
	tw := s.t.(engine.TryWriter)
	go func() {
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	msg := []byte(`{"push":{"channel":"chat","pub":{"data":{"text":"hello"},"offset":1}}}`)
	b.ReportAllocs()
	for b.Loop() {
		done, err := tw.TryWriteMany(msg)
		if err != nil {
			b.Fatal(err)
		}
		if !done {
			if err := s.t.WriteMany(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
