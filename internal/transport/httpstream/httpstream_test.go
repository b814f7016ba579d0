package httpstream_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
)

func TestHTTPStreamConnectSubscribeReceive(t *testing.T) {
	forEachStreamMode(t, testHTTPStreamConnectSubscribeReceive)
}

func testHTTPStreamConnectSubscribeReceive(t *testing.T, cfg httpstream.Config) {
	e := newEnv(t, nil, cfg)
	s := e.open(t, http.MethodPost, "/connection/http_stream", "application/json", `{"id":1,"connect":{"name":"test"}}`, nil)
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", s.resp.StatusCode)
	}
	for k, want := range map[string]string{
		"Cache-Control":     "private, no-cache, no-store, must-revalidate, max-age=0",
		"X-Accel-Buffering": "no",
		"Pragma":            "no-cache",
	} {
		if got := s.resp.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	res := connectResult(t, s.next(t, "connect reply"))
	session, _ := res["session"].(string)
	if session == "" || res["node"] != e.node.ID() {
		t.Fatalf("connect result lacks session/node: %v", res)
	}
	if st := e.emulate(t, e.node.ID(), session, `{"id":2,"subscribe":{"channel":"chat:a"}}`); st != http.StatusNoContent {
		t.Fatalf("emulation status %d, want 204", st)
	}
	if r := s.next(t, "subscribe reply"); r["id"] != float64(2) || r["subscribe"] == nil {
		t.Fatalf("subscribe reply: %v", r)
	}
	streamtest.Publish(t, e.node, "chat:a", `{"text":"hi"}`)
	push := s.next(t, "publication")["push"].(map[string]any)
	if push["channel"] != "chat:a" || push["pub"].(map[string]any)["data"].(map[string]any)["text"] != "hi" {
		t.Fatalf("publication push: %v", push)
	}
	// Client publish through /emulation reaches the stream too.
	if st := e.emulate(t, "", session, `{"id":3,"publish":{"channel":"chat:a","data":{"text":"me"}}}`); st != http.StatusNoContent {
		t.Fatalf("emulation status %d", st)
	}
	got := map[string]bool{}
	for range 2 {
		m := s.next(t, "publish reply and push")
		got[strings.Join(keys(m), ",")] = true
	}
	if !got["id,publish"] || !got["push"] {
		t.Fatalf("want publish reply and publication push, got %v", got)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for _, k := range []string{"id", "publish", "push"} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

func TestHTTPStreamBadToken(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{})
	s := e.open(t, http.MethodPost, "/connection/http_stream", "", `{"id":1,"connect":{"token":"`+streamtest.BadToken(t, "u")+`"}}`, nil)
	if code := disconnectCode(s.next(t, "disconnect")); code != 3500 {
		t.Fatalf("disconnect code %v, want 3500", code)
	}
	if !streamtest.Ended(s.lines) {
		t.Fatal("stream did not end after the disconnect")
	}
}

func TestHTTPStreamCommandBeforeConnect(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{})
	s := e.open(t, http.MethodPost, "/connection/http_stream", "", `{"id":1,"subscribe":{"channel":"chat:a"}}`, nil)
	if code := disconnectCode(s.next(t, "disconnect")); code != 3501 {
		t.Fatalf("disconnect code %v, want 3501", code)
	}
	s = e.open(t, http.MethodPost, "/connection/http_stream", "", `garbage`, nil)
	if code := disconnectCode(s.next(t, "disconnect")); code != 3501 {
		t.Fatalf("garbage frame: disconnect code %v, want 3501", code)
	}
}

func TestHTTPStreamLimitsAndMethods(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{MaxRequestBodySize: 100})
	big := `{"id":1,"connect":{"name":"` + strings.Repeat("x", 200) + `"}}`
	if st := e.post(t, "/connection/http_stream", "", big); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d, want 413", st)
	}
	if st := e.post(t, "/emulation", "", big); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized emulation body: %d, want 413", st)
	}
	resp, err := e.srv.Client().Get(e.srv.URL + "/connection/http_stream")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d, want 405", resp.StatusCode)
	}
}

func TestEmulationErrors(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{})
	if st := e.emulate(t, "n", "no-such-session", `{"id":1,"subscribe":{"channel":"a"}}`); st != http.StatusNotFound {
		t.Fatalf("unknown session: %d, want 404", st)
	}
	if st := e.emulate(t, "other-node", "s", `{}`); st != http.StatusNotFound {
		t.Fatalf("unknown node: %d, want 404", st)
	}
	for _, body := range []string{`not json`, `{"session":""}`, ``} {
		if st := e.post(t, "/emulation", "", body); st != http.StatusBadRequest {
			t.Fatalf("body %q: %d, want 400", body, st)
		}
	}
}

func TestHTTPStreamShutdown(t *testing.T) { forEachStreamMode(t, testHTTPStreamShutdown) }

func testHTTPStreamShutdown(t *testing.T, cfg httpstream.Config) {
	e := newEnv(t, nil, cfg)
	s := e.open(t, http.MethodPost, "/connection/http_stream", "", `{"id":1,"connect":{}}`, nil)
	connectResult(t, s.next(t, "connect reply"))
	go func() { _ = e.node.Shutdown(t.Context()) }()
	if code := disconnectCode(s.next(t, "shutdown disconnect")); code != 3001 {
		t.Fatalf("disconnect code %v, want 3001", code)
	}
	if !streamtest.Ended(s.lines) {
		t.Fatal("stream did not end on shutdown")
	}
}
