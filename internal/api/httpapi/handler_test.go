package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldrt/herald/internal/api"
	"github.com/heraldrt/herald/internal/api/apitest"
	"github.com/heraldrt/herald/internal/api/httpapi"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/valyala/fasthttp"
)

const testKey = "secret"

func newHandler(t testing.TB, cfg httpapi.Config) (*httpapi.Handler, *apitest.Engine) {
	t.Helper()
	eng := &apitest.Engine{}
	if cfg.Key == "" && !cfg.Insecure {
		cfg.Key = testKey
	}
	return httpapi.NewHandler(api.New(eng, api.Config{}), cfg, nil), eng
}

type header map[string]string

func do(h http.Handler, method, target, body string, hdr header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if _, ok := hdr["X-API-Key"]; !ok && hdr["Authorization"] == "" && !strings.Contains(target, "api_key") {
		r.Header.Set("X-API-Key", testKey)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if ah, ok := h.(*httpapi.Handler); ok {
		sameAnswer(ah, r, body, w)
	}
	return w
}

// sameAnswer serves the request r (with body) again through ServeFast and
// through ServeLane (on a real lane, laneAnswer) and panics unless each
// answer is the one ServeHTTP gave in w: every binding must answer byte
// for byte as the net/http one.
func sameAnswer(h *httpapi.Handler, r *http.Request, body string, w *httptest.ResponseRecorder) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(r.Method)
	ctx.Request.SetRequestURI(r.URL.RequestURI())
	for k, vs := range r.Header {
		for _, v := range vs {
			ctx.Request.Header.Add(k, v)
		}
	}
	ctx.Request.SetBodyString(body)
	h.ServeFast(&ctx)
	got := fmt.Sprintf("%d %q %q %q", ctx.Response.StatusCode(), ctx.Response.Header.ContentType(), ctx.Response.Header.Peek("Allow"), ctx.Response.Body())
	want := fmt.Sprintf("%d %q %q %q", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Allow"), w.Body.Bytes())
	if got != want {
		panic(fmt.Sprintf("%s %s: ServeFast answered %s, ServeHTTP %s", r.Method, r.URL, got, want))
	}
	if got, ok := laneAnswer(h, r, body); ok && got != want {
		panic(fmt.Sprintf("%s %s: ServeLane answered %s, ServeHTTP %s", r.Method, r.URL, got, want))
	}
}

func expect(t *testing.T, w *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d (body %q)", w.Code, status, w.Body.String())
	}
	if body != "" && w.Body.String() != body {
		t.Fatalf("body\n got  %s\n want %s", w.Body.String(), body)
	}
	if status == http.StatusOK {
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	}
}

// fullEngine answers every read method with some data.
func fullEngine(eng *apitest.Engine) {
	eng.PublishFunc = func(_ context.Context, ch string, _ []byte, _ engine.PublishOptions) (broker.PublishResult, error) {
		switch ch {
		case "nohistory":
			return broker.PublishResult{}, nil
		case "unknown":
			return broker.PublishResult{}, protocol.ErrUnknownChannel
		}
		return broker.PublishResult{Position: broker.StreamPosition{Offset: 17, Epoch: "xYzAbCdE"}}, nil
	}
	eng.PresenceFunc = func(context.Context, string) (map[string]*broker.ClientInfo, error) {
		return map[string]*broker.ClientInfo{
			"c1": {User: "42", Client: "c1", ConnInfo: []byte(`{"name":"Alice"}`), ChanInfo: []byte(`{"role":"admin"}`)},
			"c2": {User: "", Client: "c2"},
		}, nil
	}
	eng.PresenceStatsFunc = func(context.Context, string) (broker.PresenceStats, error) {
		return broker.PresenceStats{NumClients: 3, NumUsers: 2}, nil
	}
	eng.HistoryFunc = func(_ context.Context, _ string, f broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error) {
		pos := broker.StreamPosition{Offset: 9, Epoch: "ep"}
		if f.Limit == 0 {
			return nil, pos, nil
		}
		return []*broker.Publication{
			{Offset: 8, Data: []byte(`{"n":8}`), Tags: map[string]string{"k": "v"}},
			{Offset: 9, Data: []byte(`"s"`), Info: &broker.ClientInfo{User: "u", Client: "c", ConnInfo: []byte(`{}`)}},
		}, pos, nil
	}
	eng.ChannelsFunc = func(context.Context, string) (map[string]int, error) {
		return map[string]int{"news": 10}, nil
	}
	eng.InfoFunc = func(context.Context) ([]engine.NodeInfo, error) {
		return []engine.NodeInfo{{UID: "u-1", Name: "node1", Version: "0.1.0", NumClients: 5, NumUsers: 4, NumChannels: 3, Uptime: 60, NumSubs: 7}}, nil
	}
}

// TestMethodShapes checks the exact JSON of every per-method route.
func TestMethodShapes(t *testing.T) {
	h, eng := newHandler(t, httpapi.Config{})
	fullEngine(eng)
	for _, tc := range []struct{ path, body, want string }{
		{"/api/publish", `{"channel":"chat","data":{"text":"hi"}}`, `{"result":{"offset":17,"epoch":"xYzAbCdE"}}`},
		{"/api/publish", `{"channel":"nohistory","data":{"text":"hi"}}`, `{"result":{}}`},
		{"/api/publish", `{"channel":"chat","b64data":"aGk="}`, `{"result":{"offset":17,"epoch":"xYzAbCdE"}}`},
		{"/api/publish", `{"channel":"unknown","data":1}`, `{"error":{"code":102,"message":"unknown channel"}}`},
		{"/api/publish", `{"channel":"chat"}`, `{"error":{"code":107,"message":"bad request"}}`},
		{"/api/publish", `{"channel":"chat","b64data":"not base64"}`, `{"error":{"code":107,"message":"bad request"}}`},
		{"/api/broadcast", `{"channels":["a","unknown","","nohistory"],"data":1}`,
			`{"result":{"responses":[{"result":{"offset":17,"epoch":"xYzAbCdE"}},{"error":{"code":102,"message":"unknown channel"}},{"error":{"code":107,"message":"bad request"}},{"result":{}}]}}`},
		{"/api/broadcast", `{"channels":[],"data":1}`, `{"error":{"code":107,"message":"bad request"}}`},
		{"/api/subscribe", `{"channel":"c","user":"u","b64info":"AQI=","b64data":"AwQ="}`, `{"result":{}}`},
		{"/api/unsubscribe", `{"channel":"c","user":"u"}`, `{"result":{}}`},
		{"/api/disconnect", `{"user":"u"}`, `{"result":{}}`},
		{"/api/disconnect", `{}`, `{"error":{"code":107,"message":"bad request"}}`},
		{"/api/refresh", `{"user":"u","expired":true}`, `{"result":{}}`},
		{"/api/presence", `{"channel":"c"}`,
			`{"result":{"presence":{"c1":{"user":"42","client":"c1","conn_info":{"name":"Alice"},"chan_info":{"role":"admin"}},"c2":{"user":"","client":"c2"}}}}`},
		{"/api/presence_stats", `{"channel":"c"}`, `{"result":{"num_clients":3,"num_users":2}}`},
		{"/api/history", `{"channel":"c","limit":-1}`,
			`{"result":{"publications":[{"data":{"n":8},"offset":8,"tags":{"k":"v"}},{"data":"s","info":{"user":"u","client":"c","conn_info":{}},"offset":9}],"epoch":"ep","offset":9}}`},
		{"/api/history", `{"channel":"c"}`, `{"result":{"publications":[],"epoch":"ep","offset":9}}`},
		{"/api/history", `{"channel":"c","since":{"offset":0,"epoch":"ep"},"reverse":true}`, `{"error":{"code":107,"message":"bad request"}}`},
		{"/api/history_remove", `{"channel":"c"}`, `{"result":{}}`},
		{"/api/channels", `{"pattern":"n*"}`, `{"result":{"channels":{"news":{"num_clients":10}}}}`},
		{"/api/info", `{}`, `{"result":{"nodes":[{"uid":"u-1","name":"node1","version":"0.1.0","num_clients":5,"num_users":4,"num_channels":3,"uptime":60,"num_subs":7}]}}`},
		{"/api/info", ``, `{"result":{"nodes":[{"uid":"u-1","name":"node1","version":"0.1.0","num_clients":5,"num_users":4,"num_channels":3,"uptime":60,"num_subs":7}]}}`},
		{"/api/rpc", `{"method":"getUserStatus","params":{"users":["1"]}}`, `{"error":{"code":104,"message":"not found"}}`},
		{"/api/batch", `{"commands":[{"publish":{"channel":"a","data":1}},{"presence_stats":{"channel":"c"}},{"nope":{}}]}`,
			`{"result":{"replies":[{"publish":{"offset":17,"epoch":"xYzAbCdE"}},{"presence_stats":{"num_clients":3,"num_users":2}},{"error":{"code":104,"message":"not found"}}]}}`},
		{"/api/batch", `{"parallel":true,"commands":[{"history":{"channel":"c"}},{"broadcast":{"channels":["a"],"data":1}},{"disconnect":{}}]}`,
			`{"result":{"replies":[{"history":{"publications":[],"epoch":"ep","offset":9}},{"broadcast":{"responses":[{"result":{"offset":17,"epoch":"xYzAbCdE"}}]}},{"error":{"code":107,"message":"bad request"}}]}}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			expect(t, do(h, http.MethodPost, tc.path, tc.body, nil), http.StatusOK, tc.want)
		})
	}
	// Payloads reached the engine decoded.
	var sawB64 bool
	for _, c := range eng.Calls() {
		if c.Method == "Subscribe" && string(c.Subscribe.ChanInfo) == "\x01\x02" && string(c.Subscribe.Data) == "\x03\x04" {
			sawB64 = true
		}
	}
	if !sawB64 {
		t.Fatal("subscribe b64info/b64data not decoded")
	}
}

func TestErrorModes(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		body   string
	}{
		{errors.New("redis down"), 500, `{"code":100,"message":"internal server error"}`},
		{protocol.ErrUnknownChannel, 404, `{"code":102,"message":"unknown channel"}`},
		{protocol.ErrBadRequest, 400, `{"code":107,"message":"bad request"}`},
		{protocol.ErrNotAvailable, 400, `{"code":108,"message":"not available"}`},
		{protocol.ErrUnrecoverablePosition, 416, `{"code":112,"message":"unrecoverable position"}`},
		{&protocol.Error{Code: 113, Message: "conflict"}, 409, `{"code":113,"message":"conflict"}`},
		{protocol.ErrPermissionDenied, 500, `{"code":103,"message":"permission denied"}`},
	} {
		hook := func(context.Context, string, broker.HistoryFilter) ([]*broker.Publication, broker.StreamPosition, error) {
			return nil, broker.StreamPosition{}, tc.err
		}
		body := `{"channel":"c"}`
		// Custom mode.
		h, eng := newHandler(t, httpapi.Config{})
		eng.HistoryFunc = hook
		expect(t, do(h, http.MethodPost, "/api/history", body, nil), 200, `{"error":`+tc.body+`}`)
		// Transport mode by request header (both spellings).
		expect(t, do(h, http.MethodPost, "/api/history", body, header{"X-Centrifugo-Error-Mode": "transport"}), tc.status, tc.body)
		expect(t, do(h, http.MethodPost, "/api/history", body, header{"X-Herald-Error-Mode": "Transport"}), tc.status, tc.body)
		// Transport mode by config.
		h, eng = newHandler(t, httpapi.Config{ErrorMode: "transport"})
		eng.HistoryFunc = hook
		w := do(h, http.MethodPost, "/api/history", body, nil)
		expect(t, w, tc.status, tc.body)
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("transport error Content-Type %q", ct)
		}
	}
	// Method not found in transport mode is 404; success is unchanged.
	h, _ := newHandler(t, httpapi.Config{ErrorMode: "transport"})
	expect(t, do(h, http.MethodPost, "/api/rpc", `{"method":"x"}`, nil), 404, `{"code":104,"message":"not found"}`)
	expect(t, do(h, http.MethodPost, "/api/publish", `{"channel":"c","data":1}`, nil), 200, `{"result":{}}`)
	expect(t, do(h, http.MethodPost, "/api/publish", `{"channel":"c"}`, nil), 400, `{"code":107,"message":"bad request"}`)
}

func TestAuth(t *testing.T) {
	h, _ := newHandler(t, httpapi.Config{Key: testKey})
	body := `{"channel":"c","data":1}`
	for _, tc := range []struct {
		name   string
		target string
		hdr    header
		status int
	}{
		{"x-api-key", "/api/publish", header{"X-API-Key": testKey}, 200},
		{"x-api-key wrong", "/api/publish", header{"X-API-Key": "secreT"}, 401},
		{"x-api-key prefix", "/api/publish", header{"X-API-Key": "secre"}, 401},
		{"authorization", "/api/publish", header{"Authorization": "apikey " + testKey}, 200},
		{"authorization case", "/api/publish", header{"Authorization": "ApiKey " + testKey}, 200},
		{"authorization wrong", "/api/publish", header{"Authorization": "apikey nope"}, 401},
		{"authorization bearer", "/api/publish", header{"Authorization": "Bearer " + testKey}, 401},
		{"query", "/api/publish?api_key=" + testKey, nil, 200},
		{"query wrong", "/api/publish?api_key=x", nil, 401},
		{"missing", "/api/publish", header{"X-API-Key": ""}, 401},
		{"legacy", "/api?api_key=" + testKey, nil, 200},
		{"legacy missing", "/api", header{"X-API-Key": ""}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := body
			if strings.HasPrefix(tc.target, "/api?") || tc.target == "/api" {
				b = `{"method":"publish","params":` + body + `}`
			}
			expect(t, do(h, http.MethodPost, tc.target, b, tc.hdr), tc.status, "")
		})
	}
	// No key configured and not insecure: everything is 401, even an empty key.
	noKey := httpapi.NewHandler(api.New(&apitest.Engine{}, api.Config{}), httpapi.Config{}, nil)
	expect(t, do(noKey, http.MethodPost, "/api/publish", body, header{"X-API-Key": ""}), 401, "")
	expect(t, do(noKey, http.MethodPost, "/api/publish?api_key=", body, header{"X-API-Key": ""}), 401, "")
	// Insecure: no auth at all.
	insecure, _ := newHandler(t, httpapi.Config{Insecure: true})
	expect(t, do(insecure, http.MethodPost, "/api/publish", body, header{"X-API-Key": ""}), 200, `{"result":{}}`)
}

func TestLegacyRoute(t *testing.T) {
	h, eng := newHandler(t, httpapi.Config{})
	fullEngine(eng)
	body := `{"method":"publish","params":{"channel":"a","data":{"x":1}}}
{"method":"PRESENCE_STATS","params":{"channel":"c"}}
{"method":5,"params":{"channel":"c"}}

{"method":"nope","params":{}}
{"method":99,"params":{}}
{"method":"publish","params":{"channel":7}}
{"id":3,"method":"history","params":{"channel":"c","limit":0}}
{"params":{"channel":"nohistory","data":1}}
{"method":"info"}
{"method":8,"params":null}
{"method":"batch","params":{"commands":[{"publish":{"channel":"a","data":1}}]}}
{"method":"rpc","params":{"method":"x"}}
  {"method":  "subscribe",
   "params": {"channel": "c", "user": "u"}}`
	want := `{"result":{"offset":17,"epoch":"xYzAbCdE"}}
{"result":{"num_clients":3,"num_users":2}}
{"result":{"num_clients":3,"num_users":2}}
{"error":{"code":104,"message":"not found"}}
{"error":{"code":104,"message":"not found"}}
{"error":{"code":107,"message":"bad request"}}
{"id":3,"result":{"publications":[],"epoch":"ep","offset":9}}
{"result":{}}
{"result":{"nodes":[{"uid":"u-1","name":"node1","version":"0.1.0","num_clients":5,"num_users":4,"num_channels":3,"uptime":60,"num_subs":7}]}}
{"result":{"channels":{"news":{"num_clients":10}}}}
{"result":{"replies":[{"publish":{"offset":17,"epoch":"xYzAbCdE"}}]}}
{"error":{"code":104,"message":"not found"}}
{"result":{}}`
	expect(t, do(h, http.MethodPost, "/api", body, nil), 200, want)
	// Legacy errors are always in custom mode.
	expect(t, do(h, http.MethodPost, "/api", `{"method":"publish","params":{"channel":"unknown","data":1}}`,
		header{"X-Centrifugo-Error-Mode": "transport"}), 200, `{"error":{"code":102,"message":"unknown channel"}}`)
	// Malformed bodies run nothing.
	eng.Reset()
	for _, b := range []string{
		``, ` `, `{"method":"publish","params":{"channel":"a","data":1}}` + "\n{", `[1,2]`, `{"method":"info"} x`,
		`{"method":"info","id":-1}`, `"publish"`,
	} {
		expect(t, do(h, http.MethodPost, "/api", b, nil), 400, "")
	}
	if n := len(eng.Calls()); n != 0 {
		t.Fatalf("malformed legacy bodies made %d engine calls", n)
	}
}

func TestRouting(t *testing.T) {
	h, _ := newHandler(t, httpapi.Config{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodHead} {
		for _, p := range []string{"/api", "/api/publish", "/api/info"} {
			w := do(h, m, p, "", nil)
			expect(t, w, http.StatusMethodNotAllowed, "")
			if a := w.Header().Get("Allow"); a != http.MethodPost {
				t.Fatalf("Allow %q", a)
			}
		}
	}
	for _, p := range []string{"/api/unknown", "/api/PUBLISH", "/api/0", "/api/", "/apipublish", "/", "/other/publish", "/api/publish/x", "/api/map_publish", "/api/connections"} {
		expect(t, do(h, http.MethodPost, p, `{}`, nil), http.StatusNotFound, "")
	}
	// Custom prefix, trailing slash ignored.
	h2, _ := newHandler(t, httpapi.Config{Prefix: "/internal/api/"})
	expect(t, do(h2, http.MethodPost, "/internal/api/info", `{}`, nil), 200, `{"result":{"nodes":[]}}`)
	expect(t, do(h2, http.MethodPost, "/internal/api", `{"method":"info"}`, nil), 200, `{"result":{"nodes":[]}}`)
	expect(t, do(h2, http.MethodPost, "/api/info", `{}`, nil), 404, "")
	// Root prefix.
	h3, _ := newHandler(t, httpapi.Config{Prefix: "/"})
	expect(t, do(h3, http.MethodPost, "/info", `{}`, nil), 200, `{"result":{"nodes":[]}}`)
	expect(t, do(h3, http.MethodPost, "/", `{"method":"info"}`, nil), 200, `{"result":{"nodes":[]}}`)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestBodies(t *testing.T) {
	h, eng := newHandler(t, httpapi.Config{MaxBodySize: 64})
	big := `{"channel":"c","data":"` + strings.Repeat("x", 100) + `"}`
	expect(t, do(h, http.MethodPost, "/api/publish", big, nil), http.StatusRequestEntityTooLarge, "")
	// Unknown length (chunked).
	r := httptest.NewRequest(http.MethodPost, "/api/publish", io.MultiReader(strings.NewReader(big)))
	r.ContentLength = -1
	r.Header.Set("X-API-Key", testKey)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	expect(t, w, http.StatusRequestEntityTooLarge, "")
	// Just within the limit.
	ok := `{"channel":"c","data":"` + strings.Repeat("x", 64-25) + `"}`
	if len(ok) != 64 {
		t.Fatalf("len %d", len(ok))
	}
	expect(t, do(h, http.MethodPost, "/api/publish", ok, nil), 200, `{"result":{}}`)
	// Body read error.
	r = httptest.NewRequest(http.MethodPost, "/api/publish", errReader{})
	r.Header.Set("X-API-Key", testKey)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	expect(t, w, http.StatusInternalServerError, "")
	// Garbage bodies are 400 on every route and reach no engine method.
	eng.Reset()
	typeMismatch := map[string]string{
		"publish": `{"channel":["x"]}`, "broadcast": `{"channels":"x"}`, "subscribe": `{"override":{"presence":true}}`,
		"history": `{"limit":"1"}`, "batch": `{"commands":5}`, "info": `[1]`,
	}
	for p, mismatch := range typeMismatch {
		for _, b := range []string{`{`, `nope`, `{"channel":"c"}}`, "\x00\x01", `[`, `{"channel":"c",}`, mismatch} {
			expect(t, do(h, http.MethodPost, "/api/"+p, b, nil), http.StatusBadRequest, "")
		}
	}
	if n := len(eng.Calls()); n != 0 {
		t.Fatalf("garbage made %d engine calls", n)
	}
	// Unlimited.
	h4, _ := newHandler(t, httpapi.Config{MaxBodySize: -1})
	expect(t, do(h4, http.MethodPost, "/api/publish", big, nil), 200, `{"result":{}}`)
}

func TestShuttingDown(t *testing.T) {
	h, eng := newHandler(t, httpapi.Config{})
	expect(t, do(h, http.MethodPost, "/api/info", `{}`, nil), 200, "")
	h.SetShuttingDown()
	h.SetShuttingDown()
	expect(t, do(h, http.MethodPost, "/api/info", `{}`, nil), http.StatusServiceUnavailable, "")
	expect(t, do(h, http.MethodPost, "/api", `{"method":"info"}`, nil), http.StatusServiceUnavailable, "")
	want := 2 // one through ServeHTTP, one through ServeFast
	if lane.addr != "" {
		want++ // and one through ServeLane
	}
	if n := len(eng.Calls()); n != want {
		t.Fatalf("%d engine calls, want %d", n, want)
	}
}
