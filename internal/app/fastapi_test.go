package app

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
)

// startApp starts an App on 127.0.0.1:0 with the server API (key "k") and
// the health endpoint, changed by edit when not nil, and shuts it down at
// the end of the test. It returns the App and its first address.
func startApp(t *testing.T, edit func(*config.Config)) (*App, string) {
	t.Helper()
	cfg := config.Defaults()
	cfg.HTTPServer.Address = "127.0.0.1"
	cfg.HTTPServer.Port = 0
	cfg.HTTPAPI.Key = "k"
	cfg.Health.Enabled = true
	cfg.UniGRPC.Enabled = false
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return a, a.Addrs()[0].String()
}

// exchange writes req on c and reads one response.
// dial connects to addr; the connection is closed when the test ends.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

func exchange(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func post(path, key, body string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestFastAPILane drives one keep-alive connection that opens with a
// server-API request (so the reactor lane serves it, handing it to the
// fasthttp lane at its first request outside the API) through API calls,
// API errors and a non-API request, then checks that a WebSocket-style
// request on another connection still reaches net/http.
func TestFastAPILane(t *testing.T) {
	a, addr := startApp(t, nil)
	if len(a.lanes) != 1 {
		t.Fatalf("%d reactor lanes with the memory engine, want 1", len(a.lanes))
	}
	c, br := dial(t, addr)
	for _, tc := range []struct {
		req, ctype string
		status     int
		body       string
	}{
		{post("/api/info", "k", `{}`), "application/json", 200, `{"result":{"nodes":[{`},
		{post("/api/publish", "k", `{"channel":"news","data":{"n":1}}`), "application/json", 200, `{"result":{}}`},
		{post("/api", "k", `{"method":"publish","params":{"channel":"news","data":1}}`), "application/json", 200, `{"result":{}}`},
		{post("/api/publish", "k", `{"channel":`), "text/plain; charset=utf-8", 400, "Bad Request\n"},
		{post("/api/publish", "wrong", `{}`), "text/plain; charset=utf-8", 401, "Unauthorized\n"},
		{post("/api/nope", "k", `{}`), "text/plain; charset=utf-8", 404, ""},
		{post("/api/publish", "k", `{"channel":"","data":1}`), "application/json", 200, `{"error":{"code":107`},
		{"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n", "text/plain; charset=utf-8", 405, ""},
		{post("/api/info?api_key=k", "", `{}`), "application/json", 200, `{"result":{"nodes":[{`},
		{post("/api/info", "k", `{}`), "application/json", 200, `{"result":{"nodes":[{`},
	} {
		resp, body := exchange(t, c, br, tc.req)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.ctype || !strings.HasPrefix(body, tc.body) {
			t.Fatalf("%q:\n got %d %q %q\nwant %d %q %q...", tc.req, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.ctype, tc.body)
		}
	}
	// Pipelined requests are answered in order.
	resp, body := exchange(t, c, br, post("/api/info", "k", `{}`)+post("/api/publish", "k", `{"channel":"a","data":2}`))
	if resp.StatusCode != 200 || !strings.HasPrefix(body, `{"result":{"nodes"`) {
		t.Fatalf("first pipelined: %d %q", resp.StatusCode, body)
	}
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("second pipelined: %v %v", resp, err)
	} else if b, _ := io.ReadAll(resp.Body); string(b) != `{"result":{}}` {
		t.Fatalf("second pipelined: %q", b)
	}
	// A request outside the API (served by net/http through fasthttp's
	// adaptor), then the API again on the same connection.
	for _, tc := range []struct{ req, body string }{
		{"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", `{}`},
		{post("/api/info", "k", `{}`), `{"result":{"nodes":[{`},
	} {
		if resp, body := exchange(t, c, br, tc.req); resp.StatusCode != 200 || !strings.HasPrefix(body, tc.body) {
			t.Fatalf("%q: %d %q", tc.req, resp.StatusCode, body)
		}
	}
	// A body over the limit is refused before it is read.
	resp, _ = exchange(t, c, br, "POST /api/publish HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nContent-Length: 67108865\r\n\r\n")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d, want 413", resp.StatusCode)
	}

	// Garbage after the first request: 400 and the connection is closed,
	// the server keeps serving others.
	g, gr := dial(t, addr)
	exchange(t, g, gr, post("/api/info", "k", `{}`))
	resp, _ = exchange(t, g, gr, "\x00\x01garbage\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("garbage: %d, want 400", resp.StatusCode)
	}

	// Other connections go to net/http: a WebSocket upgrade without its
	// headers gets net/http's 400 from the WebSocket handler.
	w, wr := dial(t, addr)
	resp, body = exchange(t, w, wr, "GET /connection/websocket HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("websocket without upgrade: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// TestFastAPILaneShutdown: Shutdown closes idle fast-lane connections and
// returns.
func TestFastAPILaneShutdown(t *testing.T) {
	a, addr := startApp(t, nil)
	c, br := dial(t, addr)
	exchange(t, c, br, post("/api/info", "k", `{}`))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle fast-lane connection after Shutdown: %v, want EOF", err)
	}
}

// TestFastAPILaneWithRedis: with an engine whose calls wait on the
// network, API connections stay on fasthttp (a goroutine each) instead of
// the reactor lane, whose handlers run on the reactor's goroutines.
func TestFastAPILaneWithRedis(t *testing.T) {
	addr := os.Getenv("HERALD_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	a, apiAddr := startApp(t, func(cfg *config.Config) {
		cfg.Engine.Type = "redis"
		cfg.Engine.Redis.Address = []string{"redis://" + addr}
		cfg.Engine.Redis.Prefix = "herald-lane-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	})
	if len(a.lanes) != 0 {
		t.Fatalf("%d reactor lanes with the redis engine, want 0", len(a.lanes))
	}
	c, br := dial(t, apiAddr)
	if resp, body := exchange(t, c, br, post("/api/publish", "k", `{"channel":"news","data":1}`)); resp.StatusCode != 200 || !strings.HasPrefix(body, `{"result":{`) {
		t.Fatalf("publish through fasthttp: %d %q", resp.StatusCode, body)
	}
}
