package httpstream_test

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
)

// env is a node serving /connection/http_stream, /connection/sse and
// /emulation on 127.0.0.1:0.
type env struct {
	node *engine.Node
	srv  *httptest.Server
	// tlsClient is set when srv serves TLS (newTLSEnv): post goes over
	// https with it.
	tlsClient *http.Client
}

// newEnv serves the handlers with cfg; without a Reactor in cfg they get
// one (streams are detached, as in production).
func newEnv(t testing.TB, edit func(*config.Client), cfg httpstream.Config) *env {
	t.Helper()
	return startEnv(t, edit, cfg, httptest.NewServer)
}

// startEnv is newEnv with the server started by start (given the handler).
func startEnv(t testing.TB, edit func(*config.Client), cfg httpstream.Config, start func(http.Handler) *httptest.Server) *env {
	t.Helper()
	if cfg.Reactor == nil {
		rt := httpstream.NewReactor()
		t.Cleanup(func() { _ = rt.Close() })
		cfg.Reactor = rt
	}
	n := streamtest.NewNode(t, edit)
	newSession := func(ctx context.Context, tr engine.Transport) (httpstream.Session, error) {
		c, err := n.NewClient(ctx, tr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/connection/http_stream", httpstream.NewHTTPStreamHandler(newSession, cfg, nil))
	mux.Handle("/connection/sse", httpstream.NewSSEHandler(newSession, cfg, nil))
	mux.Handle("/emulation", httpstream.NewEmulationHandler(httpstream.ClusterRouter{Node: n}, cfg, nil))
	srv := start(mux)
	t.Cleanup(srv.Close)
	return &env{node: n, srv: srv}
}

// stream is an open streaming response read line by line.
type stream struct {
	resp  *http.Response
	lines <-chan string
}

func (e *env) open(t *testing.T, method, path, contentType, body string, hdr map[string]string) *stream {
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
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
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

// next returns the next message of a JSON stream, stripping an SSE "data: "
// prefix.
func (s *stream) next(t *testing.T, what string) map[string]any {
	t.Helper()
	line := streamtest.Next(t, s.lines, what)
	return decode(t, strings.TrimPrefix(line, "data: "))
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad JSON message %q: %v", s, err)
	}
	return m
}

// emulate posts a command frame to /emulation and returns the status.
func (e *env) emulate(t testing.TB, node, session, frame string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"node": node, "session": session, "data": frame})
	return e.post(t, "/emulation", "", string(body))
}

func (e *env) post(t testing.TB, path, contentType, body string) int {
	t.Helper()
	base, client := e.srv.URL, e.srv.Client()
	if e.tlsClient != nil {
		base, client = "https://"+strings.TrimPrefix(e.srv.URL, "http://"), e.tlsClient
	}
	resp, err := client.Post(base+path, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// connectResult returns the connect result of a reply, failing otherwise.
func connectResult(t testing.TB, reply map[string]any) map[string]any {
	t.Helper()
	res, ok := reply["connect"].(map[string]any)
	if !ok {
		t.Fatalf("expected a connect reply, got %v", reply)
	}
	return res
}

// disconnectCode returns the code of a {"push":{"disconnect":..}} reply, or 0.
func disconnectCode(m map[string]any) float64 {
	push, _ := m["push"].(map[string]any)
	d, _ := push["disconnect"].(map[string]any)
	code, _ := d["code"].(float64)
	return code
}

// forEachStreamMode runs test with streams detached from their handlers
// (the default) and kept in them (a closed Reactor detaches nothing).
func forEachStreamMode(t *testing.T, test func(*testing.T, httpstream.Config)) {
	t.Run("detached", func(t *testing.T) { test(t, httpstream.Config{}) })
	t.Run("in-handler", func(t *testing.T) {
		rt := httpstream.NewReactor()
		_ = rt.Close()
		test(t, httpstream.Config{Reactor: rt})
	})
}
