package e2e

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/golang-jwt/jwt/v5"
)

func TestSDKConnect(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, ev := connectSDK(t, s, p, "u1")
		if ev.ClientID == "" {
			t.Error("ConnectedEvent.ClientID is empty")
		}
		if ev.Version == "" {
			t.Error("ConnectedEvent.Version is empty")
		}
		if st := c.State(); st != centrifuge.StateConnected {
			t.Errorf("state = %s, want connected", st)
		}
	})
}

func TestSDKBadToken(t *testing.T) {
	t.Parallel()
	wrongKey, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "u1", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte("some-other-secret-key-of-sufficient-length"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(t *testing.T) string{
		"wrong key":     func(*testing.T) string { return wrongKey },
		"garbage":       func(*testing.T) string { return "not-a-jwt" },
		"channel claim": func(t *testing.T) string { return connToken(t, "u1", jwt.MapClaims{"channel": "chat:x"}) },
	}
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		for name, tok := range cases {
			t.Run(name, func(t *testing.T) {
				c := newSDKClient(t, s, p, centrifuge.Config{Token: tok(t)})
				if err := c.Connect(); err != nil {
					t.Fatalf("Connect: %v", err)
				}
				select {
				case ev := <-c.disconnected:
					if ev.Code != 3500 {
						t.Fatalf("disconnected with code %d (%q), want 3500 invalid token", ev.Code, ev.Reason)
					}
				case <-c.connected:
					t.Fatal("connected with a bad token")
				case <-time.After(waitTimeout):
					t.Fatalf("no disconnect within %v (state %s)", waitTimeout, c.State())
				}
				if st := c.State(); st != centrifuge.StateDisconnected {
					t.Fatalf("state = %s, want disconnected (no reconnect after 3500)", st)
				}
			})
		}
		// The bad clients did not affect a well-behaved one.
		connectSDK(t, s, p, "u2")
	})
}

func TestSDKExpiredTokenRefresh(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		var calls atomic.Int32
		expired := connToken(t, "u1", jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})
		fresh := connToken(t, "u1", nil)
		c := newSDKClient(t, s, p, centrifuge.Config{
			Token: expired,
			GetToken: func(centrifuge.ConnectionTokenEvent) (string, error) {
				calls.Add(1)
				return fresh, nil
			},
		})
		if err := c.Connect(); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		c.waitConnected(t)
		if n := calls.Load(); n < 1 {
			t.Fatalf("GetToken called %d times, want >= 1", n)
		}
		// The first attempt must have failed with 109 token expired.
		var saw109 bool
		for len(c.errs) > 0 {
			ev := <-c.errs
			var ce centrifuge.ConnectError
			if errors.As(ev.Error, &ce) && serverErrorCode(ce.Err) == 109 {
				saw109 = true
			}
		}
		if !saw109 {
			t.Error("no connect error 109 (token expired) reported before the refresh")
		}
	})
}

func TestSDKConnectionRefresh(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		const closeDelay = time.Second
		s := startServer(t, withClient(map[string]any{"expired_close_delay": "1s"}))
		exp := time.Now().Add(3 * time.Second)
		refreshed := make(chan struct{}, 10)
		c := newSDKClient(t, s, p, centrifuge.Config{
			Token: connToken(t, "u1", jwt.MapClaims{"exp": exp.Unix()}),
			GetToken: func(centrifuge.ConnectionTokenEvent) (string, error) {
				push(refreshed, struct{}{})
				return connToken(t, "u1", nil), nil
			},
		})
		sub := newSub(t, c, "chat:refresh", centrifuge.SubscriptionConfig{})
		if err := sub.Subscribe(); err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		first := c.waitConnected(t)
		sub.waitSubscribed(t)
		receive(t, refreshed, 10*time.Second, "token refresh (GetToken) before expiry")

		// No disconnect and no reconnect past exp + expired_close_delay.
		window := time.Until(exp.Add(closeDelay + 1500*time.Millisecond))
		select {
		case ev := <-c.disconnected:
			t.Fatalf("disconnected (code %d %q) despite a refreshed token", ev.Code, ev.Reason)
		case ev := <-c.connecting:
			t.Fatalf("reconnecting (code %d %q) despite a refreshed token", ev.Code, ev.Reason)
		case <-time.After(window):
		}
		if st := c.State(); st != centrifuge.StateConnected {
			t.Fatalf("state = %s after expiry window, want connected", st)
		}
		s.publish(t, "chat:refresh", map[string]any{"after": "refresh"})
		sub.expectPub(t, `{"after":"refresh"}`)
		select {
		case ev := <-c.connected:
			t.Fatalf("reconnected as %s (first connection %s)", ev.ClientID, first.ClientID)
		default:
		}
	})
}

func TestSDKSubscribeAndAPIPublish(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		sub, ev := subscribe(t, c, "chat:sp", centrifuge.SubscriptionConfig{})
		if !ev.Recoverable || !ev.Positioned {
			t.Errorf("chat namespace has force_recovery; subscribed event = %+v, want recoverable+positioned", ev)
		}
		res := s.publish(t, "chat:sp", map[string]any{"text": "hello"})
		if off, _ := res["offset"].(float64); off != 1 {
			t.Errorf("publish result offset = %v, want 1 (result %v)", res["offset"], res)
		}
		pub := sub.expectPub(t, `{"text":"hello"}`)
		if pub.Offset != 1 {
			t.Errorf("publication offset = %d, want 1", pub.Offset)
		}
		if pub.Info != nil {
			t.Errorf("API publication carries client info %+v, want none", pub.Info)
		}
		// A channel without history: offset 0, data intact.
		sub2, _ := subscribe(t, c, "plain", centrifuge.SubscriptionConfig{})
		s.publish(t, "plain", []any{1, "two", 3.5, nil, true})
		if pub := sub2.expectPub(t, `[1,"two",3.5,null,true]`); pub.Offset != 0 {
			t.Errorf("offset in a channel without history = %d, want 0", pub.Offset)
		}
	})
}

func TestSDKClientPublish(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, cev := connectSDK(t, s, p, "u1")
		sub, _ := subscribe(t, c, "chat:cp", centrifuge.SubscriptionConfig{})
		if _, err := sub.Publish(ctxTimeout(t), []byte(`{"n":1}`)); err != nil {
			t.Fatalf("Publish in chat (allow_publish_for_subscriber): %v", err)
		}
		pub := sub.expectPub(t, `{"n":1}`)
		if pub.Info == nil || pub.Info.User != "u1" || pub.Info.Client != cev.ClientID {
			t.Errorf("client publication info = %+v, want user u1 client %s", pub.Info, cev.ClientID)
		}

		ro, _ := subscribe(t, c, "ro:cp", centrifuge.SubscriptionConfig{})
		_, err := ro.Publish(ctxTimeout(t), []byte(`{"n":2}`))
		if code := serverErrorCode(err); code != 103 {
			t.Fatalf("Publish in ro namespace: err = %v, want error 103 permission denied", err)
		}
		// Publishing without a subscription where the namespace allows clients.
		if _, err := c.Publish(ctxTimeout(t), "pub:x", []byte(`{"n":3}`)); err != nil {
			t.Fatalf("Publish in pub namespace (allow_publish_for_client): %v", err)
		}
		// ... and without permission.
		_, err = c.Publish(ctxTimeout(t), "chat:notsubscribed", []byte(`{"n":4}`))
		if code := serverErrorCode(err); code != 103 {
			t.Fatalf("Publish in chat without subscription: err = %v, want 103", err)
		}
		if st := c.State(); st != centrifuge.StateConnected {
			t.Fatalf("state = %s after a denied publish, want connected", st)
		}
	})
}

func TestSDKUnsubscribe(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		sub, _ := subscribe(t, c, "chat:un", centrifuge.SubscriptionConfig{})
		eventually(t, waitTimeout, func() error {
			if n := s.numClients(t, "chat:un"); n != 1 {
				return fmt.Errorf("num_clients = %d, want 1", n)
			}
			return nil
		})
		if err := sub.Unsubscribe(); err != nil {
			t.Fatalf("Unsubscribe: %v", err)
		}
		if ev := receive(t, sub.unsubscribed, waitTimeout, "unsubscribed event"); ev.Code != 0 {
			t.Errorf("unsubscribed code = %d (%q), want 0 (unsubscribe called)", ev.Code, ev.Reason)
		}
		eventually(t, waitTimeout, func() error {
			if n := s.numClients(t, "chat:un"); n != 0 {
				return fmt.Errorf("num_clients after unsubscribe = %d, want 0", n)
			}
			return nil
		})
		// The same channel can be subscribed again on the same connection.
		if err := sub.Subscribe(); err != nil {
			t.Fatal(err)
		}
		sub.waitSubscribed(t)
		s.publish(t, "chat:un", map[string]any{"again": true})
		sub.expectPub(t, `{"again":true}`)
	})
}

func TestSDKSubscribeErrors(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		t.Run("unknown namespace 102", func(t *testing.T) {
			expectSubscribeError(t, c, "nope:x", centrifuge.SubscriptionConfig{}, 102)
		})
		t.Run("private without token 103", func(t *testing.T) {
			expectSubscribeError(t, c, "$secret", centrifuge.SubscriptionConfig{}, 103)
		})
		t.Run("other user's channel 103", func(t *testing.T) {
			expectSubscribeError(t, c, "news#42", centrifuge.SubscriptionConfig{}, 103)
		})
		t.Run("too long 107", func(t *testing.T) {
			expectSubscribeError(t, c, "chat:"+strings.Repeat("a", 300), centrifuge.SubscriptionConfig{}, 107)
		})
		// Errors are replies, not disconnects.
		if st := c.State(); st != centrifuge.StateConnected {
			t.Fatalf("state = %s after subscribe errors, want connected", st)
		}
		subscribe(t, c, "chat:fine", centrifuge.SubscriptionConfig{})
	})
}

func TestSDKPrivateChannel(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		var calls atomic.Int32
		sub, _ := subscribe(t, c, "$x", centrifuge.SubscriptionConfig{
			GetToken: func(e centrifuge.SubscriptionTokenEvent) (string, error) {
				calls.Add(1)
				return subToken(t, "u1", e.Channel), nil
			},
		})
		if calls.Load() == 0 {
			t.Error("subscription GetToken was never called")
		}
		s.publish(t, "$x", map[string]any{"private": 1})
		sub.expectPub(t, `{"private":1}`)

		// A static subscription token works too.
		sub2, _ := subscribe(t, c, "$y", centrifuge.SubscriptionConfig{Token: subToken(t, "u1", "$y")})
		s.publish(t, "$y", "str")
		sub2.expectPub(t, `"str"`)
	})
}

func TestSDKUserLimitedChannel(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c42, _ := connectSDK(t, s, p, "42")
		sub, _ := subscribe(t, c42, "news#42", centrifuge.SubscriptionConfig{})
		subscribe(t, c42, "news#41,42", centrifuge.SubscriptionConfig{})
		c43, _ := connectSDK(t, s, p, "43")
		expectSubscribeError(t, c43, "news#42", centrifuge.SubscriptionConfig{}, 103)
		subscribe(t, c43, "news#41,43", centrifuge.SubscriptionConfig{})
		s.publish(t, "news#42", map[string]any{"for": "42"})
		sub.expectPub(t, `{"for":"42"}`)
	})
}

func TestSDKPresence(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c1, e1 := connectSDK(t, s, p, "u1")
		c2, e2 := connectSDK(t, s, p, "u2")
		sub1, _ := subscribe(t, c1, "chat:pr", centrifuge.SubscriptionConfig{})
		subscribe(t, c2, "chat:pr", centrifuge.SubscriptionConfig{})

		eventually(t, waitTimeout, func() error {
			res, err := sub1.Presence(ctxTimeout(t))
			if err != nil {
				return fmt.Errorf("Presence: %w", err)
			}
			if len(res.Clients) != 2 {
				return fmt.Errorf("presence has %d clients, want 2: %+v", len(res.Clients), res.Clients)
			}
			for id, user := range map[string]string{e1.ClientID: "u1", e2.ClientID: "u2"} {
				info, ok := res.Clients[id]
				if !ok || info.User != user || info.Client != id {
					return fmt.Errorf("presence entry %s = %+v (present %v), want user %s", id, info, ok, user)
				}
			}
			return nil
		})
		stats, err := sub1.PresenceStats(ctxTimeout(t))
		if err != nil {
			t.Fatalf("PresenceStats: %v", err)
		}
		if stats.NumClients != 2 || stats.NumUsers != 2 {
			t.Errorf("presence stats = %+v, want 2 clients 2 users", stats.PresenceStats)
		}
		// Presence is off in the ro namespace: 108.
		ro, _ := subscribe(t, c1, "ro:pr", centrifuge.SubscriptionConfig{})
		if _, err := ro.Presence(ctxTimeout(t)); serverErrorCode(err) != 108 {
			t.Errorf("Presence in ro namespace: err = %v, want 108 not available", err)
		}
		// Presence without a subscription needs allow_presence_for_client: 103.
		if _, err := c2.Presence(ctxTimeout(t), "chat:other"); serverErrorCode(err) != 103 {
			t.Errorf("Presence of a channel not subscribed: err = %v, want 103", err)
		}
	})
}

func TestSDKHistory(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		for i := 1; i <= 3; i++ {
			s.publish(t, "chat:hist", map[string]any{"n": i})
		}
		c, _ := connectSDK(t, s, p, "u1")
		sub, ev := subscribe(t, c, "chat:hist", centrifuge.SubscriptionConfig{})
		if ev.StreamPosition == nil || ev.StreamPosition.Offset != 3 || ev.StreamPosition.Epoch == "" {
			t.Errorf("subscribed stream position = %+v, want offset 3 and an epoch", ev.StreamPosition)
		}
		all, err := sub.History(ctxTimeout(t), centrifuge.WithHistoryLimit(-1))
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if len(all.Publications) != 3 || all.Offset != 3 || all.Epoch == "" {
			t.Fatalf("history = %d pubs, offset %d, epoch %q; want 3 pubs, offset 3", len(all.Publications), all.Offset, all.Epoch)
		}
		for i, pub := range all.Publications {
			if want := fmt.Sprintf(`{"n":%d}`, i+1); !jsonEqual(pub.Data, []byte(want)) || pub.Offset != uint64(i+1) {
				t.Errorf("history[%d] = %s @%d, want %s @%d", i, pub.Data, pub.Offset, want, i+1)
			}
		}
		top, err := sub.History(ctxTimeout(t))
		if err != nil {
			t.Fatalf("History (limit 0): %v", err)
		}
		if len(top.Publications) != 0 || top.Offset != 3 || top.Epoch != all.Epoch {
			t.Errorf("history limit 0 = %d pubs, offset %d, epoch %q; want only the position 3/%s", len(top.Publications), top.Offset, top.Epoch, all.Epoch)
		}
		last, err := sub.History(ctxTimeout(t), centrifuge.WithHistoryLimit(1), centrifuge.WithHistoryReverse(true))
		if err != nil {
			t.Fatalf("History (reverse): %v", err)
		}
		if len(last.Publications) != 1 || last.Publications[0].Offset != 3 {
			t.Errorf("reverse history limit 1 = %+v, want the publication at offset 3", last.Publications)
		}
		since, err := sub.History(ctxTimeout(t), centrifuge.WithHistoryLimit(10),
			centrifuge.WithHistorySince(&centrifuge.StreamPosition{Offset: 1, Epoch: all.Epoch}))
		if err != nil {
			t.Fatalf("History (since 1): %v", err)
		}
		if len(since.Publications) != 2 || since.Publications[0].Offset != 2 {
			t.Errorf("history since offset 1 = %+v, want offsets 2 and 3", since.Publications)
		}
		ro, _ := subscribe(t, c, "ro:hist", centrifuge.SubscriptionConfig{})
		if _, err := ro.History(ctxTimeout(t), centrifuge.WithHistoryLimit(-1)); serverErrorCode(err) != 108 {
			t.Errorf("History in ro namespace: err = %v, want 108 not available", err)
		}
	})
}

func TestSDKServerSideSubscriptions(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c := newSDKClient(t, s, p, centrifuge.Config{
			Token: connToken(t, "u1", jwt.MapClaims{"channels": []string{"chat:srv", "plain-srv"}}),
		})
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		c.waitConnected(t)
		got := map[string]centrifuge.ServerSubscribedEvent{}
		for len(got) < 2 {
			ev := receive(t, c.serverSubs, waitTimeout, "server-side subscribed events")
			got[ev.Channel] = ev
		}
		if ev, ok := got["chat:srv"]; !ok || !ev.Recoverable || !ev.Positioned {
			t.Errorf("chat:srv server subscription = %+v (present %v), want recoverable+positioned", ev, ok)
		}
		if _, ok := got["plain-srv"]; !ok {
			t.Errorf("no server subscription to plain-srv: %v", got)
		}
		s.publish(t, "chat:srv", map[string]any{"server": "side"})
		ev := receive(t, c.serverPubs, waitTimeout, "server-side publication")
		if ev.Channel != "chat:srv" || !jsonEqual(ev.Data, []byte(`{"server":"side"}`)) || ev.Offset != 1 {
			t.Errorf("server-side publication = %s %s @%d, want chat:srv {\"server\":\"side\"} @1", ev.Channel, ev.Data, ev.Offset)
		}

		// Runtime server-side subscription through the API subscribe method.
		s.apiResult(t, "subscribe", map[string]any{"user": "u1", "channel": "chat:runtime"})
		rt := receive(t, c.serverSubs, waitTimeout, "subscribe push for API subscribe")
		if rt.Channel != "chat:runtime" {
			t.Fatalf("subscribe push for channel %q, want chat:runtime", rt.Channel)
		}
		s.publish(t, "chat:runtime", 42)
		ev = receive(t, c.serverPubs, waitTimeout, "publication on the runtime subscription")
		if ev.Channel != "chat:runtime" || string(ev.Data) != "42" {
			t.Errorf("publication = %s %s, want chat:runtime 42", ev.Channel, ev.Data)
		}
	})
}

func TestSDKAPIDisconnect(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c1, _ := connectSDK(t, s, p, "u1")
		c2, _ := connectSDK(t, s, p, "u2")
		s.apiResult(t, "disconnect", map[string]any{"user": "u1"})
		ev := receive(t, c1.disconnected, waitTimeout, "disconnected event after API disconnect")
		if ev.Code != 3503 {
			t.Errorf("disconnect code = %d (%q), want 3503 force disconnect", ev.Code, ev.Reason)
		}
		if st := c1.State(); st != centrifuge.StateDisconnected {
			t.Errorf("state = %s, want disconnected (3503 is terminal)", st)
		}
		if st := c2.State(); st != centrifuge.StateConnected {
			t.Errorf("other user's client state = %s, want connected", st)
		}

		// A custom reconnect code (4000-4499): the SDK reconnects.
		s.apiResult(t, "disconnect", map[string]any{"user": "u2", "disconnect": map[string]any{"code": 4000, "reason": "come back"}})
		cev := receive(t, c2.connecting, waitTimeout, "connecting event after API disconnect 4000")
		if cev.Code != 4000 || cev.Reason != "come back" {
			t.Errorf("connecting event = %+v, want code 4000 reason \"come back\"", cev)
		}
		c2.waitConnected(t)
	})
}

func TestSDKAPIUnsubscribe(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		sub, _ := subscribe(t, c, "chat:au", centrifuge.SubscriptionConfig{})
		keep, _ := subscribe(t, c, "chat:keep", centrifuge.SubscriptionConfig{})
		s.apiResult(t, "unsubscribe", map[string]any{"user": "u1", "channel": "chat:au"})
		ev := receive(t, sub.unsubscribed, waitTimeout, "unsubscribed event after API unsubscribe")
		if ev.Code != 2000 {
			t.Errorf("unsubscribed code = %d (%q), want 2000 server unsubscribe", ev.Code, ev.Reason)
		}
		if st := sub.State(); st != centrifuge.SubStateUnsubscribed {
			t.Errorf("subscription state = %s, want unsubscribed", st)
		}
		s.publish(t, "chat:keep", "still here")
		keep.expectPub(t, `"still here"`)
	})
}

func TestSDKRecovery(t *testing.T) {
	t.Parallel()
	const n = 5
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		sub, first := subscribe(t, c, "chat:rec", centrifuge.SubscriptionConfig{})
		if !first.Recoverable {
			t.Fatalf("subscribed event = %+v, want recoverable (force_recovery)", first)
		}
		s.publish(t, "chat:rec", map[string]any{"i": 0})
		sub.expectPub(t, `{"i":0}`)

		if err := c.Disconnect(); err != nil {
			t.Fatalf("Disconnect: %v", err)
		}
		receive(t, c.disconnected, waitTimeout, "disconnected event")
		eventually(t, waitTimeout, func() error {
			if n := s.numClients(t, "chat:rec"); n != 0 {
				return fmt.Errorf("num_clients = %d, want 0 once disconnected", n)
			}
			return nil
		})
		for i := 1; i <= n; i++ {
			s.publish(t, "chat:rec", map[string]any{"i": i})
		}
		if err := c.Connect(); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		c.waitConnected(t)
		ev := sub.waitSubscribed(t)
		if !ev.WasRecovering || !ev.Recovered {
			t.Errorf("resubscribe event = %+v, want WasRecovering and Recovered", ev)
		}
		for i := 1; i <= n; i++ {
			pub := sub.expectPub(t, fmt.Sprintf(`{"i":%d}`, i))
			if pub.Offset != uint64(i+1) {
				t.Errorf("recovered publication %d has offset %d, want %d", i, pub.Offset, i+1)
			}
		}
		// Exactly n: the next publication is a new live one, no duplicates.
		s.publish(t, "chat:rec", map[string]any{"i": "live"})
		if pub := sub.expectPub(t, `{"i":"live"}`); pub.Offset != n+2 {
			t.Errorf("live publication offset = %d, want %d", pub.Offset, n+2)
		}
	})
}
