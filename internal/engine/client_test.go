package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

func TestConnectReply(t *testing.T) {
	n := newNode(t, testConfig())
	_, tr := connect(t, n, "42")
	m := decode(t, waitMsg(t, tr, `"connect"`))
	res := m["connect"].(map[string]any)
	if res["client"] == "" || res["version"] != "test" || res["ping"] != float64(25) || res["pong"] != true || res["expires"] != true {
		t.Fatalf("unexpected connect result %v", res)
	}
}

func TestCommandBeforeConnectIsBadRequest(t *testing.T) {
	n := newNode(t, testConfig())
	tr := &testTransport{}
	c, _ := n.NewClient(context.Background(), tr)
	if c.HandleFrame([]byte(`{"id":1,"subscribe":{"channel":"x"}}`)) {
		t.Fatal("frame accepted")
	}
	if d := tr.closedWith(); d == nil || d.Code != 3501 {
		t.Fatalf("closed with %v, want 3501", d)
	}
}

func TestConnectErrors(t *testing.T) {
	n := newNode(t, testConfig())
	cases := []struct {
		name, frame string
		code        uint32 // disconnect code, or 0 for error reply
		reply       string
	}{
		{"garbage", `{{{`, 3501, ""},
		{"no credentials", `{"id":1,"connect":{}}`, 3501, ""},
		{"bad token", `{"id":1,"connect":{"token":"abc.def.ghi"}}`, 3500, ""},
		{"expired token", `{"id":1,"connect":{"token":"` + token(t, gojwt.MapClaims{"sub": "1", "exp": time.Now().Add(-time.Minute).Unix()}) + `"}}`, 0, `"code":109`},
		{"ping command", `{"id":1,"connect":{"token":"` + token(t, gojwt.MapClaims{"sub": "1"}) + `"}}` + "\n" + `{"id":2,"ping":{}}`, 3501, ""},
		{"send", `{"id":1,"connect":{"token":"` + token(t, gojwt.MapClaims{"sub": "1"}) + `"}}` + "\n" + `{"send":{"data":{}}}`, 3508, ""},
		{"second connect", `{"id":1,"connect":{"token":"` + token(t, gojwt.MapClaims{"sub": "1"}) + `"}}` + "\n" + `{"id":2,"connect":{}}`, 3501, ""},
		{"unnecessary pong", `{"id":1,"connect":{"token":"` + token(t, gojwt.MapClaims{"sub": "1"}) + `"}}` + "\n{}", 3501, ""},
		{"binary on json", "\x00\x01\x02\xff", 3501, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &testTransport{}
			c, _ := n.NewClient(context.Background(), tr)
			c.HandleFrame([]byte(tc.frame))
			if tc.code != 0 {
				eventually(t, time.Second, func() bool { return tr.closedWith() != nil }, "close")
				if d := tr.closedWith(); d.Code != tc.code {
					t.Fatalf("closed with %v, want %d", d, tc.code)
				}
				return
			}
			waitMsg(t, tr, tc.reply)
		})
	}
}

func TestSubscribeAndReceive(t *testing.T) {
	n := newNode(t, testConfig())
	c, tr := connect(t, n, "42")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:1"}}`))
	sub := decode(t, waitMsg(t, tr, `"id":2`))["subscribe"].(map[string]any)
	if sub["recoverable"] != true || sub["positioned"] != true || sub["epoch"] == nil {
		t.Fatalf("subscribe result %v", sub)
	}
	if _, err := n.Publish(context.Background(), "chat:1", []byte(`{"text":"hi"}`), engine.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	push := waitMsg(t, tr, `"pub"`)
	if push != `{"push":{"channel":"chat:1","pub":{"data":{"text":"hi"},"offset":1}}}` {
		t.Fatalf("push %s", push)
	}
}

func TestSubscribeErrors(t *testing.T) {
	cfg := testConfig()
	cfg.Client.ChannelLimit = 2
	n := newNode(t, cfg)
	c, tr := connect(t, n, "42")
	frames := []struct{ frame, want string }{
		{`{"id":2,"subscribe":{"channel":"nope:1"}}`, `{"id":2,"error":{"code":102,"message":"unknown channel"}}`},
		{`{"id":3,"subscribe":{"channel":"closed:1"}}`, `{"id":3,"error":{"code":103,"message":"permission denied"}}`},
		{`{"id":4,"subscribe":{"channel":"$private"}}`, `{"id":4,"error":{"code":103,"message":"permission denied"}}`},
		{`{"id":5,"subscribe":{"channel":""}}`, `{"id":5,"error":{"code":107,"message":"bad request"}}`},
		{`{"id":6,"subscribe":{"channel":"` + strings.Repeat("a", 300) + `"}}`, `{"id":6,"error":{"code":107,"message":"bad request"}}`},
		{`{"id":7,"subscribe":{"channel":"a"}}`, `{"id":7,"subscribe":{}}`},
		{`{"id":8,"subscribe":{"channel":"a"}}`, `{"id":8,"error":{"code":105,"message":"already subscribed"}}`},
		{`{"id":9,"subscribe":{"channel":"b"}}`, `{"id":9,"subscribe":{}}`},
		{`{"id":10,"subscribe":{"channel":"c"}}`, `{"id":10,"error":{"code":106,"message":"limit exceeded"}}`},
		{`{"id":11,"publish":{"channel":"a","data":{}}}`, `{"id":11,"error":{"code":103,"message":"permission denied"}}`},
		{`{"id":12,"presence":{"channel":"a"}}`, `{"id":12,"error":{"code":108,"message":"not available"}}`},
		{`{"id":13,"history":{"channel":"a"}}`, `{"id":13,"error":{"code":108,"message":"not available"}}`},
		{`{"id":14,"rpc":{"method":"x"}}`, `{"id":14,"error":{"code":108,"message":"not available"}}`},
		{`{"id":15,"rpc":{"method":"ns:x"}}`, `{"id":15,"error":{"code":104,"message":"method not found"}}`},
		{`{"id":16,"unsubscribe":{"channel":"zzz"}}`, `{"id":16,"unsubscribe":{}}`},
		{`{"id":17,"sub_refresh":{"channel":"zzz","token":"x"}}`, `{"id":17,"error":{"code":103,"message":"permission denied"}}`},
	}
	for _, f := range frames {
		if !c.HandleFrame([]byte(f.frame)) {
			t.Fatalf("closed after %s: %v", f.frame, tr.closedWith())
		}
		if got := waitMsg(t, tr, f.want[:8]); got != f.want {
			t.Fatalf("for %s got %s, want %s", f.frame, got, f.want)
		}
	}
}

func TestUserLimitedAndPrivateChannels(t *testing.T) {
	cfg := testConfig()
	cfg.Channel.WithoutNamespace.AllowUserLimitedChannels = true
	cfg.Channel.WithoutNamespace.AllowSubscribeForClient = false
	n := newNode(t, cfg)
	c, tr := connect(t, n, "42")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"news#42"}}`))
	waitMsg(t, tr, `{"id":2,"subscribe":{}}`)
	c.HandleFrame([]byte(`{"id":3,"subscribe":{"channel":"news#43"}}`))
	waitMsg(t, tr, `{"id":3,"error":{"code":103`)
	st := token(t, gojwt.MapClaims{"sub": "42", "channel": "$secret", "info": map[string]any{"role": "x"}})
	c.HandleFrame([]byte(`{"id":4,"subscribe":{"channel":"$secret","token":"` + st + `"}}`))
	waitMsg(t, tr, `{"id":4,"subscribe":{}}`)
	other := token(t, gojwt.MapClaims{"sub": "43", "channel": "$secret2"})
	c.HandleFrame([]byte(`{"id":5,"subscribe":{"channel":"$secret2","token":"` + other + `"}}`))
	eventually(t, time.Second, func() bool { return tr.closedWith() != nil }, "close")
	if tr.closedWith().Code != 3500 {
		t.Fatalf("closed with %v, want 3500", tr.closedWith())
	}
}

func TestRecovery(t *testing.T) {
	n := newNode(t, testConfig())
	ctx := context.Background()
	c, tr := connect(t, n, "42")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:r","recoverable":true}}`))
	sub := decode(t, waitMsg(t, tr, `"id":2`))["subscribe"].(map[string]any)
	epoch := sub["epoch"].(string)
	c.Close(protocol.DisconnectConnectionClosed)
	for i := 1; i <= 5; i++ {
		if _, err := n.Publish(ctx, "chat:r", []byte(fmt.Sprintf(`{"n":%d}`, i)), engine.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c2, tr2 := connect(t, n, "42")
	c2.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:r","recover":true,"offset":0,"epoch":"` + epoch + `"}}`))
	got := waitMsg(t, tr2, `"id":2`)
	want := `{"id":2,"subscribe":{"recoverable":true,"epoch":"` + epoch + `","publications":[{"data":{"n":1},"offset":1},{"data":{"n":2},"offset":2},{"data":{"n":3},"offset":3},{"data":{"n":4},"offset":4},{"data":{"n":5},"offset":5}],"recovered":true,"positioned":true,"was_recovering":true}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Wrong epoch: not recovered, position at the top.
	c3, tr3 := connect(t, n, "42")
	c3.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:r","recover":true,"offset":2,"epoch":"other"}}`))
	got = waitMsg(t, tr3, `"id":2`)
	want = `{"id":2,"subscribe":{"recoverable":true,"epoch":"` + epoch + `","offset":5,"positioned":true,"was_recovering":true}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestOrderUnderConcurrentPublish checks that every subscriber receives every
// publication exactly once and in offset order while subscribers join and
// publishers run concurrently.
func TestOrderUnderConcurrentPublish(t *testing.T) {
	n := newNode(t, testConfig())
	ctx := context.Background()
	const subs, pubs = 20, 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < pubs; i++ {
			if _, err := n.Publish(ctx, "chat:o", []byte(`{}`), engine.PublishOptions{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	type result struct {
		tr    *testTransport
		start uint64
	}
	var rs []result
	for i := 0; i < subs; i++ {
		c, tr := connect(t, n, fmt.Sprint(i))
		c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:o"}}`))
		sub := decode(t, waitMsg(t, tr, `"id":2`))["subscribe"].(map[string]any)
		off, _ := sub["offset"].(float64)
		rs = append(rs, result{tr, uint64(off)})
	}
	<-done
	for _, r := range rs {
		expected := r.start + 1
		eventually(t, 5*time.Second, func() bool {
			return strings.Contains(strings.Join(r.tr.messages(), "\n"), fmt.Sprintf(`"offset":%d}`, pubs)) || r.start == pubs
		}, "last publication")
		for _, m := range r.tr.messages() {
			if !strings.Contains(m, `"pub"`) {
				continue
			}
			pub := decode(t, m)["push"].(map[string]any)["pub"].(map[string]any)
			if off := uint64(pub["offset"].(float64)); off != expected {
				t.Fatalf("got offset %d, want %d", off, expected)
			}
			expected++
		}
		if expected != pubs+1 {
			t.Fatalf("received up to %d, want %d", expected-1, pubs)
		}
	}
}

func TestPresenceAndJoinLeave(t *testing.T) {
	n := newNode(t, testConfig())
	a, tra := connect(t, n, "1")
	a.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:p"}}`))
	waitMsg(t, tra, `"id":2`)
	b, trb := connect(t, n, "2")
	b.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:p"}}`))
	waitMsg(t, trb, `"id":2`)
	waitMsg(t, tra, `"join":{"info":{"user":"2"`)
	// b's own join is never pushed to b (checked once a's later push arrives).
	a.HandleFrame([]byte(`{"id":9,"publish":{"channel":"chat:p","data":{"after":"join"}}}`))
	waitMsg(t, trb, `"after":"join"`)
	for _, m := range trb.messages() {
		if strings.Contains(m, `"join":{"info":{"user":"2"`) {
			t.Fatalf("client got its own join: %s", m)
		}
	}
	a.HandleFrame([]byte(`{"id":3,"presence_stats":{"channel":"chat:p"}}`))
	if got := waitMsg(t, tra, `"id":3`); got != `{"id":3,"presence_stats":{"num_clients":2,"num_users":2}}` {
		t.Fatal(got)
	}
	b.Close(protocol.DisconnectConnectionClosed)
	waitMsg(t, tra, `"leave":{"info":{"user":"2"`)
	st, err := n.PresenceStats(context.Background(), "chat:p")
	if err != nil || st.NumClients != 1 {
		t.Fatalf("stats %v %v", st, err)
	}
}

// A join or leave that reaches a subscriber between its subscribe reply
// being written and the end of its pending phase is delivered after the
// reply, not dropped (CI flake of TestSDKJoinLeave).
func TestJoinLeaveWhilePendingAreDeliveredAfterReply(t *testing.T) {
	n := newNode(t, testConfig())
	a, tra, release := subscribePending(t, n, "chat:w")
	b, trb := connect(t, n, "2")
	b.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:w"}}`))
	waitMsg(t, trb, `"id":2`)
	eventually(t, 5*time.Second, func() bool { return engine.PendingLen(a, "chat:w") == 1 }, "b's join held for a")
	b.Close(protocol.DisconnectConnectionClosed)
	eventually(t, 5*time.Second, func() bool { return engine.PendingLen(a, "chat:w") == 2 }, "b's leave held for a")
	release()
	waitMsg(t, &tra.testTransport, `"leave":{"info":{"user":"2"`)
	var order []string
	for _, m := range tra.messages() {
		switch {
		case strings.Contains(m, `"id":2`):
			order = append(order, "reply")
		case strings.Contains(m, `"join"`):
			order = append(order, "join")
		case strings.Contains(m, `"leave"`):
			order = append(order, "leave")
		}
	}
	if got := strings.Join(order, ","); got != "reply,join,leave" {
		t.Fatalf("a got %s, want reply,join,leave", got)
	}
}

func TestServerSideSubscriptionsAndAPI(t *testing.T) {
	n := newNode(t, testConfig())
	ctx := context.Background()
	tr := &testTransport{}
	c, _ := n.NewClient(ctx, tr)
	tok := token(t, gojwt.MapClaims{"sub": "7", "channels": []string{"chat:s"}})
	c.HandleFrame([]byte(`{"id":1,"connect":{"token":"` + tok + `"}}`))
	m := decode(t, waitMsg(t, tr, `"id":1`))
	subs := m["connect"].(map[string]any)["subs"].(map[string]any)
	if _, ok := subs["chat:s"]; !ok {
		t.Fatalf("no server-side sub in %v", m)
	}
	if _, err := n.Publish(ctx, "chat:s", []byte(`{"a":1}`), engine.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, tr, `{"push":{"channel":"chat:s","pub"`)
	if err := n.Subscribe(ctx, "7", "chat:t", engine.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, tr, `{"push":{"channel":"chat:t","subscribe"`)
	if err := n.Unsubscribe(ctx, "7", "chat:t", "", ""); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, tr, `{"push":{"channel":"chat:t","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}`)
	if err := n.Refresh(ctx, "7", "", "", false, time.Now().Add(time.Hour).Unix(), nil); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, tr, `{"push":{"refresh":{"expires":true`)
	if err := n.Disconnect(ctx, "7", protocol.DisconnectForceNoReconnect, "", "", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, func() bool { return tr.closedWith() != nil }, "disconnect")
	if tr.closedWith().Code != 3503 {
		t.Fatalf("closed with %v", tr.closedWith())
	}
	infos, _ := n.Info(ctx)
	if infos[0].NumClients != 0 || infos[0].NumChannels != 0 {
		t.Fatalf("leak after disconnect: %+v", infos[0])
	}
}

func TestSlowClientIsDisconnected(t *testing.T) {
	cfg := testConfig()
	cfg.Client.QueueMaxSize = 1024
	n := newNode(t, cfg)
	c, tr := connect(t, n, "1")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"a"}}`))
	waitMsg(t, tr, `"id":2`)
	tr.mu.Lock()
	tr.block = make(chan struct{})
	tr.mu.Unlock()
	for i := 0; i < 100 && tr.closedWith() == nil; i++ {
		_, _ = n.Publish(context.Background(), "a", []byte(`{"payload":"`+strings.Repeat("x", 100)+`"}`), engine.PublishOptions{})
	}
	eventually(t, time.Second, func() bool { return tr.closedWith() != nil }, "slow disconnect")
	close(tr.block)
	if tr.closedWith().Code != 3008 {
		t.Fatalf("closed with %v, want 3008", tr.closedWith())
	}
}

func TestPingPong(t *testing.T) {
	cfg := testConfig()
	cfg.Client.PingInterval = 40 * time.Millisecond
	cfg.Client.PongTimeout = 20 * time.Millisecond
	n := newNode(t, cfg)
	c, tr := connect(t, n, "1")
	waitMsg(t, tr, "{}")
	c.HandleFrame([]byte("{}"))
	if tr.closedWith() != nil {
		t.Fatal("closed after pong")
	}
	// Stop answering: 3012.
	eventually(t, 2*time.Second, func() bool { return tr.closedWith() != nil }, "no pong disconnect")
	if tr.closedWith().Code != 3012 {
		t.Fatalf("closed with %v", tr.closedWith())
	}
}

func TestShutdownDisconnects(t *testing.T) {
	n := newNode(t, testConfig())
	_, tr := connect(t, n, "1")
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := tr.closedWith(); d == nil || d.Code != 3001 {
		t.Fatalf("closed with %v", d)
	}
	if _, err := n.NewClient(context.Background(), &testTransport{}); err == nil {
		t.Fatal("new client accepted during shutdown")
	}
}

func TestAPIHistoryErrors(t *testing.T) {
	n := newNode(t, testConfig())
	ctx := context.Background()
	if _, err := n.Publish(ctx, "nope:x", []byte(`{}`), engine.PublishOptions{}); err != protocol.ErrUnknownChannel {
		t.Fatalf("got %v", err)
	}
	if _, err := n.Publish(ctx, "x", nil, engine.PublishOptions{}); err != protocol.ErrBadRequest {
		t.Fatalf("got %v", err)
	}
	if _, _, err := n.History(ctx, "x", broker.HistoryFilter{}); err != protocol.ErrNotAvailable {
		t.Fatalf("got %v", err)
	}
	if _, _, err := n.History(ctx, "chat:h", broker.HistoryFilter{Since: &broker.StreamPosition{Offset: 1, Epoch: "bad"}}); err != protocol.ErrUnrecoverablePosition {
		t.Fatalf("got %v", err)
	}
	if _, _, err := n.History(ctx, "chat:h", broker.HistoryFilter{Reverse: true, Since: &broker.StreamPosition{}}); err != protocol.ErrBadRequest {
		t.Fatalf("got %v", err)
	}
}

// A publication that reaches a subscriber while its subscription is
// pending is held for client.write_delay once the subscription is active,
// like any publication its fan-out queues, instead of being written at
// once (TestWriteDelayBatchesPublications, end to end, failed when the
// API's publications came in that window): it goes out with the next
// reply.
func TestHeldWhilePendingKeepsWriteDelay(t *testing.T) {
	cfg := testConfig()
	cfg.Client.WriteDelay = config.Duration(time.Hour)
	n := newNode(t, cfg)
	a, tra, release := subscribePending(t, n, "plain")
	if _, err := n.Publish(context.Background(), "plain", []byte(`{"n":1}`), engine.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() bool { return engine.PendingLen(a, "plain") == 1 }, "the publication held for a")
	release()
	if f := tra.framesWith(`"n":1`); len(f) != 0 {
		t.Fatalf("the held publication was written at the end of the pending phase (%v), want it held for the write delay", f)
	}
	a.HandleFrame([]byte(`{"id":3,"presence_stats":{"channel":"chat:x"}}`)) // any reply flushes what is held
	waitMsg(t, &tra.testTransport, `"n":1`)
}

// subscribePending connects user "1" and has it subscribe to ch, its
// subscribe reply held in its (inline) write: the subscription stays
// pending until release, which lets the reply through and waits for the
// subscribe command to end.
func subscribePending(t *testing.T, n *engine.Node, ch string) (*engine.Client, *frameTransport, func()) {
	t.Helper()
	tra := &frameTransport{}
	a := connectVia(t, n, tra, &tra.testTransport, "1")
	gate := make(chan struct{})
	tra.setGate(gate)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"` + ch + `"}}`))
	}()
	eventually(t, 5*time.Second, tra.waiting.Load, "a's subscribe reply being written")
	tra.setGate(nil) // later writes go through
	return a, tra, func() { close(gate); <-done }
}
