package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/centrifugal/centrifuge-go"
)

var apiKeyHeader = http.Header{"X-API-Key": {testAPIKey}}

// TestAPIErrors checks the HTTP statuses and error bodies of the server API
// (COMPAT.md §2.6, §4.1).
func TestAPIErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	publishBody := []byte(`{"channel":"plain","data":{"x":1}}`)

	statusCases := []struct {
		name   string
		path   string
		body   []byte
		header http.Header
		want   int
	}{
		{"unknown method", "/api/nope", publishBody, apiKeyHeader, http.StatusNotFound},
		{"uppercase method", "/api/PUBLISH", publishBody, apiKeyHeader, http.StatusNotFound},
		{"bad JSON", "/api/publish", []byte(`{"channel":`), apiKeyHeader, http.StatusBadRequest},
		{"bad JSON legacy", "/api", []byte(`{"method":`), apiKeyHeader, http.StatusBadRequest},
		{"missing key", "/api/publish", publishBody, nil, http.StatusUnauthorized},
		{"wrong key", "/api/publish", publishBody, http.Header{"X-API-Key": {"wrong"}}, http.StatusUnauthorized},
		{"wrong authorization", "/api/publish", publishBody, http.Header{"Authorization": {"apikey wrong"}}, http.StatusUnauthorized},
		{"authorization header", "/api/publish", publishBody, http.Header{"Authorization": {"apikey " + testAPIKey}}, http.StatusOK},
		{"query key", "/api/publish?api_key=" + testAPIKey, publishBody, nil, http.StatusOK},
	}
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.apiRaw(t, tc.path, tc.body, tc.header)
			if r.Status != tc.want {
				t.Fatalf("POST %s: HTTP %d (%s), want %d", tc.path, r.Status, bytes.TrimSpace(r.Body), tc.want)
			}
		})
	}

	t.Run("GET", func(t *testing.T) {
		if code := httpGet(t, s.URL("/api/publish?api_key="+testAPIKey)); code != http.StatusMethodNotAllowed {
			t.Fatalf("GET /api/publish: HTTP %d, want 405", code)
		}
	})

	errorCases := []struct {
		name   string
		method string
		params string
		code   int
		msg    string
	}{
		{"unknown namespace", "publish", `{"channel":"nope:x","data":{}}`, 102, "unknown channel"},
		{"empty channel", "publish", `{"channel":"","data":{}}`, 107, "bad request"},
		{"presence off", "presence", `{"channel":"ro:x"}`, 108, "not available"},
		{"history off", "history", `{"channel":"ro:x"}`, 108, "not available"},
		{"presence unknown namespace", "presence_stats", `{"channel":"nope:x"}`, 102, "unknown channel"},
		{"rpc without extensions", "rpc", `{"method":"anything","params":{}}`, 104, "not found"},
		{"history wrong epoch", "history", `{"channel":"chat:ep","limit":-1,"since":{"offset":0,"epoch":"wrong-epoch"}}`, 112, "unrecoverable position"},
	}
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.apiRaw(t, "/api/"+tc.method, []byte(tc.params), apiKeyHeader)
			want := fmt.Sprintf(`{"error":{"code":%d,"message":%q}}`, tc.code, tc.msg)
			if r.Status != http.StatusOK || string(bytes.TrimSpace(r.Body)) != want {
				t.Fatalf("%s %s: HTTP %d %s, want HTTP 200 %s", tc.method, tc.params, r.Status, bytes.TrimSpace(r.Body), want)
			}
		})
	}

	t.Run("transport error mode", func(t *testing.T) {
		h := http.Header{"X-API-Key": {testAPIKey}, "X-Centrifugo-Error-Mode": {"transport"}}
		r := s.apiRaw(t, "/api/publish", []byte(`{"channel":"nope:x","data":{}}`), h)
		if want := `{"code":102,"message":"unknown channel"}`; r.Status != http.StatusNotFound || string(bytes.TrimSpace(r.Body)) != want {
			t.Fatalf("transport mode: HTTP %d %s, want 404 %s", r.Status, bytes.TrimSpace(r.Body), want)
		}
		r = s.apiRaw(t, "/api/history", []byte(`{"channel":"ro:x"}`), h)
		if r.Status != http.StatusBadRequest {
			t.Fatalf("transport mode 108: HTTP %d %s, want 400", r.Status, bytes.TrimSpace(r.Body))
		}
	})
}

// TestAPIMethods checks results of the server API methods against a live
// subscriber.
func TestAPIMethods(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c, cev := connectSDK(t, s, sdkProtocols[0], "u1")
	sub, _ := subscribe(t, c, "chat:api", centrifuge.SubscriptionConfig{})
	plain, _ := subscribe(t, c, "plain", centrifuge.SubscriptionConfig{})

	t.Run("publish result", func(t *testing.T) {
		r := s.api(t, "publish", map[string]any{"channel": "chat:api", "data": map[string]any{"n": 1}})
		m := r.JSON(t)
		res, _ := m["result"].(map[string]any)
		if r.Status != http.StatusOK || res == nil || res["offset"] != float64(1) || res["epoch"] == "" {
			t.Fatalf("publish into history channel: HTTP %d %s, want result with offset 1 and epoch", r.Status, r.Body)
		}
		sub.expectPub(t, `{"n":1}`)
		r = s.api(t, "publish", map[string]any{"channel": "plain", "data": "x"})
		if got := string(bytes.TrimSpace(r.Body)); got != `{"result":{}}` {
			t.Fatalf("publish without history: %s, want {\"result\":{}}", got)
		}
		plain.expectPub(t, `"x"`)
	})

	t.Run("b64data", func(t *testing.T) {
		// {"b":64} base64-encoded.
		s.apiResult(t, "publish", map[string]any{"channel": "plain", "b64data": "eyJiIjo2NH0="})
		plain.expectPub(t, `{"b":64}`)
	})

	t.Run("legacy route", func(t *testing.T) {
		body := `{"method":"publish","params":{"channel":"chat:api","data":{"legacy":1}}}` + "\n" +
			`{"method":"presence_stats","params":{"channel":"chat:api"}}` + "\n" +
			`{"method":"publish","params":{"channel":"nope:x","data":{}}}`
		r := s.apiRaw(t, "/api", []byte(body), apiKeyHeader)
		if r.Status != http.StatusOK {
			t.Fatalf("legacy route: HTTP %d %s", r.Status, r.Body)
		}
		lines := strings.Split(strings.TrimSpace(string(r.Body)), "\n")
		if len(lines) != 3 {
			t.Fatalf("legacy route: %d reply lines, want 3: %s", len(lines), r.Body)
		}
		if !strings.Contains(lines[0], `"result":{"offset":2`) {
			t.Errorf("legacy publish reply = %s, want a result with offset 2", lines[0])
		}
		if !strings.Contains(lines[1], `"num_clients":1`) || !strings.Contains(lines[1], `"num_users":1`) {
			t.Errorf("legacy presence_stats reply = %s, want 1 client 1 user", lines[1])
		}
		if want := `{"error":{"code":102,"message":"unknown channel"}}`; lines[2] != want {
			t.Errorf("legacy error reply = %s, want %s", lines[2], want)
		}
		sub.expectPub(t, `{"legacy":1}`)
	})

	t.Run("broadcast", func(t *testing.T) {
		res := s.apiResult(t, "broadcast", map[string]any{"channels": []string{"chat:api", "plain", "nope:x"}, "data": map[string]any{"all": true}})
		resps, _ := res["responses"].([]any)
		if len(resps) != 3 {
			t.Fatalf("broadcast responses = %v, want 3", res)
		}
		if r0, _ := resps[0].(map[string]any); r0["result"] == nil {
			t.Errorf("broadcast response 0 = %v, want a result", resps[0])
		}
		if r2, _ := resps[2].(map[string]any); r2["error"] == nil {
			t.Errorf("broadcast response 2 (unknown namespace) = %v, want an error", resps[2])
		}
		sub.expectPub(t, `{"all":true}`)
		plain.expectPub(t, `{"all":true}`)
	})

	t.Run("batch", func(t *testing.T) {
		res := s.apiResult(t, "batch", map[string]any{"commands": []any{
			map[string]any{"publish": map[string]any{"channel": "plain", "data": 1}},
			map[string]any{"presence_stats": map[string]any{"channel": "chat:api"}},
			map[string]any{},
		}})
		replies, _ := res["replies"].([]any)
		if len(replies) != 3 {
			t.Fatalf("batch replies = %v, want 3", res)
		}
		if r1, _ := replies[1].(map[string]any); r1["presence_stats"] == nil {
			t.Errorf("batch reply 1 = %v, want presence_stats", replies[1])
		}
		if r2, _ := replies[2].(map[string]any); r2["error"] == nil {
			t.Errorf("batch reply 2 (empty command) = %v, want error 104", replies[2])
		}
		plain.expectPub(t, `1`)
	})

	t.Run("presence", func(t *testing.T) {
		res := s.apiResult(t, "presence", map[string]any{"channel": "chat:api"})
		want := fmt.Sprintf(`{"presence":{%q:{"client":%q,"user":"u1"}}}`, cev.ClientID, cev.ClientID)
		if got := jsonOf(t, res); got != want {
			t.Fatalf("presence = %s, want %s", got, want)
		}
	})

	t.Run("history", func(t *testing.T) {
		res := s.apiResult(t, "history", map[string]any{"channel": "chat:api", "limit": -1})
		pubs, _ := res["publications"].([]any)
		if len(pubs) != 3 || res["offset"] != float64(3) || res["epoch"] == "" {
			t.Fatalf("history = %s, want 3 publications, offset 3", jsonOf(t, res))
		}
		s.apiResult(t, "history_remove", map[string]any{"channel": "chat:api"})
		res = s.apiResult(t, "history", map[string]any{"channel": "chat:api", "limit": -1})
		if pubs, _ := res["publications"].([]any); len(pubs) != 0 || res["offset"] != float64(3) {
			t.Fatalf("history after history_remove = %s, want no publications and offset 3", jsonOf(t, res))
		}
	})

	t.Run("info and channels", func(t *testing.T) {
		res := s.apiResult(t, "info", map[string]any{})
		nodes, _ := res["nodes"].([]any)
		if len(nodes) != 1 {
			t.Fatalf("info nodes = %v, want 1", res)
		}
		n0, _ := nodes[0].(map[string]any)
		if n0["num_clients"] != float64(1) || n0["num_users"] != float64(1) || n0["num_channels"] != float64(2) {
			t.Errorf("info node = %v, want 1 client, 1 user, 2 channels", n0)
		}
		res = s.apiResult(t, "channels", map[string]any{"pattern": "chat:*"})
		want := `{"channels":{"chat:api":{"num_clients":1}}}`
		if got := jsonOf(t, res); got != want {
			t.Errorf("channels = %s, want %s", got, want)
		}
	})

	t.Run("disconnect whitelist", func(t *testing.T) {
		c2, ev2 := connectSDK(t, s, sdkProtocols[1], "u2")
		c3, _ := connectSDK(t, s, sdkProtocols[0], "u2")
		s.apiResult(t, "disconnect", map[string]any{"user": "u2", "whitelist": []string{ev2.ClientID}})
		ev := receive(t, c3.disconnected, waitTimeout, "disconnect of the non-whitelisted client")
		if ev.Code != 3503 {
			t.Errorf("disconnect code = %d, want 3503", ev.Code)
		}
		// The API call has returned, so the whitelisted client would be gone
		// by now: a round trip proves it is not.
		if _, err := c2.Publish(ctxTimeout(t), "pub:alive", []byte(`{}`)); err != nil {
			t.Fatalf("whitelisted client: publish after disconnect: %v", err)
		}
		if st := c2.State(); st != centrifuge.StateConnected {
			t.Fatalf("whitelisted client state = %s, want connected", st)
		}
	})
}
