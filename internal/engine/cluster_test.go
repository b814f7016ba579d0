package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/auth/jwt"
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/memory"
	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// bus is an in-process broker.Controller shared by several nodes: it
// delivers every control message to every node (or to one node), like the
// Redis control channel does.
type bus struct {
	mu    sync.Mutex
	nodes map[string]broker.ControlHandler
}

type busController struct{ b *bus }

func (c busController) StartControl(_ context.Context, id string, h broker.ControlHandler) error {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.b.nodes[id] = h
	return nil
}

func (c busController) PublishControl(_ context.Context, data []byte, to string) error {
	c.b.mu.Lock()
	var hs []broker.ControlHandler
	for id, h := range c.b.nodes {
		if to == "" || to == id {
			hs = append(hs, h)
		}
	}
	c.b.mu.Unlock()
	for _, h := range hs {
		go func(h broker.ControlHandler) { _ = h.HandleControl(append([]byte(nil), data...)) }(h)
	}
	return nil
}

func newClusterNode(t *testing.T, b *bus) *engine.Node {
	t.Helper()
	cfg := testConfig()
	rules, _ := channel.NewRules(cfg.Channel)
	jc, _ := jwt.ConfigFromToken(cfg.Client.Token, false)
	v, _ := jwt.New(jc, nil)
	n, err := engine.New(engine.Options{
		Client: cfg.Client, Broker: memory.New(memory.Options{}), Presence: memory.NewPresenceManager(),
		Controller: busController{b}, Rules: rules, Verifier: v, Version: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Shutdown(context.Background()) })
	return n
}

func TestClusterControl(t *testing.T) {
	b := &bus{nodes: map[string]broker.ControlHandler{}}
	a, bn := newClusterNode(t, b), newClusterNode(t, b)
	ctx := context.Background()
	eventually(t, 5*time.Second, func() bool {
		ia, _ := a.Info(ctx)
		ib, _ := bn.Info(ctx)
		return len(ia) == 2 && len(ib) == 2
	}, "nodes see each other")

	c, tr := connect(t, bn, "u1")
	c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"chat:x"}}`))
	waitMsg(t, tr, `"id":2`)

	chans, err := a.Channels(ctx, "chat:*")
	if err != nil || chans["chat:x"] != 1 {
		t.Fatalf("channels from another node: %v %v", chans, err)
	}
	// API commands issued on node a reach the connection on node b.
	if err := a.Subscribe(ctx, "u1", "chat:y", engine.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, tr, `{"push":{"channel":"chat:y","subscribe"`)
	if err := a.Unsubscribe(ctx, "u1", "chat:y", "", ""); err != nil {
		t.Fatal(err)
	}
	waitMsg(t, tr, `{"push":{"channel":"chat:y","unsubscribe":{"code":2000`)
	if err := a.Disconnect(ctx, "u1", protocol.DisconnectForceNoReconnect, "", "", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() bool { return tr.closedWith() != nil }, "remote disconnect")
	if tr.closedWith().Code != 3503 {
		t.Fatalf("closed with %v", tr.closedWith())
	}
	// A node that shuts down leaves the others' info at once.
	if err := bn.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, func() bool { ia, _ := a.Info(ctx); return len(ia) == 1 }, "node removed")
}
