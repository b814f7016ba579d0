package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/golang-jwt/jwt/v5"
)

func TestSDKJoinLeave(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c1, _ := connectSDK(t, s, p, "u1")
		watcher, _ := subscribe(t, c1, "chat:jl", centrifuge.SubscriptionConfig{JoinLeave: true})
		c2, e2 := connectSDK(t, s, p, "u2")
		sub2, _ := subscribe(t, c2, "chat:jl", centrifuge.SubscriptionConfig{})
		join := receive(t, watcher.joins, waitTimeout, "join of u2")
		if join.User != "u2" || join.Client != e2.ClientID {
			t.Errorf("join = %+v, want user u2 client %s", join.ClientInfo, e2.ClientID)
		}
		if err := sub2.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		leave := receive(t, watcher.leaves, waitTimeout, "leave of u2 (unsubscribe)")
		if leave.User != "u2" || leave.Client != e2.ClientID {
			t.Errorf("leave = %+v, want user u2 client %s", leave.ClientInfo, e2.ClientID)
		}

		// A client that goes away without unsubscribing also leaves.
		c3, e3 := connectSDK(t, s, p, "u3")
		subscribe(t, c3, "chat:jl", centrifuge.SubscriptionConfig{})
		if j := receive(t, watcher.joins, waitTimeout, "join of u3"); j.Client != e3.ClientID {
			t.Errorf("join = %+v, want client %s", j.ClientInfo, e3.ClientID)
		}
		c3.Close()
		if l := receive(t, watcher.leaves, waitTimeout, "leave of u3 (disconnect)"); l.Client != e3.ClientID {
			t.Errorf("leave = %+v, want client %s", l.ClientInfo, e3.ClientID)
		}
		eventually(t, waitTimeout, func() error {
			if n := s.numClients(t, "chat:jl"); n != 1 {
				return fmt.Errorf("num_clients = %d, want 1", n)
			}
			return nil
		})
	})
}

func TestSDKServerShutdown(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		if err := s.Terminate(t); err != nil {
			t.Errorf("herald exit after SIGTERM: %v, want status 0", err)
		}
		ev := receive(t, c.connecting, waitTimeout, "connecting event after server shutdown")
		if ev.Code != 3001 || ev.Reason != "shutdown" {
			t.Errorf("connecting event = %+v, want code 3001 reason shutdown", ev)
		}
	})
}

func TestSDKServerSideRecovery(t *testing.T) {
	t.Parallel()
	const n = 3
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c := newSDKClient(t, s, p, centrifuge.Config{Token: connToken(t, "u1", jwt.MapClaims{"channels": []string{"chat:ssr"}})})
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		c.waitConnected(t)
		receive(t, c.serverSubs, waitTimeout, "server-side subscribed event")
		s.publish(t, "chat:ssr", map[string]any{"i": 0})
		receive(t, c.serverPubs, waitTimeout, "first server-side publication")

		if err := c.Disconnect(); err != nil {
			t.Fatal(err)
		}
		receive(t, c.disconnected, waitTimeout, "disconnected event")
		eventually(t, waitTimeout, func() error {
			if n := s.numClients(t, "chat:ssr"); n != 0 {
				return fmt.Errorf("num_clients = %d, want 0", n)
			}
			return nil
		})
		for i := 1; i <= n; i++ {
			s.publish(t, "chat:ssr", map[string]any{"i": i})
		}
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		c.waitConnected(t)
		ev := receive(t, c.serverSubs, waitTimeout, "server-side subscribed event after reconnect")
		if ev.Channel != "chat:ssr" || !ev.WasRecovering || !ev.Recovered {
			t.Errorf("server-side resubscribe = %+v, want chat:ssr WasRecovering and Recovered", ev)
		}
		for i := 1; i <= n; i++ {
			pub := receive(t, c.serverPubs, waitTimeout, fmt.Sprintf("recovered publication %d", i))
			if want := fmt.Sprintf(`{"i":%d}`, i); !jsonEqual(pub.Data, []byte(want)) || pub.Offset != uint64(i+1) {
				t.Errorf("recovered publication = %s @%d, want %s @%d", pub.Data, pub.Offset, want, i+1)
			}
		}
		s.publish(t, "chat:ssr", "live")
		if pub := receive(t, c.serverPubs, waitTimeout, "live publication"); string(pub.Data) != `"live"` || pub.Offset != n+2 {
			t.Errorf("live publication = %s @%d, want \"live\" @%d", pub.Data, pub.Offset, n+2)
		}
	})
}

func TestSDKSubscriptionTokenRefresh(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, withClient(map[string]any{"expired_sub_close_delay": "1s"}))
		c, _ := connectSDK(t, s, p, "u1")
		exp := time.Now().Add(3 * time.Second)
		var calls atomic.Int32
		refreshed := make(chan struct{}, 10)
		sub, _ := subscribe(t, c, "$sr", centrifuge.SubscriptionConfig{
			GetToken: func(e centrifuge.SubscriptionTokenEvent) (string, error) {
				if calls.Add(1) == 1 {
					return token(t, jwt.MapClaims{"sub": "u1", "channel": e.Channel, "exp": exp.Unix()}), nil
				}
				push(refreshed, struct{}{})
				return subToken(t, "u1", e.Channel), nil
			},
		})
		receive(t, refreshed, 10*time.Second, "subscription token refresh")
		window := time.Until(exp.Add(time.Second + 1500*time.Millisecond))
		select {
		case ev := <-sub.unsubscribed:
			t.Fatalf("unsubscribed (code %d %q) despite a refreshed subscription token", ev.Code, ev.Reason)
		case ev := <-sub.subscribing:
			t.Fatalf("resubscribing (code %d %q) despite a refreshed subscription token", ev.Code, ev.Reason)
		case ev := <-c.connecting:
			t.Fatalf("reconnecting (code %d %q)", ev.Code, ev.Reason)
		case <-time.After(window):
		}
		s.publish(t, "$sr", "after")
		sub.expectPub(t, `"after"`)
	})
}

func TestSDKSubscriptionTokenExpired(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		var calls atomic.Int32
		expired := token(t, jwt.MapClaims{"sub": "u1", "channel": "$se", "exp": time.Now().Add(-time.Minute).Unix()})
		sub := newSub(t, c, "$se", centrifuge.SubscriptionConfig{
			Token: expired,
			GetToken: func(e centrifuge.SubscriptionTokenEvent) (string, error) {
				calls.Add(1)
				return subToken(t, "u1", e.Channel), nil
			},
		})
		if err := sub.Subscribe(); err != nil {
			t.Fatal(err)
		}
		ev := receive(t, sub.errs, waitTimeout, "subscribe error for the expired token")
		if code := serverErrorCode(ev.Error); code != 109 {
			t.Fatalf("subscribe error = %v, want 109 token expired", ev.Error)
		}
		sub.waitSubscribed(t)
		if calls.Load() == 0 {
			t.Error("GetToken not called after 109")
		}
	})
}

func TestSDKLimits(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, withClient(map[string]any{"channel_limit": 2, "user_connection_limit": 1}))
		c, _ := connectSDK(t, s, p, "u1")
		subscribe(t, c, "chat:l1", centrifuge.SubscriptionConfig{})
		subscribe(t, c, "chat:l2", centrifuge.SubscriptionConfig{})
		expectSubscribeError(t, c, "chat:l3", centrifuge.SubscriptionConfig{}, 106)

		c2 := newSDKClient(t, s, p, centrifuge.Config{Token: connToken(t, "u1", nil)})
		if err := c2.Connect(); err != nil {
			t.Fatal(err)
		}
		ev := receive(t, c2.disconnected, waitTimeout, "disconnect over user_connection_limit")
		if ev.Code != 3504 {
			t.Errorf("second connection of u1: disconnect code %d (%q), want 3504 connection limit", ev.Code, ev.Reason)
		}
		if st := c.State(); st != centrifuge.StateConnected {
			t.Errorf("first connection state = %s, want connected", st)
		}
		connectSDK(t, s, p, "u2") // other users are not limited
	})
}

func TestSDKAnonymous(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, withClient(map[string]any{"allow_anonymous_connect_without_token": true}))
		c := newSDKClient(t, s, p, centrifuge.Config{})
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		c.waitConnected(t)
		// allow_subscribe_for_client does not cover anonymous users.
		expectSubscribeError(t, c, "chat:anon", centrifuge.SubscriptionConfig{}, 103)
	})
}

func TestSDKAPIRefreshExpired(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		s.apiResult(t, "refresh", map[string]any{"user": "u1", "expired": true})
		ev := receive(t, c.connecting, waitTimeout, "reconnect after API refresh expired")
		if ev.Code != 3005 {
			t.Errorf("connecting event = %+v, want code 3005 connection expired", ev)
		}
	})
}

// TestSDKFanOutOrder has many subscribers of both protocols and several
// concurrent publishers; every subscriber sees every publication once, in
// offset order.
func TestSDKFanOutOrder(t *testing.T) {
	t.Parallel()
	const (
		clients    = 16
		publishers = 4
		perPub     = 50
		total      = publishers * perPub
	)
	s := startServer(t)
	subs := make([]*sdkSub, clients)
	for i := range subs {
		c, _ := connectSDK(t, s, sdkProtocols[i%2], fmt.Sprintf("fan%d", i))
		subs[i], _ = subscribe(t, c, "chat:fan", centrifuge.SubscriptionConfig{})
	}
	ctx := ctxTimeout(t)
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPub {
				// Half the publishers go through the API, half are clients.
				if p%2 == 0 {
					body := fmt.Sprintf(`{"channel":"chat:fan","data":{"p":%d,"i":%d}}`, p, i)
					r, err := s.post("/api/publish", []byte(body), apiKeyHeader)
					if err != nil || r.Status != 200 {
						errs <- fmt.Errorf("API publish: HTTP %d, %v", r.Status, err)
						return
					}
					continue
				}
				if _, err := subs[p].Publish(ctx, []byte(fmt.Sprintf(`{"p":%d,"i":%d}`, p, i))); err != nil {
					errs <- fmt.Errorf("client publish: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var first [][]byte
	for ci, sub := range subs {
		var got [][]byte
		for i := 1; i <= total; i++ {
			ev := receive(t, sub.pubs, waitTimeout, fmt.Sprintf("client %d publication %d", ci, i))
			if ev.Offset != uint64(i) {
				t.Fatalf("client %d: publication %d has offset %d", ci, i, ev.Offset)
			}
			got = append(got, ev.Data)
		}
		if ci == 0 {
			first = got
			continue
		}
		for i := range got {
			if !jsonEqual(got[i], first[i]) {
				t.Fatalf("client %d: publication at offset %d = %s, client 0 has %s", ci, i+1, got[i], first[i])
			}
		}
	}
}

// TestSDKWithWriteDelay: with client.write_delay, centrifuge-go receives
// every publication, in order and with its offset, from frames that carry
// several of them, and its RPC-style calls (a client publish) are answered
// without waiting for the delay to pass.
func TestSDKWithWriteDelay(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, withClient(map[string]any{"write_delay": "50ms", "max_messages_in_frame": 4}))
		c, _ := connectSDK(t, s, p, "u1")
		sub, _ := subscribe(t, c, "chat:wd", centrifuge.SubscriptionConfig{})
		const n = 30
		for i := 1; i <= n; i++ {
			s.publish(t, "chat:wd", map[string]any{"n": i})
		}
		for i := 1; i <= n; i++ {
			if pub := sub.expectPub(t, fmt.Sprintf(`{"n":%d}`, i)); pub.Offset != uint64(i) {
				t.Fatalf("publication %d has offset %d", i, pub.Offset)
			}
		}
		if _, err := sub.Publish(t.Context(), []byte(`{"from":"client"}`)); err != nil {
			t.Fatalf("client publish: %v", err)
		}
		sub.expectPub(t, `{"from":"client"}`)
	})
}
