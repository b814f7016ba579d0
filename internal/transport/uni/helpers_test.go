package uni_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
	"github.com/heraldrt/herald/internal/transport/uni"
)

type env struct {
	node *engine.Node
	srv  *httptest.Server
}

func newEnv(t *testing.T, edit func(*config.Client), hc uni.HTTPConfig, wc uni.WebSocketConfig) *env {
	t.Helper()
	if hc.Reactor == nil { // streams detached from their handlers, as in production
		rt := httpstream.NewReactor()
		t.Cleanup(func() { _ = rt.Close() })
		hc.Reactor = rt
	}
	n := streamtest.NewNode(t, edit)
	newSession := func(ctx context.Context, tr engine.Transport) (uni.Session, error) {
		c, err := n.NewClient(ctx, tr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/connection/uni_sse", uni.NewSSEHandler(newSession, hc, nil))
	mux.Handle("/connection/uni_http_stream", uni.NewHTTPStreamHandler(newSession, hc, nil))
	wsh := uni.NewWebSocketHandler(newSession, wc, nil)
	mux.Handle("/connection/uni_websocket", wsh)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = wsh.Close() }) // runs first: closes the reactor's connections
	return &env{node: n, srv: srv}
}

type stream struct {
	resp  *http.Response
	lines <-chan string
}

func (e *env) do(t *testing.T, method, path, body string, hdr map[string]string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &stream{resp: resp, lines: streamtest.Lines(bufio.NewReader(resp.Body))}
}

func (s *stream) next(t *testing.T, what string) map[string]any {
	t.Helper()
	return decode(t, strings.TrimPrefix(streamtest.Next(t, s.lines, what), "data: "))
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON message %q: %v", s, err)
	}
	return m
}

// field returns m[k] as an object, failing the test when absent.
func field(t *testing.T, m map[string]any, k string) map[string]any {
	t.Helper()
	v, ok := m[k].(map[string]any)
	if !ok {
		t.Fatalf("message has no %q object: %v", k, m)
	}
	return v
}
