package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
)

const waitTimeout = 10 * time.Second

// sdkProtocol is one of the centrifuge-go client encodings.
type sdkProtocol struct {
	name string
	new  func(endpoint string, config centrifuge.Config) *centrifuge.Client
}

var sdkProtocols = []sdkProtocol{
	{"json", centrifuge.NewJsonClient},
	{"protobuf", centrifuge.NewProtobufClient},
}

// forEachProtocol runs fn as a parallel subtest per SDK encoding.
func forEachProtocol(t *testing.T, fn func(t *testing.T, p sdkProtocol)) {
	t.Helper()
	for _, p := range sdkProtocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			fn(t, p)
		})
	}
}

// push sends v on ch without blocking the SDK's event goroutine; a full
// channel (a test that stopped reading) drops the event.
func push[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

// drain discards the values buffered in ch.
func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// sdkClient is a centrifuge-go client whose events are recorded on
// channels.
type sdkClient struct {
	*centrifuge.Client
	connected    chan centrifuge.ConnectedEvent
	connecting   chan centrifuge.ConnectingEvent
	disconnected chan centrifuge.DisconnectedEvent
	errs         chan centrifuge.ErrorEvent
	serverSubs   chan centrifuge.ServerSubscribedEvent
	serverUnsubs chan centrifuge.ServerUnsubscribedEvent
	serverPubs   chan centrifuge.ServerPublicationEvent
}

// newSDKClient creates (but does not connect) a client for s; it is closed
// when the test ends.
func newSDKClient(t *testing.T, s *server, p sdkProtocol, cfg centrifuge.Config) *sdkClient {
	t.Helper()
	if cfg.MinReconnectDelay == 0 {
		cfg.MinReconnectDelay = 50 * time.Millisecond
	}
	if cfg.MaxReconnectDelay == 0 {
		cfg.MaxReconnectDelay = 500 * time.Millisecond
	}
	c := &sdkClient{
		Client:       p.new(s.WSURL(), cfg),
		connected:    make(chan centrifuge.ConnectedEvent, 100),
		connecting:   make(chan centrifuge.ConnectingEvent, 100),
		disconnected: make(chan centrifuge.DisconnectedEvent, 100),
		errs:         make(chan centrifuge.ErrorEvent, 100),
		serverSubs:   make(chan centrifuge.ServerSubscribedEvent, 100),
		serverUnsubs: make(chan centrifuge.ServerUnsubscribedEvent, 100),
		serverPubs:   make(chan centrifuge.ServerPublicationEvent, 1000),
	}
	c.OnConnected(func(e centrifuge.ConnectedEvent) { push(c.connected, e) })
	c.OnConnecting(func(e centrifuge.ConnectingEvent) { push(c.connecting, e) })
	c.OnDisconnected(func(e centrifuge.DisconnectedEvent) { push(c.disconnected, e) })
	c.OnError(func(e centrifuge.ErrorEvent) { push(c.errs, e) })
	c.OnSubscribed(func(e centrifuge.ServerSubscribedEvent) { push(c.serverSubs, e) })
	c.OnUnsubscribed(func(e centrifuge.ServerUnsubscribedEvent) { push(c.serverUnsubs, e) })
	c.OnPublication(func(e centrifuge.ServerPublicationEvent) { push(c.serverPubs, e) })
	t.Cleanup(c.Close)
	return c
}

// connectSDK creates a client for user with a valid token and waits until
// it is connected.
func connectSDK(t *testing.T, s *server, p sdkProtocol, user string) (*sdkClient, centrifuge.ConnectedEvent) {
	t.Helper()
	c := newSDKClient(t, s, p, centrifuge.Config{Token: connToken(t, user, nil)})
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	ev := c.waitConnected(t)
	return c, ev
}

func (c *sdkClient) waitConnected(t *testing.T) centrifuge.ConnectedEvent {
	t.Helper()
	select {
	case ev := <-c.connected:
		drain(c.connecting) // the connecting events that led here
		return ev
	case ev := <-c.disconnected:
		t.Fatalf("disconnected (code %d %q) instead of connected", ev.Code, ev.Reason)
	case <-time.After(waitTimeout):
		t.Fatalf("not connected within %v (state %s)", waitTimeout, c.State())
	}
	return centrifuge.ConnectedEvent{}
}

// sdkSub is a subscription whose events are recorded on channels.
type sdkSub struct {
	*centrifuge.Subscription
	subscribed   chan centrifuge.SubscribedEvent
	subscribing  chan centrifuge.SubscribingEvent
	unsubscribed chan centrifuge.UnsubscribedEvent
	errs         chan centrifuge.SubscriptionErrorEvent
	pubs         chan centrifuge.PublicationEvent
	joins        chan centrifuge.JoinEvent
	leaves       chan centrifuge.LeaveEvent
}

func newSub(t *testing.T, c *sdkClient, channel string, cfg centrifuge.SubscriptionConfig) *sdkSub {
	t.Helper()
	sub, err := c.NewSubscription(channel, cfg)
	if err != nil {
		t.Fatalf("NewSubscription(%q): %v", channel, err)
	}
	s := &sdkSub{
		Subscription: sub,
		subscribed:   make(chan centrifuge.SubscribedEvent, 100),
		subscribing:  make(chan centrifuge.SubscribingEvent, 100),
		unsubscribed: make(chan centrifuge.UnsubscribedEvent, 100),
		errs:         make(chan centrifuge.SubscriptionErrorEvent, 100),
		pubs:         make(chan centrifuge.PublicationEvent, 1000),
		joins:        make(chan centrifuge.JoinEvent, 100),
		leaves:       make(chan centrifuge.LeaveEvent, 100),
	}
	sub.OnSubscribed(func(e centrifuge.SubscribedEvent) { push(s.subscribed, e) })
	sub.OnSubscribing(func(e centrifuge.SubscribingEvent) { push(s.subscribing, e) })
	sub.OnUnsubscribed(func(e centrifuge.UnsubscribedEvent) { push(s.unsubscribed, e) })
	sub.OnError(func(e centrifuge.SubscriptionErrorEvent) { push(s.errs, e) })
	sub.OnPublication(func(e centrifuge.PublicationEvent) { push(s.pubs, e) })
	sub.OnJoin(func(e centrifuge.JoinEvent) { push(s.joins, e) })
	sub.OnLeave(func(e centrifuge.LeaveEvent) { push(s.leaves, e) })
	return s
}

// subscribe creates a subscription to channel and waits for it to be
// subscribed.
func subscribe(t *testing.T, c *sdkClient, channel string, cfg centrifuge.SubscriptionConfig) (*sdkSub, centrifuge.SubscribedEvent) {
	t.Helper()
	s := newSub(t, c, channel, cfg)
	if err := s.Subscribe(); err != nil {
		t.Fatalf("Subscribe(%q): %v", channel, err)
	}
	return s, s.waitSubscribed(t)
}

func (s *sdkSub) waitSubscribed(t *testing.T) centrifuge.SubscribedEvent {
	t.Helper()
	select {
	case ev := <-s.subscribed:
		drain(s.subscribing) // the subscribing events that led here
		return ev
	case ev := <-s.unsubscribed:
		t.Fatalf("%s: unsubscribed (code %d %q) instead of subscribed", s.Channel, ev.Code, ev.Reason)
	case <-time.After(waitTimeout):
		t.Fatalf("%s: not subscribed within %v (state %s)", s.Channel, waitTimeout, s.State())
	}
	return centrifuge.SubscribedEvent{}
}

// expectSubscribeError subscribes to channel and expects a subscribe error
// with code, followed by the terminal unsubscribed event with the same code.
func expectSubscribeError(t *testing.T, c *sdkClient, channel string, cfg centrifuge.SubscriptionConfig, code uint32) {
	t.Helper()
	s := newSub(t, c, channel, cfg)
	if err := s.Subscribe(); err != nil {
		t.Fatalf("Subscribe(%q): %v", channel, err)
	}
	select {
	case ev := <-s.errs:
		if got := serverErrorCode(ev.Error); got != code {
			t.Fatalf("%s: subscribe error = %v, want server error code %d", channel, ev.Error, code)
		}
	case ev := <-s.subscribed:
		t.Fatalf("%s: subscribed (%+v), want error %d", channel, ev, code)
	case <-time.After(waitTimeout):
		t.Fatalf("%s: no subscribe error within %v", channel, waitTimeout)
	}
	ev := receive(t, s.unsubscribed, waitTimeout, channel+" unsubscribed event")
	if ev.Code != code {
		t.Fatalf("%s: unsubscribed code = %d (%q), want %d", channel, ev.Code, ev.Reason, code)
	}
	// Forget it so the channel can be subscribed again later.
	if err := c.RemoveSubscription(s.Subscription); err != nil {
		t.Fatalf("RemoveSubscription(%q): %v", channel, err)
	}
}

// serverErrorCode returns the code of a *centrifuge.Error inside err, or 0.
func serverErrorCode(err error) uint32 {
	var e *centrifuge.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func ctxTimeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// expectPub waits for the next publication and checks its data.
func (s *sdkSub) expectPub(t *testing.T, want string) centrifuge.PublicationEvent {
	t.Helper()
	ev := receive(t, s.pubs, waitTimeout, fmt.Sprintf("publication %s on %s", want, s.Channel))
	if !jsonEqual(ev.Data, []byte(want)) {
		t.Fatalf("%s: publication data = %s, want %s", s.Channel, ev.Data, want)
	}
	return ev
}
