package e2e

import (
	"fmt"
	"testing"

	"github.com/centrifugal/centrifuge-go"
	"github.com/golang-jwt/jwt/v5"
)

// cutAndWait resets the client's TCP connection under it (the proxy stays
// down so it cannot reconnect yet) and waits until the SDK noticed and the
// server dropped the connection from the channel's presence.
func cutAndWait(t *testing.T, s *server, px *tcpProxy, c *sdkClient, channel string) {
	t.Helper()
	drain(c.connecting)
	px.Cut()
	ev := receive(t, c.connecting, waitTimeout, "connecting event after the TCP connection was reset")
	if ev.Code == 0 {
		t.Logf("connecting event after reset: %+v", ev)
	}
	if channel == "" {
		return
	}
	eventually(t, waitTimeout, func() error {
		if n := s.numClients(t, channel); n != 0 {
			return fmt.Errorf("num_clients(%s) = %d after the reset, want 0", channel, n)
		}
		return nil
	})
}

// TestRecoveryAfterAbruptCut: a subscriber whose TCP connection is reset
// gets exactly the publications it missed, in order, with recovered=true.
func TestRecoveryAfterAbruptCut(t *testing.T) {
	t.Parallel()
	const n = 10
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		px := newTCPProxy(t, s.Addr)
		c, _ := connectSDKURL(t, px.WSURL(), p, "u1")
		sub, first := subscribe(t, c, "chat:cut", centrifuge.SubscriptionConfig{})
		if !first.Recoverable || first.StreamPosition == nil {
			t.Fatalf("subscribed event = %+v, want recoverable with a stream position", first)
		}
		s.publish(t, "chat:cut", map[string]any{"i": 0})
		sub.expectPub(t, `{"i":0}`)

		for round := 1; round <= 2; round++ {
			cutAndWait(t, s, px, c, "chat:cut")
			base := (round - 1) * (n + 1)
			for i := 1; i <= n; i++ {
				s.publish(t, "chat:cut", map[string]any{"i": base + i})
			}
			px.Restore()
			c.waitConnected(t)
			ev := sub.waitSubscribed(t)
			if !ev.WasRecovering || !ev.Recovered {
				t.Errorf("round %d: resubscribe event = %+v, want WasRecovering and Recovered", round, ev)
			}
			if ev.StreamPosition == nil || ev.StreamPosition.Epoch != first.StreamPosition.Epoch {
				t.Errorf("round %d: stream position %+v, want epoch %s", round, ev.StreamPosition, first.StreamPosition.Epoch)
			}
			for i := 1; i <= n; i++ {
				pub := sub.expectPub(t, fmt.Sprintf(`{"i":%d}`, base+i))
				if want := uint64(base + i + 1); pub.Offset != want {
					t.Errorf("round %d: recovered publication %d has offset %d, want %d", round, i, pub.Offset, want)
				}
			}
			// Exactly n: the next one is live, nothing in between.
			s.publish(t, "chat:cut", map[string]any{"i": base + n + 1})
			if pub := sub.expectPub(t, fmt.Sprintf(`{"i":%d}`, base+n+1)); pub.Offset != uint64(base+n+2) {
				t.Errorf("round %d: live publication offset = %d, want %d", round, pub.Offset, base+n+2)
			}
			sub.expectNoPub(t)
		}
	})
}

// TestRecoveryAcrossEpochChange: the server is replaced by a fresh one (a
// memory engine restart: the stream and its epoch are gone) while the
// client is cut off; it comes back with recovered=false, the new epoch, and
// none of the lost publications replayed.
func TestRecoveryAcrossEpochChange(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s1 := startServer(t)
		px := newTCPProxy(t, s1.Addr)
		c, _ := connectSDKURL(t, px.WSURL(), p, "u1")
		sub, first := subscribe(t, c, "chat:epoch", centrifuge.SubscriptionConfig{})
		for i := 1; i <= 2; i++ {
			s1.publish(t, "chat:epoch", map[string]any{"old": i})
			sub.expectPub(t, fmt.Sprintf(`{"old":%d}`, i))
		}
		s2 := startServer(t)
		px.SetTarget(s2.Addr)
		cutAndWait(t, s1, px, c, "chat:epoch")
		for i := 1; i <= 3; i++ {
			s2.publish(t, "chat:epoch", map[string]any{"new": i})
		}
		px.Restore()
		c.waitConnected(t)
		ev := sub.waitSubscribed(t)
		if !ev.WasRecovering || ev.Recovered {
			t.Errorf("resubscribe across an epoch change = %+v, want WasRecovering and not Recovered", ev)
		}
		if ev.StreamPosition == nil || ev.StreamPosition.Epoch == first.StreamPosition.Epoch || ev.StreamPosition.Offset != 3 {
			t.Errorf("stream position %+v, want a new epoch (old %s) at offset 3", ev.StreamPosition, first.StreamPosition.Epoch)
		}
		s2.publish(t, "chat:epoch", map[string]any{"new": "live"})
		if pub := sub.expectPub(t, `{"new":"live"}`); pub.Offset != 4 {
			t.Errorf("live publication offset = %d, want 4", pub.Offset)
		}
		sub.expectNoPub(t)
	})
}

// TestRecoveryCacheMode: in cache mode a returning subscriber gets only the
// latest publication, and nothing when it is already at the top.
func TestRecoveryCacheMode(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, cacheNamespace)
		px := newTCPProxy(t, s.Addr)
		c, _ := connectSDKURL(t, px.WSURL(), p, "u1")
		sub, first := subscribe(t, c, "cache:x", centrifuge.SubscriptionConfig{})
		if !first.Recoverable {
			t.Fatalf("subscribed event = %+v, want recoverable", first)
		}
		s.publish(t, "cache:x", map[string]any{"v": 0})
		sub.expectPub(t, `{"v":0}`)

		cutAndWait(t, s, px, c, "")
		for i := 1; i <= 5; i++ {
			s.publish(t, "cache:x", map[string]any{"v": i})
		}
		px.Restore()
		c.waitConnected(t)
		ev := sub.waitSubscribed(t)
		if !ev.WasRecovering || !ev.Recovered {
			t.Errorf("cache-mode resubscribe = %+v, want WasRecovering and Recovered", ev)
		}
		if pub := sub.expectPub(t, `{"v":5}`); pub.Offset != 6 {
			t.Errorf("cached publication offset = %d, want 6", pub.Offset)
		}
		s.publish(t, "cache:x", map[string]any{"v": "live1"})
		if pub := sub.expectPub(t, `{"v":"live1"}`); pub.Offset != 7 {
			t.Errorf("live publication offset = %d, want 7", pub.Offset)
		}

		// Already at the top: nothing is replayed.
		cutAndWait(t, s, px, c, "")
		px.Restore()
		c.waitConnected(t)
		if ev := sub.waitSubscribed(t); !ev.WasRecovering || !ev.Recovered {
			t.Errorf("cache-mode resubscribe at the top = %+v, want WasRecovering and Recovered", ev)
		}
		s.publish(t, "cache:x", map[string]any{"v": "live2"})
		if pub := sub.expectPub(t, `{"v":"live2"}`); pub.Offset != 8 {
			t.Errorf("live publication offset = %d, want 8", pub.Offset)
		}
		sub.expectNoPub(t)
	})
}

// TestPresenceAfterAbruptCut: other clients see the join and presence of a
// subscriber, its leave when its connection is reset, and its join again
// when it comes back.
func TestPresenceAfterAbruptCut(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		watcherClient, _ := connectSDK(t, s, p, "watcher")
		watcher, _ := subscribe(t, watcherClient, "chat:pres", centrifuge.SubscriptionConfig{JoinLeave: true})

		px := newTCPProxy(t, s.Addr)
		c, cev := connectSDKURL(t, px.WSURL(), p, "u-cut")
		subscribe(t, c, "chat:pres", centrifuge.SubscriptionConfig{})
		if j := receive(t, watcher.joins, waitTimeout, "join of u-cut"); j.User != "u-cut" || j.Client != cev.ClientID {
			t.Errorf("join = %+v, want u-cut/%s", j.ClientInfo, cev.ClientID)
		}
		pr, err := watcher.Presence(ctxTimeout(t))
		if err != nil {
			t.Fatalf("Presence: %v", err)
		}
		if ci, ok := pr.Clients[cev.ClientID]; !ok || ci.User != "u-cut" || len(pr.Clients) != 2 {
			t.Errorf("presence = %+v, want watcher and u-cut/%s", pr.Clients, cev.ClientID)
		}
		st, err := watcher.PresenceStats(ctxTimeout(t))
		if err != nil || st.NumClients != 2 || st.NumUsers != 2 {
			t.Errorf("presence stats = %+v, %v; want 2 clients, 2 users", st, err)
		}

		px.Cut()
		if l := receive(t, watcher.leaves, waitTimeout, "leave of u-cut after the reset"); l.Client != cev.ClientID {
			t.Errorf("leave = %+v, want client %s", l.ClientInfo, cev.ClientID)
		}
		eventually(t, waitTimeout, func() error {
			st, err := watcher.PresenceStats(ctxTimeout(t))
			if err != nil {
				return err
			}
			if st.NumClients != 1 || st.NumUsers != 1 {
				return fmt.Errorf("presence stats %+v, want 1/1 after the reset", st)
			}
			return nil
		})

		px.Restore()
		nev := c.waitConnected(t)
		if j := receive(t, watcher.joins, waitTimeout, "join of u-cut after reconnect"); j.User != "u-cut" || j.Client != nev.ClientID {
			t.Errorf("join after reconnect = %+v, want u-cut/%s", j.ClientInfo, nev.ClientID)
		}
		if n := s.numClients(t, "chat:pres"); n != 2 {
			t.Errorf("num_clients = %d after reconnect, want 2", n)
		}
	})
}

// TestServerSideRecoveryAfterAbruptCut: server-side subscriptions from the
// token's subs claim and (in another token) its channels claim recover
// after a reset connection. Like Centrifugo, a token with subs ignores its
// channels claim, so each claim gets its own client.
func TestServerSideRecoveryAfterAbruptCut(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		t.Run("subs", func(t *testing.T) {
			chs := []string{"chat:ss-subs1", "chat:ss-subs2"}
			serverSideCutRecover(t, s, p, jwt.MapClaims{"subs": map[string]any{chs[0]: map[string]any{}, chs[1]: map[string]any{"data": map[string]any{"x": 1}}}}, chs)
		})
		t.Run("channels", func(t *testing.T) {
			chs := []string{"chat:ss-ch1", "chat:ss-ch2"}
			serverSideCutRecover(t, s, p, jwt.MapClaims{"channels": chs}, chs)
		})
	})
}

func serverSideCutRecover(t *testing.T, s *server, p sdkProtocol, claims jwt.MapClaims, channels []string) {
	t.Helper()
	const n = 4
	px := newTCPProxy(t, s.Addr)
	c := newSDKClientURL(t, px.WSURL(), p, centrifuge.Config{Token: connToken(t, "u1", claims)})
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	c.waitConnected(t)
	got := map[string]centrifuge.ServerSubscribedEvent{}
	for len(got) < len(channels) {
		ev := receive(t, c.serverSubs, waitTimeout, "server-side subscribed events")
		got[ev.Channel] = ev
	}
	for _, ch := range channels {
		if ev, ok := got[ch]; !ok || !ev.Recoverable {
			t.Fatalf("server-side subscriptions %+v: want %s recoverable", got, ch)
		}
		s.publish(t, ch, map[string]any{"i": 0})
		if pub := receive(t, c.serverPubs, waitTimeout, "first publication on "+ch); pub.Channel != ch || pub.Offset != 1 {
			t.Fatalf("publication %s @%d on %s, want @1 on %s", pub.Data, pub.Offset, pub.Channel, ch)
		}
	}

	drain(c.connecting)
	px.Cut()
	receive(t, c.connecting, waitTimeout, "connecting event after the reset")
	for i := 1; i <= n; i++ {
		for _, ch := range channels {
			s.publish(t, ch, map[string]any{"i": i})
		}
	}
	px.Restore()
	c.waitConnected(t)
	got = map[string]centrifuge.ServerSubscribedEvent{}
	for len(got) < len(channels) {
		ev := receive(t, c.serverSubs, waitTimeout, "server-side subscribed events after reconnect")
		got[ev.Channel] = ev
	}
	for _, ch := range channels {
		if ev := got[ch]; !ev.WasRecovering || !ev.Recovered {
			t.Errorf("%s: server-side resubscribe = %+v, want WasRecovering and Recovered", ch, ev)
		}
	}
	next := map[string]int{}
	for _, ch := range channels {
		next[ch] = 1
	}
	for k := 0; k < len(channels)*n; k++ {
		pub := receive(t, c.serverPubs, waitTimeout, "recovered server-side publications")
		i := next[pub.Channel]
		if want := fmt.Sprintf(`{"i":%d}`, i); !jsonEqual(pub.Data, []byte(want)) || pub.Offset != uint64(i+1) {
			t.Errorf("%s: recovered %s @%d, want %s @%d", pub.Channel, pub.Data, pub.Offset, want, i+1)
		}
		next[pub.Channel] = i + 1
	}
	for _, ch := range channels {
		s.publish(t, ch, "live")
		if pub := receive(t, c.serverPubs, waitTimeout, "live publication"); pub.Channel != ch || pub.Offset != n+2 {
			t.Errorf("live publication %s @%d on %s, want @%d on %s", pub.Data, pub.Offset, pub.Channel, n+2, ch)
		}
	}
}
