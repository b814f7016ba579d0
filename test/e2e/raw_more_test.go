package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	pb "github.com/centrifugal/protocol"
	"github.com/golang-jwt/jwt/v5"
)

// TestRawPayloads checks that payloads survive both encodings byte for
// byte, that newlines inside JSON payloads do not break JSON framing, and
// that a binary payload closes a JSON client with 3506 (COMPAT.md §1.5).
func TestRawPayloads(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := connToken(t, "u1", jwt.MapClaims{"exp": nil})

	js := dialRaw(t, s)
	js.connectJSON(tok)
	js.sendText(`{"id":2,"subscribe":{"channel":"payload"}}`)
	if r := js.nextNonPingJSON(waitTimeout); r["subscribe"] == nil {
		t.Fatalf("subscribe reply = %v", r)
	}
	pbc := dialRaw(t, s, "centrifuge-protobuf")
	pbc.sendCommands(&pb.Command{Id: 1, Connect: &pb.ConnectRequest{Token: tok}})
	if r := pbc.nextReply(waitTimeout); r.Connect == nil {
		t.Fatalf("connect reply = %v", r)
	}
	pbc.sendCommands(&pb.Command{Id: 2, Subscribe: &pb.SubscribeRequest{Channel: "payload"}})
	if r := pbc.nextReply(waitTimeout); r.Subscribe == nil {
		t.Fatalf("subscribe reply = %v", r)
	}

	payloads := []string{
		`{"emoji":"😀","ls":"\u2028","quote":"\"","nested":{"a":[1,2,{"b":null}]}}`,
		`"` + strings.Repeat("x", 60000) + `"`,
		`12345678901234567890`,
		`{"multi":` + "\n" + `  "line",` + "\r\n" + `"x": 1}`,
	}
	for i, p := range payloads {
		body := fmt.Sprintf(`{"channel":"payload","data":%s}`, p)
		r := s.apiRaw(t, "/api/publish", []byte(body), apiKeyHeader)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), "error") {
			t.Fatalf("publish payload %d: HTTP %d %s", i, r.Status, r.Body)
		}
		m := js.next(waitTimeout) // the frame splitter would break on a raw newline
		var push struct {
			Push struct {
				Pub struct {
					Data json.RawMessage `json:"data"`
				} `json:"pub"`
			} `json:"push"`
		}
		if err := json.Unmarshal(m, &push); err != nil {
			t.Fatalf("payload %d: JSON client got an undecodable message (%v): %.200q", i, err, m)
		}
		if !jsonEqual(push.Push.Pub.Data, []byte(p)) {
			t.Errorf("payload %d: JSON client got %.200s, want %.200s", i, push.Push.Pub.Data, p)
		}
		rep := pbc.nextReply(waitTimeout)
		if rep.Push == nil || rep.Push.Pub == nil || !jsonEqual(rep.Push.Pub.Data, []byte(p)) {
			t.Errorf("payload %d: Protobuf client got %.200v", i, rep)
		}
	}

	// Binary data: fine for Protobuf, impossible for JSON (3506).
	bin := []byte{0xff, 0x00, 0x01, 0x80}
	s.apiResult(t, "publish", map[string]any{"channel": "payload", "b64data": base64.StdEncoding.EncodeToString(bin)})
	rep := pbc.nextReply(waitTimeout)
	if rep.Push == nil || rep.Push.Pub == nil || string(rep.Push.Pub.Data) != string(bin) {
		t.Errorf("binary payload: Protobuf client got %v, want data %x", rep, bin)
	}
	js.expectClose(3506, "inappropriate protocol", waitTimeout)
	checkHealthy(t, s)
}

// TestRawTokens checks token verification edge cases on connect
// (COMPAT.md §5.2, §5.4).
func TestRawTokens(t *testing.T) {
	t.Parallel()
	s := startServer(t, withClient(map[string]any{
		"token": map[string]any{"hmac_secret_key": testSecret, "audience": "herald-e2e", "issuer": "e2e-issuer"},
	}))
	base := jwt.MapClaims{"aud": "herald-e2e", "iss": "e2e-issuer"}
	with := func(extra jwt.MapClaims) jwt.MapClaims {
		m := jwt.MapClaims{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
				continue
			}
			m[k] = v
		}
		return m
	}
	sign := func(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims) string {
		t.Helper()
		tok, err := jwt.NewWithClaims(method, claims).SignedString([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ok := []struct {
		name string
		tok  func(t *testing.T) string
		want func(t *testing.T, res map[string]any)
	}{
		{"HS256", func(t *testing.T) string { return connToken(t, "u1", with(nil)) }, nil},
		{"HS384", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS384, with(jwt.MapClaims{"sub": "u1"})) }, nil},
		{"HS512", func(t *testing.T) string { return sign(t, jwt.SigningMethodHS512, with(jwt.MapClaims{"sub": "u1"})) }, nil},
		{"audience list", func(t *testing.T) string {
			return connToken(t, "u1", with(jwt.MapClaims{"aud": []string{"other", "herald-e2e"}}))
		}, nil},
		{"expire_at 0 never expires", func(t *testing.T) string {
			return connToken(t, "u1", with(jwt.MapClaims{"exp": time.Now().Add(time.Minute).Unix(), "expire_at": 0}))
		}, func(t *testing.T, res map[string]any) {
			if res["expires"] != nil || res["ttl"] != nil {
				t.Errorf("connect result = %v, want no expires/ttl with expire_at 0", res)
			}
		}},
		{"expire_at overrides exp", func(t *testing.T) string {
			return connToken(t, "u1", with(jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "expire_at": time.Now().Add(100 * time.Second).Unix()}))
		}, func(t *testing.T, res map[string]any) {
			if ttl, _ := res["ttl"].(float64); res["expires"] != true || ttl < 95 || ttl > 100 {
				t.Errorf("connect result = %v, want expires with ttl ~100", res)
			}
		}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, s)
			res := c.connectJSON(tc.tok(t))
			if tc.want != nil {
				tc.want(t, res)
			}
		})
	}
	bad := []struct {
		name string
		tok  func(t *testing.T) string
	}{
		{"wrong audience", func(t *testing.T) string { return connToken(t, "u1", with(jwt.MapClaims{"aud": "other"})) }},
		{"no audience", func(t *testing.T) string { return connToken(t, "u1", with(jwt.MapClaims{"aud": nil})) }},
		{"wrong issuer", func(t *testing.T) string { return connToken(t, "u1", with(jwt.MapClaims{"iss": "evil"})) }},
		{"alg none", func(t *testing.T) string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, with(jwt.MapClaims{"sub": "u1"})).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"tampered payload", func(t *testing.T) string {
			tok := connToken(t, "u1", with(nil))
			parts := strings.Split(tok, ".")
			evil := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","aud":"herald-e2e","iss":"e2e-issuer"}`))
			return parts[0] + "." + evil + "." + parts[2]
		}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, s)
			c.sendText(fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, tc.tok(t)))
			c.expectClose(3500, "invalid token", waitTimeout)
		})
	}
	t.Run("no token and no anonymous access", func(t *testing.T) {
		c := dialRaw(t, s)
		c.sendText(`{"id":1,"connect":{}}`)
		c.expectClose(3501, "bad request", waitTimeout)
	})
}

// TestRawSlowConsumer: a client that stops reading is disconnected once
// its queue overflows, without slowing the API or other clients down
// (COMPAT.md §1.10).
func TestRawSlowConsumer(t *testing.T) {
	t.Parallel()
	s := startServer(t, withClient(map[string]any{"queue_max_size": 262144}))
	slow := dialRaw(t, s)
	slow.connectJSON(connToken(t, "slow", nil))
	slow.sendText(`{"id":2,"subscribe":{"channel":"flood"}}`)
	if r := slow.nextNonPingJSON(waitTimeout); r["subscribe"] == nil {
		t.Fatalf("subscribe reply = %v", r)
	}
	fast, _ := connectSDK(t, s, sdkProtocols[1], "fast")
	fastSub, _ := subscribe(t, fast, "flood", centrifuge.SubscriptionConfig{})

	payload := fmt.Sprintf(`{"channel":"flood","data":%q}`, strings.Repeat("z", 32000))
	const maxPubs = 1000 // 32 MB at most, far beyond socket buffers + queue
	gone := false
	for i := 0; i < maxPubs && !gone; i++ {
		start := time.Now()
		r := s.apiRaw(t, "/api/publish", []byte(payload), apiKeyHeader)
		if r.Status != http.StatusOK {
			t.Fatalf("publish %d: HTTP %d", i, r.Status)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("publish %d took %v: a slow subscriber blocks publishing", i, d)
		}
		receive(t, fastSub.pubs, waitTimeout, fmt.Sprintf("publication %d on the fast client", i))
		if i%20 == 19 {
			info := s.apiResult(t, "info", map[string]any{})
			nodes, _ := info["nodes"].([]any)
			if n0, _ := nodes[0].(map[string]any); n0["num_clients"] == float64(1) {
				gone = true
			}
		}
	}
	if !gone {
		t.Fatalf("the slow client was not disconnected after %d publications of 32 KB", maxPubs)
	}
	// Whatever it could still read ends with 3008 slow (or the connection
	// dropping if the close frame could not be written).
	code, text := -1, ""
	for {
		_, err := slow.nextMessage(waitTimeout)
		if err != nil {
			code = closeCodeOf(err)
			text = err.Error()
			break
		}
	}
	t.Logf("slow client ended with close code %d (%s)", code, text)
	if code != 3008 && code != -1 && code != 1006 {
		t.Errorf("slow client closed with %d (%s), want 3008 slow", code, text)
	}
	if st := fast.State(); st != centrifuge.StateConnected {
		t.Errorf("fast client state = %s, want connected", st)
	}
}

// TestRawAbruptClose: a connection dropped without a close frame leaves
// its channels (presence and leave) like a clean disconnect.
func TestRawAbruptClose(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	watcherClient, _ := connectSDK(t, s, sdkProtocols[0], "watcher")
	watcher, _ := subscribe(t, watcherClient, "chat:abrupt", centrifuge.SubscriptionConfig{JoinLeave: true})

	c := dialRaw(t, s)
	res := c.connectJSON(connToken(t, "dropper", nil))
	c.sendText(`{"id":2,"subscribe":{"channel":"chat:abrupt"}}`)
	if r := c.nextNonPingJSON(waitTimeout); r["subscribe"] == nil {
		t.Fatalf("subscribe reply = %v", r)
	}
	if j := receive(t, watcher.joins, waitTimeout, "join"); j.Client != res["client"] {
		t.Fatalf("join = %+v, want client %v", j.ClientInfo, res["client"])
	}
	_ = c.ws.NetConn().Close() // no close frame
	if l := receive(t, watcher.leaves, waitTimeout, "leave after TCP close"); l.Client != res["client"] {
		t.Errorf("leave = %+v, want client %v", l.ClientInfo, res["client"])
	}
	eventually(t, waitTimeout, func() error {
		if n := s.numClients(t, "chat:abrupt"); n != 1 {
			return fmt.Errorf("num_clients = %d, want 1", n)
		}
		return nil
	})
}

// TestRawRecoveryEdgeCases checks subscribe with recover and a wrong epoch
// or missing history (COMPAT.md §8).
func TestRawRecoveryEdgeCases(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for i := 1; i <= 3; i++ {
		s.publish(t, "chat:rec", map[string]any{"i": i})
	}
	c := dialRaw(t, s)
	c.connectJSON(connToken(t, "u1", nil))
	c.sendText(`{"id":2,"subscribe":{"channel":"chat:rec","recover":true,"offset":1,"epoch":"wrong"}}`)
	r := c.nextNonPingJSON(waitTimeout)
	sub, _ := r["subscribe"].(map[string]any)
	if sub == nil || sub["recovered"] == true || sub["was_recovering"] != true || sub["offset"] != float64(3) || sub["epoch"] == "wrong" {
		t.Errorf("recover with a wrong epoch = %v, want was_recovering, not recovered, offset 3 and the real epoch", r)
	}
	if pubs, _ := sub["publications"].([]any); len(pubs) != 0 {
		t.Errorf("recover with a wrong epoch returned publications %v", pubs)
	}
	c.sendText(`{"id":3,"unsubscribe":{"channel":"chat:rec"}}`)
	c.nextNonPingJSON(waitTimeout)
	c.sendText(fmt.Sprintf(`{"id":4,"subscribe":{"channel":"chat:rec","recover":true,"offset":0,"epoch":%q}}`, sub["epoch"]))
	r = c.nextNonPingJSON(waitTimeout)
	sub, _ = r["subscribe"].(map[string]any)
	pubs, _ := sub["publications"].([]any)
	if sub == nil || sub["recovered"] != true || len(pubs) != 3 {
		t.Errorf("recover from offset 0 = %v, want recovered with 3 publications", r)
	}
}

// TestWriteDelayBatchesPublications: with client.write_delay, publications
// published one after another within the delay reach the client in one
// WebSocket frame, in order, while replies are written at once (the
// subscribe reply does not wait for the delay to take publications along).
func TestWriteDelayBatchesPublications(t *testing.T) {
	t.Parallel()
	s := startServer(t, withClient(map[string]any{"write_delay": "500ms"}))
	c := dialRaw(t, s)
	c.connectJSON(connToken(t, "u1", nil))
	c.sendText(`{"id":2,"subscribe":{"channel":"plain"}}`)
	if r := c.nextNonPingJSON(waitTimeout); r["id"] != float64(2) || r["subscribe"] == nil {
		t.Fatalf("subscribe reply = %v", r)
	}
	frames := c.frames
	// Three publications one after another, in one batch call: three
	// separate calls took longer than the delay on a loaded CI machine.
	var publishes []any
	for i := 1; i <= 3; i++ {
		publishes = append(publishes, map[string]any{"publish": map[string]any{"channel": "plain", "data": map[string]any{"n": i}}})
	}
	s.apiResult(t, "batch", map[string]any{"commands": publishes})
	for i := 1; i <= 3; i++ {
		expectJSON(t, c.nextNonPingJSON(waitTimeout), fmt.Sprintf(`{"push":{"channel":"plain","pub":{"data":{"n":%d}}}}`, i))
	}
	if got := c.frames - frames; got != 1 {
		t.Fatalf("3 publications came in %d frames, want 1 (held for client.write_delay)", got)
	}
}
