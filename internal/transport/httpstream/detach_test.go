package httpstream_test

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/testutil/memstat"
	"github.com/heraldrt/herald/internal/testutil/rawhttp"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
)

// rawSSE opens an SSE stream with a hand-written HTTP/1.1 request (no
// client goroutines) and reads until the connect reply.
func rawSSE(t testing.TB, e *env) (c net.Conn, events *bufio.Reader, connect map[string]any) {
	t.Helper()
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	q := url.QueryEscape(`{"id":1,"connect":{}}`)
	c, _, resp := rawhttp.Open(t, addr, "GET /connection/sse?cf_connect="+q+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n", nil, streamtest.WaitTimeout)
	if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("status %d, transfer encoding %v: want a chunked 200", resp.StatusCode, resp.TransferEncoding)
	}
	events = bufio.NewReader(resp.Body)
	for {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"connect"`) {
			return c, events, connectResult(t, decode(t, strings.TrimPrefix(strings.TrimSpace(line), "data: ")))
		}
	}
}

// TestDetachedStreamsHoldNoGoroutine: once connected, an SSE stream's
// handler has returned (its connection watched by the reactor), and it
// still receives publications, as chunks.
func TestDetachedStreamsHoldNoGoroutine(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{})
	rawSSE(t, e) // starts the reactor
	base := runtime.NumGoroutine()
	const n = 30
	for range n {
		rawSSE(t, e)
	}
	streamtest.Eventually(t, "handlers returned", func() bool { return runtime.NumGoroutine()-base < n/3 })
}

// TestDetachedStreamKeepsWorking: a detached stream gets its replies and
// pushes as chunks written straight to its connection (commands arriving
// through /emulation), and its session ends when the client closes the
// connection.
func TestDetachedStreamKeepsWorking(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{})
	c, br, res := rawSSE(t, e)
	session, _ := res["session"].(string)
	if st := e.emulate(t, "", session, `{"id":2,"subscribe":{"channel":"chat:d"}}`); st != http.StatusNoContent {
		t.Fatalf("emulation status %d", st)
	}
	streamtest.Publish(t, e.node, "chat:d", `{"text":"detached"}`)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"detached"`) {
			break
		}
	}
	_ = c.Close()
	streamtest.Eventually(t, "session ended after the client left", func() bool {
		return e.emulate(t, "", session, `{}`) == http.StatusNotFound
	})
}

// BenchmarkIdleStreamMemory opens 1,000 idle SSE streams (connected, raw
// clients without goroutines) and reports the heap and stack bytes and the
// goroutines per stream, detached and kept in their handlers. The figures
// include the engine's per-client state and the client side's net.Conn.
// Run with -benchtime=1x.
func BenchmarkIdleStreamMemory(b *testing.B) {
	for _, mode := range []string{"detached", "in-handler"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				cfg := httpstream.Config{}
				if mode == "in-handler" {
					rt := httpstream.NewReactor()
					_ = rt.Close()
					cfg.Reactor = rt
				}
				e := newEnv(b, nil, cfg)
				rawSSE(b, e) // warm up: the reactor and pools
				const n = 1000
				heap0, stack0, g0 := memstat.Sample()
				for range n {
					rawSSE(b, e)
				}
				time.Sleep(100 * time.Millisecond) // let handlers return; not an assertion
				heap1, stack1, g1 := memstat.Sample()
				b.ReportMetric((float64(heap1)-float64(heap0))/n, "heap-B/stream")
				b.ReportMetric((float64(stack1)-float64(stack0))/n, "stack-B/stream")
				b.ReportMetric(float64(g1-g0)/n, "goroutines/stream")
			}
		})
	}
}
