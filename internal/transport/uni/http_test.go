package uni_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
	"github.com/heraldrt/herald/internal/transport/uni"
)

const (
	uniSSE    = "/connection/uni_sse"
	uniStream = "/connection/uni_http_stream"
)

func TestUniHTTPStreamConnectReceive(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{})
	s := e.do(t, http.MethodPost, uniStream, `{"token":"`+streamtest.Token(t, "alice")+`","subs":{"chat:u":{}}}`, nil)
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", s.resp.StatusCode)
	}
	c := field(t, s.next(t, "connect push"), "connect")
	if c["session"] == "" || c["node"] != e.node.ID() || c["subs"] == nil {
		t.Fatalf("connect push: %v", c)
	}
	streamtest.Publish(t, e.node, "chat:u", `{"v":1}`)
	m := s.next(t, "publication")
	if m["channel"] != "chat:u" || field(t, field(t, m, "pub"), "data")["v"] != float64(1) {
		t.Fatalf("publication push: %v", m)
	}
}

func TestUniSSERecoveryFromOffsets(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{}, uni.WebSocketConfig{})
	s := e.do(t, http.MethodGet, uniSSE+"?cf_connect="+url.QueryEscape(`{"subs":{"chat:r":{}}}`), "", nil)
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	sub := field(t, field(t, field(t, s.next(t, "connect push"), "connect"), "subs"), "chat:r")
	epoch := sub["epoch"].(string)
	streamtest.Publish(t, e.node, "chat:r", `{"n":1}`)
	s.next(t, "first publication")
	s.resp.Body.Close() // cut
	for n := 2; n <= 4; n++ {
		streamtest.Publish(t, e.node, "chat:r", `{"n":`+string(rune('0'+n))+`}`)
	}
	req := `{"subs":{"chat:r":{"recover":true,"offset":1,"epoch":"` + epoch + `"}}}`
	s = e.do(t, http.MethodGet, uniSSE+"?cf_connect="+url.QueryEscape(req), "", nil)
	sub = field(t, field(t, field(t, s.next(t, "connect push"), "connect"), "subs"), "chat:r")
	if sub["recovered"] != true {
		t.Fatalf("not recovered: %v", sub)
	}
	var got []float64
	if pubs, ok := sub["publications"].([]any); ok {
		for _, p := range pubs {
			got = append(got, p.(map[string]any)["data"].(map[string]any)["n"].(float64))
		}
	}
	for len(got) < 3 {
		m := s.next(t, "recovered publication")
		got = append(got, field(t, field(t, m, "pub"), "data")["n"].(float64))
	}
	if got[0] != 2 || got[1] != 3 || got[2] != 4 {
		t.Fatalf("recovered %v, want [2 3 4]", got)
	}
}

func TestUniBadRequests(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{MaxRequestBodySize: 64}, uni.WebSocketConfig{})
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPost, uniStream, `not json`, http.StatusBadRequest},
		{http.MethodPost, uniStream, `{"token":1}`, http.StatusBadRequest},
		{http.MethodGet, uniSSE + "?cf_connect=" + url.QueryEscape(`{"subs":[`), "", http.StatusBadRequest},
		{http.MethodPost, uniStream, `{"name":"` + strings.Repeat("x", 100) + `"}`, http.StatusRequestEntityTooLarge},
		{http.MethodPost, uniSSE, `{"name":"` + strings.Repeat("x", 100) + `"}`, http.StatusRequestEntityTooLarge},
		{http.MethodGet, uniStream, "", http.StatusMethodNotAllowed},
		{http.MethodOptions, uniStream, "", http.StatusNoContent},
	} {
		s := e.do(t, tc.method, tc.path, tc.body, nil)
		if s.resp.StatusCode != tc.want {
			t.Errorf("%s %s %q: %d, want %d", tc.method, tc.path, tc.body, s.resp.StatusCode, tc.want)
		}
	}
}

func TestUniConnectErrors(t *testing.T) {
	e := newEnv(t, func(c *config.Client) { c.AllowAnonymousConnectWithoutToken = false }, uni.HTTPConfig{}, uni.WebSocketConfig{})
	for _, tc := range []struct {
		name, body string
		code       float64
	}{
		{"bad token", `{"token":"` + streamtest.BadToken(t, "u") + `"}`, 3500},
		{"no credentials", `{}`, 3501},
	} {
		s := e.do(t, http.MethodPost, uniStream, tc.body, nil)
		if s.resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", tc.name, s.resp.StatusCode)
		}
		if d := field(t, s.next(t, "disconnect"), "disconnect"); d["code"] != tc.code {
			t.Fatalf("%s: disconnect %v, want %v", tc.name, d, tc.code)
		}
		if !streamtest.Ended(s.lines) {
			t.Fatalf("%s: stream did not end", tc.name)
		}
	}
}

func TestUniConnectCodeToHTTPResponse(t *testing.T) {
	e := newEnv(t, nil, uni.HTTPConfig{ConnectCodeToHTTPResponse: []uni.HTTPResponseTransform{
		{Code: 3500, StatusCode: http.StatusUnauthorized, Body: "bad token"},
	}}, uni.WebSocketConfig{})
	s := e.do(t, http.MethodGet, uniSSE+"?cf_connect="+url.QueryEscape(`{"token":"`+streamtest.BadToken(t, "u")+`"}`), "", nil)
	if s.resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", s.resp.StatusCode)
	}
	if body := streamtest.Next(t, s.lines, "response body"); body != "bad token" {
		t.Fatalf("body %q, want the configured one", body)
	}
}

func TestUniPingsOriginAndShutdown(t *testing.T) {
	e := newEnv(t, func(c *config.Client) { c.PingInterval = 100 * time.Millisecond },
		uni.HTTPConfig{AllowedOrigins: []string{"http://ok.test"}}, uni.WebSocketConfig{})
	if s := e.do(t, http.MethodPost, uniStream, `{}`, map[string]string{"Origin": "http://bad.test"}); s.resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %d, want 403", s.resp.StatusCode)
	}
	s := e.do(t, http.MethodPost, uniStream, `{}`, map[string]string{"Origin": "http://ok.test"})
	if s.resp.Header.Get("Access-Control-Allow-Origin") != "http://ok.test" {
		t.Fatalf("no CORS header: %v", s.resp.Header)
	}
	c := field(t, s.next(t, "connect push"), "connect")
	if c["pong"] == true {
		t.Fatalf("uni connect must not ask for pongs: %v", c)
	}
	if m := s.next(t, "ping"); len(m) != 0 {
		t.Fatalf("want {} ping, got %v", m)
	}
	go func() { _ = e.node.Shutdown(t.Context()) }()
	d := streamtest.Until(t, s.lines, "shutdown disconnect", func(l string) bool { return strings.Contains(l, "disconnect") })
	if field(t, decode(t, d), "disconnect")["code"] != float64(3001) {
		t.Fatalf("disconnect %s, want 3001", d)
	}
	if !streamtest.Ended(s.lines) {
		t.Fatal("stream did not end on shutdown")
	}
}
