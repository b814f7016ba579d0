package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/testutil/memstat"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// nopSession accepts frames and ignores them.
type nopSession struct{ closed atomic.Bool }

func (s *nopSession) HandleFrame([]byte) bool   { return true }
func (s *nopSession) Close(protocol.Disconnect) { s.closed.Store(true) }

// rawDial opens a WebSocket connection with a hand-written handshake and no
// client-side buffers or goroutines, so that the process's memory growth is
// (almost) all server side.
func rawDial(tb testing.TB, addr string, headers ...string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	req := "GET /connection/websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: centrifuge-json\r\n" +
		strings.Join(headers, "") + "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		tb.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	br := bufio.NewReaderSize(c, 256)
	readHandshake(tb, br)
	if br.Buffered() != 0 {
		tb.Fatal("unexpected data after the handshake")
	}
	return c
}

// BenchmarkIdleConnectionMemory opens 2,000 idle loopback connections to an
// in-process Handler (each has sent one small frame) and reports the heap
// and goroutine-stack bytes, and the goroutines, per connection: plain,
// with permessage-deflate negotiated, and uni_websocket with its pings
// armed. The figures include the client side's net.Conn (a few hundred
// bytes), so they are an upper bound of the server's cost; the engine's
// per-client state is not included (the session is a no-op). Run with
// -benchtime=1x.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	b.Run("websocket", func(b *testing.B) { benchmarkIdleConnectionMemory(b, ws.Config{}) })
	b.Run("deflate", func(b *testing.B) {
		benchmarkIdleConnectionMemory(b, ws.Config{Compression: true}, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	})
	b.Run("uni_websocket", func(b *testing.B) {
		benchmarkIdleConnectionMemory(b, ws.Config{Unidirectional: &ws.UniConfig{}})
	})
}

func benchmarkIdleConnectionMemory(b *testing.B, cfg ws.Config, headers ...string) {
	const conns = 2000
	for b.Loop() {
		var sessions atomic.Int64
		h := ws.NewHandler(func(ctx context.Context, t engine.Transport) (ws.Session, error) {
			sessions.Add(1)
			if p, ok := t.(interface{ StartPings() }); ok {
				p.StartPings()
			}
			return &nopSession{}, nil
		}, cfg, nil)
		srv := httptest.NewServer(h)
		addr := strings.TrimPrefix(srv.URL, "http://")

		// Warm up: one connection, so lazily started shared goroutines
		// are not charged to the measured connections.
		warm := rawDial(b, addr, headers...)
		heap0, stack0, g0 := memstat.Sample()

		clients := make([]net.Conn, 0, conns)
		frame := []byte{0x81, 0x82, 1, 2, 3, 4, '{' ^ 1, '}' ^ 2} // masked text frame "{}"
		for range conns {
			c := rawDial(b, addr, headers...)
			if _, err := c.Write(frame); err != nil {
				b.Fatal(err)
			}
			clients = append(clients, c)
		}
		eventually(b, "all sessions started", func() bool { return sessions.Load() == conns+1 })
		time.Sleep(200 * time.Millisecond) // let the frames be read; not an assertion
		heap1, stack1, g1 := memstat.Sample()

		dh, ds := float64(heap1)-float64(heap0), float64(stack1)-float64(stack0) // may shrink: signed
		b.ReportMetric(dh/conns, "heap-B/conn")
		b.ReportMetric(ds/conns, "stack-B/conn")
		b.ReportMetric((dh+ds)/conns, "total-B/conn")
		b.ReportMetric(float64(g1-g0)/conns, "goroutines/conn")
		b.Logf("%d connections: heap %d -> %d, stack %d -> %d, goroutines %d -> %d",
			conns, heap0, heap1, stack0, stack1, g0, g1)

		for _, c := range clients {
			_ = c.Close()
		}
		_ = warm.Close()
		srv.Close()
		if cl, ok := any(h).(interface{ Close() error }); ok {
			if err := cl.Close(); err != nil {
				b.Error(err)
			}
		}
		runtime.KeepAlive(clients)
	}
}

var _ http.Handler = (*ws.Handler)(nil)

// BenchmarkWriteManyLarge writes 16 messages of 4 KiB per frame (64 KiB, the
// vectored write path) to a real loopback client that discards what it
// reads.
func BenchmarkWriteManyLarge(b *testing.B) {
	msgs := make([][]byte, 16)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{'x'}, 4096)
	}
	benchmarkWriteMany(b, "", msgs, false)
}

// BenchmarkConnectionCycle opens a WebSocket connection to an in-process
// Handler behind internal/connsplit (as Herald serves it), sends a close
// frame and waits for the server to close: the server's whole cost of a
// short-lived connection (accept, classification, upgrade, reactor
// registration, closing handshake) plus a hand-written client's. The
// session is a no-op.
func BenchmarkConnectionCycle(b *testing.B) {
	addr := serveNop(b)
	closeFrame := []byte("\x88\x82\x00\x00\x00\x00\x03\xe8") // masked close 1000
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		c := rawDial(b, addr)
		if _, err := c.Write(closeFrame); err != nil {
			b.Fatal(err)
		}
		for { // the server's close frame, then EOF
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		_ = c.Close()
	}
}

// BenchmarkPingRoundTrip: a client sends a ping frame and waits for the
// pong, one at a time: the server's cost of reading one small frame from a
// connection in the reactor and answering it, the client's included.
func BenchmarkPingRoundTrip(b *testing.B) {
	addr := serveNop(b)
	c := rawDial(b, addr)
	b.Cleanup(func() { _ = c.Close() })
	ping := []byte("\x89\x80\x00\x00\x00\x00") // masked ping, empty payload
	buf := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(ping); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:2]); err != nil { // the pong
			b.Fatal(err)
		}
	}
}

// serveNop serves WebSocket connections with no-op sessions on a split
// listener and returns its address.
func serveNop(b *testing.B) string {
	h := ws.NewHandler(func(context.Context, engine.Transport) (ws.Session, error) {
		return &nopSession{}, nil
	}, ws.Config{}, nil)
	b.Cleanup(func() { _ = h.Close() })
	return serveSplit(b, h)
}
