package uni_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
	"github.com/heraldrt/herald/internal/transport/uni"
)

func (e *env) dialWS(t *testing.T, query string, hdr http.Header) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/connection/uni_websocket" + query
	conn, resp, err := websocket.DefaultDialer.Dial(u, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(streamtest.WaitTimeout))
	return conn
}

func readJSON(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return decode(t, string(b))
}

// closeCode reads until the close frame and returns its code.
func closeCode(t *testing.T, c *websocket.Conn) int {
	t.Helper()
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			t.Fatalf("read ended without a close frame: %v", err)
		}
	}
}

func TestUniWebSocketFirstMessageConnect(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{})
	c := e.dialWS(t, "", nil)
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"subs":{"chat:ws":{}}}`)); err != nil {
		t.Fatal(err)
	}
	if field(t, readJSON(t, c), "connect")["session"] == "" {
		t.Fatal("connect push lacks session")
	}
	streamtest.Publish(t, e.node, "chat:ws", `{"a":1}`)
	if m := readJSON(t, c); m["channel"] != "chat:ws" || m["pub"] == nil {
		t.Fatalf("publication: %v", m)
	}
}

func TestUniWebSocketQueryConnectAndDisconnect(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{})
	q, _ := json.Marshal(map[string]any{"token": streamtest.Token(t, "bob")})
	c := e.dialWS(t, "?cf_connect="+url.QueryEscape(string(q)), nil)
	field(t, readJSON(t, c), "connect")
	go func() { _ = e.node.Shutdown(t.Context()) }()
	if d := field(t, readJSON(t, c), "disconnect"); d["code"] != float64(3001) {
		t.Fatalf("disconnect push %v, want 3001", d)
	}
	if code := closeCode(t, c); code != 3001 {
		t.Fatalf("close code %d, want 3001", code)
	}
}

func TestUniWebSocketBadConnect(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{})
	c := e.dialWS(t, "?cf_connect="+url.QueryEscape(`{"token":`), nil)
	if d := field(t, readJSON(t, c), "disconnect"); d["code"] != float64(3501) {
		t.Fatalf("disconnect %v, want 3501", d)
	}
	if code := closeCode(t, c); code != 3501 {
		t.Fatalf("close code %d, want 3501", code)
	}
	c = e.dialWS(t, "?cf_connect="+url.QueryEscape(`{"token":"`+streamtest.BadToken(t, "x")+`"}`), nil)
	if code := closeCode(t, c); code != 3500 {
		t.Fatalf("bad token close code %d, want 3500", code)
	}
}

func TestUniWebSocketOversizedAndOrigin(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{MessageSizeLimit: 32, AllowedOrigins: []string{"http://ok.test"}})
	c := e.dialWS(t, "", nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"name":"`+strings.Repeat("x", 64)+`"}`))
	if code := closeCode(t, c); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/connection/uni_websocket"
	_, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"http://bad.test"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v resp %v, want 403", err, resp)
	}
	c = e.dialWS(t, "?cf_connect=%7B%7D", http.Header{"Origin": {"http://ok.test"}})
	field(t, readJSON(t, c), "connect")
}

func TestUniWebSocketNativePing(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{PingInterval: 50 * time.Millisecond})
	c := e.dialWS(t, "?cf_connect=%7B%7D", nil)
	pings := make(chan struct{}, 8)
	c.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil // no pong: the server drops us after PongWait
	})
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	streamtest.Next(t, pings, "native ping frame")
}

// TestUniWebSocketConnectTimeout: without cf_connect, a connection that
// sends no ConnectRequest within ConnectTimeout is dropped.
func TestUniWebSocketConnectTimeout(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{ConnectTimeout: 50 * time.Millisecond})
	c := e.dialWS(t, "", nil)
	start := time.Now()
	_, _, err := c.ReadMessage()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read: %v, want the connection dropped", err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatalf("dropped after %s, before ConnectTimeout", time.Since(start))
	}
}

// TestUniWebSocketIdleHoldsNoGoroutine: connected uni_websocket clients
// (native pings armed) hold no goroutine on the server.
func TestUniWebSocketIdleHoldsNoGoroutine(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{})
	base := runtime.NumGoroutine()
	const n = 40
	for range n {
		c := e.dialWS(t, "?cf_connect=%7B%7D", nil)
		field(t, readJSON(t, c), "connect")
	}
	if got := runtime.NumGoroutine() - base; got >= n/2 {
		t.Errorf("%d goroutines for %d idle uni_websocket connections", got, n)
	}
}
