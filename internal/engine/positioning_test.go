package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/memory"
	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
)

// lossyBroker loses the delivery (not the history) of publications whose
// data is "drop", like a PUB/SUB message lost between nodes.
type lossyBroker struct {
	*memory.Broker
	handler *broker.EventHandler // the node's handler, captured at Start
}

type lossyHandler struct{ broker.EventHandler }

func (h lossyHandler) HandlePublication(ch string, pub *broker.Publication, sp broker.StreamPosition, d bool, prev *broker.Publication) error {
	if string(pub.Data) == `"drop"` {
		return nil
	}
	return h.EventHandler.HandlePublication(ch, pub, sp, d, prev)
}

func (b lossyBroker) Start(ctx context.Context, h broker.EventHandler) error {
	if b.handler != nil {
		*b.handler = h
	}
	return b.Broker.Start(ctx, lossyHandler{h})
}

func newLossyNode(t *testing.T, cfg config.Config) *engine.Node {
	n, _ := newLossyNodeWithHandler(t, cfg)
	return n
}

func newLossyNodeWithHandler(t *testing.T, cfg config.Config) (*engine.Node, *broker.EventHandler) {
	t.Helper()
	var handler broker.EventHandler
	rules, _ := channel.NewRules(cfg.Channel)
	jc, _ := jwt.ConfigFromToken(cfg.Client.Token, false)
	v, _ := jwt.New(jc, nil)
	n, err := engine.New(engine.Options{
		Client: cfg.Client, Broker: lossyBroker{memory.New(memory.Options{}), &handler}, Presence: memory.NewPresenceManager(),
		Rules: rules, Verifier: v,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	return n, &handler
}

func TestGapInStreamUnsubscribesWithInsufficientState(t *testing.T) {
	n := newLossyNode(t, testConfig())
	c, tr := connect(t, n, "1")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:g"}}`))
	waitMsg(t, tr, `"id":2`)
	ctx := context.Background()
	for _, d := range []string{`"a"`, `"drop"`, `"b"`} {
		if _, err := n.Publish(ctx, "chat:g", []byte(d), engine.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitMsg(t, tr, `{"push":{"channel":"chat:g","unsubscribe":{"code":2500,"reason":"insufficient state"}}}`)
	for _, m := range tr.messages() {
		if strings.Contains(m, `"b"`) {
			t.Fatalf("publication after a gap delivered: %s", m)
		}
	}
}

func TestPeriodicPositionCheckDetectsLoss(t *testing.T) {
	cfg := testConfig()
	cfg.Client.ChannelPositionCheckDelay = 30 * time.Millisecond
	n := newLossyNode(t, cfg)
	c, tr := connect(t, n, "1")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:p"}}`))
	waitMsg(t, tr, `"id":2`)
	if _, err := n.Publish(context.Background(), "chat:p", []byte(`"drop"`), engine.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	// No further publication reveals the gap: only the periodic check can.
	waitMsg(t, tr, `"unsubscribe":{"code":2500`)
}

func TestServerSideGapDisconnects(t *testing.T) {
	cfg := testConfig()
	n := newLossyNode(t, cfg)
	_, tr := connectWithClaims(t, n, map[string]any{"sub": "1", "channels": []string{"chat:s"}})
	ctx := context.Background()
	for _, d := range []string{`"drop"`, `"b"`} {
		if _, err := n.Publish(ctx, "chat:s", []byte(d), engine.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 2*time.Second, func() bool { return tr.closedWith() != nil }, "3010")
	if tr.closedWith().Code != 3010 {
		t.Fatalf("closed with %v", tr.closedWith())
	}
}

func TestCacheRecoveryMode(t *testing.T) {
	cfg := testConfig()
	cfg.Channel.Namespaces = append(cfg.Channel.Namespaces, config.Namespace{
		Name: "cache",
		ChannelOptions: config.ChannelOptions{
			HistorySize: 1, HistoryTTL: time.Minute, ForceRecovery: true, ForceRecoveryMode: "cache",
			AllowSubscribeForClient: true,
		},
	})
	n := newNode(t, cfg)
	ctx := context.Background()
	for _, d := range []string{`{"v":1}`, `{"v":2}`} {
		if _, err := n.Publish(ctx, "cache:x", []byte(d), engine.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c, tr := connect(t, n, "1")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"cache:x","recover":true}}`))
	got := waitMsg(t, tr, `"id":2`)
	if !strings.Contains(got, `"publications":[{"data":{"v":2},"offset":2}],"recovered":true`) {
		t.Fatalf("cache recovery: %s", got)
	}
	epoch := decode(t, got)["subscribe"].(map[string]any)["epoch"].(string)
	c2, tr2 := connect(t, n, "1")
	c2.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"cache:x","recover":true,"offset":2,"epoch":"` + epoch + `"}}`))
	got = waitMsg(t, tr2, `"id":2`)
	if strings.Contains(got, "publications") || !strings.Contains(got, `"recovered":true`) {
		t.Fatalf("up-to-date cache recovery: %s", got)
	}
}

// TestResubscribeTriggersPositionCheck: after the broker reports it
// resubscribed (its PUB/SUB connection broke), a publication lost meanwhile
// is detected within about a second, not at the next periodic check.
func TestResubscribeTriggersPositionCheck(t *testing.T) {
	n, h := newLossyNodeWithHandler(t, testConfig())
	c, tr := connect(t, n, "1")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:r"}}`))
	waitMsg(t, tr, `"id":2`)
	if _, err := n.Publish(context.Background(), "chat:r", []byte(`"drop"`), engine.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	rh, ok := (*h).(broker.ResubscribeHandler)
	if !ok {
		t.Fatal("the node's event handler does not handle resubscribes")
	}
	rh.HandleResubscribe([]string{"chat:r"})
	waitMsg(t, tr, `"unsubscribe":{"code":2500`)
}
