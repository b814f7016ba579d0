package httpstream_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
)

func TestSSEConnectSubscribeReceive(t *testing.T) {
	forEachStreamMode(t, testSSEConnectSubscribeReceive)
}

func testSSEConnectSubscribeReceive(t *testing.T, cfg httpstream.Config) {
	e := newEnv(t, nil, cfg)
	q := url.QueryEscape(`{"id":1,"connect":{}}`)
	s := e.open(t, http.MethodGet, "/connection/sse?cf_connect="+q, "", "", nil)
	if ct := s.resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	line := streamtest.Next(t, s.lines, "connect event")
	if !strings.HasPrefix(line, "data: ") {
		t.Fatalf("not an SSE data line: %q", line)
	}
	res := connectResult(t, decode(t, strings.TrimPrefix(line, "data: ")))
	session := res["session"].(string)
	if st := e.emulate(t, e.node.ID(), session, `{"id":2,"subscribe":{"channel":"chat:sse"}}`); st != http.StatusNoContent {
		t.Fatalf("emulation status %d", st)
	}
	s.next(t, "subscribe reply")
	// Line breaks inside the payload are split over data lines, and the
	// event still carries the JSON.
	streamtest.Publish(t, e.node, "chat:sse", "{\n\"text\": \"multi\"\n}")
	var event []string
	for {
		l := streamtest.Next(t, s.lines, "publication event")
		event = append(event, strings.TrimPrefix(l, "data: "))
		if strings.HasSuffix(l, "}}}") {
			break
		}
	}
	m := decode(t, strings.Join(event, "\n"))
	if m["push"].(map[string]any)["pub"].(map[string]any)["data"].(map[string]any)["text"] != "multi" {
		t.Fatalf("publication: %v", m)
	}
}

func TestSSEPostAndMissingConnect(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{})
	resp, err := e.srv.Client().Get(e.srv.URL + "/connection/sse")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("missing cf_connect: %d, want 400", resp.StatusCode)
	}
	s := e.open(t, http.MethodPost, "/connection/sse", "", `{"id":1,"connect":{}}`, nil)
	connectResult(t, s.next(t, "connect reply"))
	q := url.QueryEscape(`{"id":1,"connect":{"token":"` + streamtest.BadToken(t, "u") + `"}}`)
	s = e.open(t, http.MethodGet, "/connection/sse?cf_connect="+q, "", "", nil)
	if code := disconnectCode(s.next(t, "disconnect")); code != 3500 {
		t.Fatalf("disconnect %v, want 3500", code)
	}
}

func TestSSEClientGoneEndsSession(t *testing.T) { forEachStreamMode(t, testSSEClientGoneEndsSession) }

func testSSEClientGoneEndsSession(t *testing.T, cfg httpstream.Config) {
	e := newEnv(t, nil, cfg)
	s := e.open(t, http.MethodPost, "/connection/sse", "", `{"id":1,"connect":{}}`, nil)
	session := connectResult(t, s.next(t, "connect reply"))["session"].(string)
	s.resp.Body.Close()
	streamtest.Eventually(t, "session gone after the client went away", func() bool {
		return e.emulate(t, "", session, `{}`) == http.StatusNotFound
	})
}
