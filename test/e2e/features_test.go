package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/golang-jwt/jwt/v5"
)

// TestSDKPingPong: SDK clients answer short-interval server pings and stay
// connected across several of them.
func TestSDKPingPong(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, withClient(map[string]any{"ping_interval": "2s", "pong_timeout": "1s"}))
		c, _ := connectSDK(t, s, p, "u1")
		sub, _ := subscribe(t, c, "chat:ping", centrifuge.SubscriptionConfig{})
		select {
		case ev := <-c.disconnected:
			t.Fatalf("disconnected (code %d %q) while answering pings", ev.Code, ev.Reason)
		case ev := <-c.connecting:
			t.Fatalf("reconnecting (code %d %q) while answering pings", ev.Code, ev.Reason)
		case <-time.After(5500 * time.Millisecond): // two or three ping rounds
		}
		s.publish(t, "chat:ping", "pong ok")
		sub.expectPub(t, `"pong ok"`)
	})
}

// TestSDKCompression: permessage-deflate negotiated by the SDK.
func TestSDKCompression(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, withSection("websocket", map[string]any{"compression": true}))
		c := newSDKClient(t, s, p, centrifuge.Config{Token: connToken(t, "u1", nil), EnableCompression: true})
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		c.waitConnected(t)
		sub, _ := subscribe(t, c, "chat:deflate", centrifuge.SubscriptionConfig{})
		big := `"` + strings.Repeat("compress me ", 5000) + `"`
		s.apiRaw(t, "/api/publish", []byte(`{"channel":"chat:deflate","data":`+big+`}`), apiKeyHeader)
		sub.expectPub(t, big)
		if _, err := sub.Publish(ctxTimeout(t), []byte(big)); err != nil {
			t.Fatalf("client publish over a compressed connection: %v", err)
		}
		sub.expectPub(t, big)
	})
}

// shortHistory adds namespace "short": 3 publications kept for 2 seconds.
func shortHistory(cfg map[string]any) {
	ch := cfg["channel"].(map[string]any)
	ch["namespaces"] = append(ch["namespaces"].([]any), map[string]any{
		"name":                         "short",
		"history_size":                 3,
		"history_ttl":                  "2s",
		"force_recovery":               true,
		"allow_subscribe_for_client":   true,
		"allow_history_for_subscriber": true,
	})
}

// TestHistoryRetention checks history_size and history_ttl, and recovery
// across evicted and expired publications (COMPAT.md §4.4, §8).
func TestHistoryRetention(t *testing.T) {
	t.Parallel()
	s := startServer(t, shortHistory)
	var epoch string
	for i := 1; i <= 5; i++ {
		res := s.publish(t, "short:a", map[string]any{"i": i})
		epoch, _ = res["epoch"].(string)
	}
	res := s.apiResult(t, "history", map[string]any{"channel": "short:a", "limit": -1})
	pubs, _ := res["publications"].([]any)
	if len(pubs) != 3 || res["offset"] != float64(5) || res["epoch"] != epoch {
		t.Fatalf("history = %s, want the last 3 of 5 publications, offset 5, epoch %s", jsonOf(t, res), epoch)
	}
	if p0, _ := pubs[0].(map[string]any); p0["offset"] != float64(3) {
		t.Errorf("oldest kept publication = %v, want offset 3", pubs[0])
	}

	c := dialRaw(t, s)
	c.connectJSON(connToken(t, "u1", nil))
	recoverFrom := func(id, offset int) map[string]any {
		t.Helper()
		c.sendText(fmt.Sprintf(`{"id":%d,"subscribe":{"channel":"short:a","recover":true,"offset":%d,"epoch":%q}}`, id, offset, epoch))
		r := c.nextNonPingJSON(waitTimeout)
		sub, _ := r["subscribe"].(map[string]any)
		if sub == nil {
			t.Fatalf("subscribe reply = %v", r)
		}
		c.sendText(fmt.Sprintf(`{"id":%d,"unsubscribe":{"channel":"short:a"}}`, id+1))
		c.nextNonPingJSON(waitTimeout)
		return sub
	}
	if sub := recoverFrom(2, 1); sub["recovered"] == true || sub["was_recovering"] != true {
		t.Errorf("recover from offset 1 after eviction of offset 2 = %v, want was_recovering and not recovered", sub)
	}
	sub := recoverFrom(4, 2)
	got, _ := sub["publications"].([]any)
	if sub["recovered"] != true || len(got) != 3 {
		t.Errorf("recover from offset 2 = %v, want recovered with offsets 3..5", sub)
	}

	eventually(t, 6*time.Second, func() error {
		res := s.apiResult(t, "history", map[string]any{"channel": "short:a", "limit": -1})
		if pubs, _ := res["publications"].([]any); len(pubs) != 0 {
			return fmt.Errorf("history still has %d publications", len(pubs))
		}
		if res["offset"] != float64(5) || res["epoch"] != epoch {
			return fmt.Errorf("history position after TTL = %v/%v, want 5/%s (meta outlives publications)", res["offset"], res["epoch"], epoch)
		}
		return nil
	})
	if sub := recoverFrom(6, 5); sub["recovered"] != true || sub["epoch"] != epoch {
		t.Errorf("recover from the top offset after TTL = %v, want recovered with epoch %s", sub, epoch)
	}
}

// TestAPIPublishOptions checks tags, skip_history and idempotency_key.
func TestAPIPublishOptions(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t)
		c, _ := connectSDK(t, s, p, "u1")
		sub, _ := subscribe(t, c, "chat:opt", centrifuge.SubscriptionConfig{})

		s.apiResult(t, "publish", map[string]any{"channel": "chat:opt", "data": 1, "tags": map[string]string{"kind": "num"}})
		if pub := sub.expectPub(t, `1`); pub.Tags["kind"] != "num" || pub.Offset != 1 {
			t.Errorf("publication tags/offset = %v/%d, want kind=num @1", pub.Tags, pub.Offset)
		}

		s.apiResult(t, "publish", map[string]any{"channel": "chat:opt", "data": 2, "skip_history": true})
		if pub := sub.expectPub(t, `2`); pub.Offset != 0 {
			t.Errorf("skip_history publication offset = %d, want 0", pub.Offset)
		}

		first := s.apiResult(t, "publish", map[string]any{"channel": "chat:opt", "data": 3, "idempotency_key": "k1"})
		again := s.apiResult(t, "publish", map[string]any{"channel": "chat:opt", "data": 3, "idempotency_key": "k1"})
		if first["offset"] != float64(2) || again["offset"] != first["offset"] || again["epoch"] != first["epoch"] {
			t.Errorf("idempotent publish results %v then %v, want the same offset 2", first, again)
		}
		sub.expectPub(t, `3`)
		s.apiResult(t, "publish", map[string]any{"channel": "chat:opt", "data": 4})
		if pub := sub.expectPub(t, `4`); pub.Offset != 3 {
			t.Errorf("publication after a duplicate has offset %d, want 3 (the duplicate was published twice?)", pub.Offset)
		}
		res := s.apiResult(t, "history", map[string]any{"channel": "chat:opt", "limit": -1})
		if pubs, _ := res["publications"].([]any); len(pubs) != 3 {
			t.Errorf("history = %s, want 3 publications (skip_history and the duplicate excluded)", jsonOf(t, res))
		}
	})
}

// TestReloadSIGHUP: SIGHUP rereads the configuration file: new namespaces
// and rotated token keys apply to new operations, existing connections
// stay (COMPAT.md §5.4, §7.1).
func TestReloadSIGHUP(t *testing.T) {
	t.Parallel()
	const rotated = testSecret + "-rotated"
	s := startServer(t)
	c, first := connectSDK(t, s, sdkProtocols[0], "u1")
	expectSubscribeError(t, c, "late:x", centrifuge.SubscriptionConfig{}, 102)

	s.Reload(t, func(cfg map[string]any) {
		cfg["client"].(map[string]any)["token"] = map[string]any{"hmac_secret_key": rotated}
		ch := cfg["channel"].(map[string]any)
		ch["namespaces"] = append(ch["namespaces"].([]any), map[string]any{
			"name": "late", "allow_subscribe_for_client": true,
		})
	})
	sub, _ := subscribe(t, c, "late:x", centrifuge.SubscriptionConfig{})
	s.publish(t, "late:x", "reloaded")
	sub.expectPub(t, `"reloaded"`)
	select {
	case ev := <-c.connected:
		t.Fatalf("existing client reconnected as %s (was %s) on reload", ev.ClientID, first.ClientID)
	default:
	}

	old := dialRaw(t, s)
	old.sendText(fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, connToken(t, "u2", nil)))
	old.expectClose(3500, "invalid token", waitTimeout)

	newTok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u2"}).SignedString([]byte(rotated))
	if err != nil {
		t.Fatal(err)
	}
	dialRaw(t, s).connectJSON(newTok)
}
