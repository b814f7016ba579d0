package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/broker/memory"
	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

const testSecret = "test-secret"

// testTransport is an in-memory engine.Transport recording what the engine
// writes.
type testTransport struct {
	proto  protocol.Type
	mu     sync.Mutex
	msgs   [][]byte
	frames int
	closed *protocol.Disconnect
	block  chan struct{} // when non-nil, WriteMany blocks until closed
}

func (t *testTransport) Name() string            { return "test" }
func (t *testTransport) Protocol() protocol.Type { return t.proto }
func (t *testTransport) Unidirectional() bool    { return false }
func (t *testTransport) Emulation() bool         { return false }
func (t *testTransport) WriteMany(msgs ...[]byte) error {
	if t.block != nil {
		<-t.block
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.frames++
	for _, m := range msgs {
		t.msgs = append(t.msgs, append([]byte(nil), m...))
	}
	return nil
}
func (t *testTransport) Close(d protocol.Disconnect) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = &d
	return nil
}

func (t *testTransport) messages() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, len(t.msgs))
	for i, m := range t.msgs {
		out[i] = string(m)
	}
	return out
}

func (t *testTransport) closedWith() *protocol.Disconnect {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func eventually(t *testing.T, timeout time.Duration, fn func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timeout: %s", msg)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func testConfig() config.Config {
	cfg := config.Defaults()
	cfg.Client.Token.HMACSecretKey = testSecret
	cfg.Channel.WithoutNamespace.AllowSubscribeForClient = true
	cfg.Channel.Namespaces = []config.Namespace{{
		Name: "chat",
		ChannelOptions: config.ChannelOptions{
			Presence: true, JoinLeave: true, ForcePushJoinLeave: true,
			HistorySize: 100, HistoryTTL: time.Minute, ForceRecovery: true,
			AllowSubscribeForClient: true, AllowPublishForSubscriber: true,
			AllowPresenceForSubscriber: true, AllowHistoryForSubscriber: true,
		},
	}, {
		Name:           "closed",
		ChannelOptions: config.ChannelOptions{},
	}}
	return cfg
}

func newNode(tb testing.TB, cfg config.Config) *engine.Node {
	tb.Helper()
	rules, err := channel.NewRules(cfg.Channel)
	if err != nil {
		tb.Fatal(err)
	}
	jc, err := jwt.ConfigFromToken(cfg.Client.Token, false)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := jwt.New(jc, nil)
	if err != nil {
		tb.Fatal(err)
	}
	b := memory.New(memory.Options{})
	n, err := engine.New(engine.Options{
		Client: cfg.Client, RPC: cfg.RPC, Broker: b, Presence: memory.NewPresenceManager(),
		Rules: rules, Verifier: v, Version: "test",
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	return n
}

func token(tb testing.TB, claims gojwt.MapClaims) string {
	tb.Helper()
	s, err := gojwt.NewWithClaims(gojwt.SigningMethodHS256, claims).SignedString([]byte(testSecret))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// connectWithClaims opens a JSON client with a token carrying claims.
func connectWithClaims(tb testing.TB, n *engine.Node, claims map[string]any) (*engine.Client, *testTransport) {
	tb.Helper()
	tr := &testTransport{}
	c, err := n.NewClient(context.Background(), tr)
	if err != nil {
		tb.Fatal(err)
	}
	if !c.HandleFrame([]byte(`{"id":1,"connect":{"token":"` + token(tb, gojwt.MapClaims(claims)) + `"}}`)) {
		tb.Fatalf("connect refused: %v", tr.closedWith())
	}
	waitMsg(tb, tr, `"id":1,"connect"`)
	return c, tr
}

// connect opens a JSON client for user and waits for the connect reply.
func connect(tb testing.TB, n *engine.Node, user string) (*engine.Client, *testTransport) {
	tb.Helper()
	tr := &testTransport{}
	return connectVia(tb, n, tr, tr, user), tr
}

// connectVia is connect over tr, whose messages rec records.
func connectVia(tb testing.TB, n *engine.Node, tr engine.Transport, rec *testTransport, user string) *engine.Client {
	tb.Helper()
	c, err := n.NewClient(context.Background(), tr)
	if err != nil {
		tb.Fatal(err)
	}
	tok := token(tb, gojwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix()})
	if !c.HandleFrame([]byte(`{"id":1,"connect":{"token":"` + tok + `"}}`)) {
		tb.Fatalf("connect refused: %v", rec.closedWith())
	}
	waitMsg(tb, rec, `"id":1,"connect"`)
	return c
}

// waitMsg waits for a message containing substr and returns it.
func waitMsg(tb testing.TB, tr *testTransport, substr string) string {
	tb.Helper()
	var found string
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, m := range tr.messages() {
			if strings.Contains(m, substr) {
				found = m
			}
		}
		if found != "" {
			return found
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no message containing %s; got %v (closed %v)", substr, tr.messages(), tr.closedWith())
		}
		time.Sleep(time.Millisecond)
	}
}

func decode(tb testing.TB, s string) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		tb.Fatalf("bad JSON %q: %v", s, err)
	}
	return m
}
