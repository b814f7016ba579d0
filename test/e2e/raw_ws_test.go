package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/golang-jwt/jwt/v5"

	pb "github.com/centrifugal/protocol"
)

// TestRawJSONWireShapes checks the exact JSON of replies and pushes
// (COMPAT.md §1.5, §1.11).
func TestRawJSONWireShapes(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	t.Run("connect without exp", func(t *testing.T) {
		c := dialRaw(t, s, "centrifuge-json")
		res := c.connectJSON(connToken(t, "u1", jwt.MapClaims{"exp": nil}))
		if err := sameKeys(res, "client", "version", "ping", "pong"); err != nil {
			t.Fatal(err)
		}
		if id, _ := res["client"].(string); !uuidRE.MatchString(id) {
			t.Errorf("client = %v, want a UUID v4", res["client"])
		}
		if v, _ := res["version"].(string); v == "" {
			t.Errorf("version = %v, want a non-empty string", res["version"])
		}
		if res["ping"] != float64(25) || res["pong"] != true {
			t.Errorf("ping/pong = %v/%v, want 25/true", res["ping"], res["pong"])
		}
	})

	t.Run("connect with exp", func(t *testing.T) {
		c := dialRaw(t, s)
		res := c.connectJSON(connToken(t, "u1", nil))
		if err := sameKeys(res, "client", "version", "ping", "pong", "expires", "ttl"); err != nil {
			t.Fatal(err)
		}
		if ttl, _ := res["ttl"].(float64); res["expires"] != true || ttl < 3590 || ttl > 3600 {
			t.Errorf("expires/ttl = %v/%v, want true/~3600", res["expires"], res["ttl"])
		}
	})

	t.Run("commands", func(t *testing.T) {
		c := dialRaw(t, s)
		res := c.connectJSON(connToken(t, "u1", jwt.MapClaims{"exp": nil, "info": map[string]any{"name": "Alice"}}))
		client := res["client"].(string)

		c.sendText(`{"id":2,"subscribe":{"channel":"chat:shape"}}`)
		r := c.nextNonPingJSON(waitTimeout)
		sub, _ := r["subscribe"].(map[string]any)
		if r["id"] != float64(2) || sub == nil {
			t.Fatalf("subscribe reply = %v", r)
		}
		if err := sameKeys(sub, "recoverable", "epoch", "positioned"); err != nil {
			t.Errorf("subscribe result on a fresh force_recovery channel: %v", err)
		}
		epoch, _ := sub["epoch"].(string)

		s.publish(t, "chat:shape", map[string]any{"a": 1})
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"push":{"channel":"chat:shape","pub":{"data":{"a":1},"offset":1}}}`)

		c.sendText(`{"id":3,"subscribe":{"channel":"nope:x"}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":3,"error":{"code":102,"message":"unknown channel"}}`)

		c.sendText(`{"id":4,"subscribe":{"channel":"chat:shape"}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":4,"error":{"code":105,"message":"already subscribed"}}`)

		c.sendText(`{"id":5,"publish":{"channel":"chat:shape","data":{"b":2}}}`)
		// The reply and the publication may come in either order.
		got := map[string]string{}
		for range 2 {
			m := c.nextNonPingJSON(waitTimeout)
			if _, ok := m["push"]; ok {
				got["push"] = jsonOf(t, m)
			} else {
				got["reply"] = jsonOf(t, m)
			}
		}
		if want := `{"id":5,"publish":{}}`; got["reply"] != want {
			t.Errorf("publish reply = %s, want %s", got["reply"], want)
		}
		wantPush := fmt.Sprintf(`{"push":{"channel":"chat:shape","pub":{"data":{"b":2},"info":{"client":%q,"conn_info":{"name":"Alice"},"user":"u1"},"offset":2}}}`, client)
		if got["push"] != wantPush {
			t.Errorf("client publication push = %s\nwant %s", got["push"], wantPush)
		}

		c.sendText(`{"id":6,"presence":{"channel":"chat:shape"}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), fmt.Sprintf(
			`{"id":6,"presence":{"presence":{%q:{"user":"u1","client":%q,"conn_info":{"name":"Alice"}}}}}`, client, client))

		c.sendText(`{"id":7,"presence_stats":{"channel":"chat:shape"}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":7,"presence_stats":{"num_clients":1,"num_users":1}}`)

		c.sendText(`{"id":8,"history":{"channel":"chat:shape"}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), fmt.Sprintf(`{"id":8,"history":{"publications":[],"epoch":%q,"offset":2}}`, epoch))

		c.sendText(`{"id":9,"history":{"channel":"chat:shape","limit":1,"reverse":true}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), fmt.Sprintf(
			`{"id":9,"history":{"publications":[{"data":{"b":2},"info":{"client":%q,"conn_info":{"name":"Alice"},"user":"u1"},"offset":2}],"epoch":%q,"offset":2}}`, client, epoch))

		c.sendText(`{"id":10,"unsubscribe":{"channel":"chat:shape"}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":10,"unsubscribe":{}}`)
		// Unsubscribing again is not an error.
		c.sendText(`{"id":11,"unsubscribe":{"channel":"chat:shape"}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":11,"unsubscribe":{}}`)

		// Recovery from a known position.
		c.sendText(fmt.Sprintf(`{"id":12,"subscribe":{"channel":"chat:shape","recover":true,"offset":1,"epoch":%q}}`, epoch))
		expectJSON(t, c.nextNonPingJSON(waitTimeout), fmt.Sprintf(
			`{"id":12,"subscribe":{"recoverable":true,"epoch":%q,"offset":1,"positioned":true,"recovered":true,"was_recovering":true,`+
				`"publications":[{"data":{"b":2},"info":{"client":%q,"conn_info":{"name":"Alice"},"user":"u1"},"offset":2}]}}`, epoch, client))

		// Several commands in one frame get their replies in order.
		c.sendText(`{"id":13,"presence_stats":{"channel":"chat:shape"}}` + "\n" + `{"id":14,"unsubscribe":{"channel":"chat:shape"}}` + "\n")
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":13,"presence_stats":{"num_clients":1,"num_users":1}}`)
		expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":14,"unsubscribe":{}}`)
	})
}

// TestRawProtobuf checks Protobuf framing: subprotocol selection,
// varint-delimited replies (even single ones) and batched commands.
func TestRawProtobuf(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, sel := range []string{"subprotocol", "query"} {
		t.Run(sel, func(t *testing.T) {
			var c *rawConn
			if sel == "subprotocol" {
				c = dialRaw(t, s, "centrifuge-protobuf")
			} else {
				c = dialRawURL(t, s.WSURL()+"?cf_protocol=protobuf")
				c.protobuf = true
			}
			c.sendCommands(&pb.Command{Id: 1, Connect: &pb.ConnectRequest{Token: connToken(t, "u1", jwt.MapClaims{"exp": nil}), Name: "e2e"}})
			r := c.nextReply(waitTimeout)
			if r.Id != 1 || r.Connect == nil || r.Error != nil {
				t.Fatalf("connect reply = %v", r)
			}
			if !uuidRE.MatchString(r.Connect.Client) || r.Connect.Version == "" || r.Connect.Ping != 25 || !r.Connect.Pong || r.Connect.Expires {
				t.Errorf("connect result = %v, want uuid client, version, ping 25, pong, no expiry", r.Connect)
			}
			ch := "chat:pb-" + sel
			c.sendCommands(
				&pb.Command{Id: 2, Subscribe: &pb.SubscribeRequest{Channel: ch}},
				&pb.Command{Id: 3, PresenceStats: &pb.PresenceStatsRequest{Channel: ch}},
				&pb.Command{Id: 4, Subscribe: &pb.SubscribeRequest{Channel: "nope:x"}},
			)
			r = c.nextReply(waitTimeout)
			if r.Id != 2 || r.Subscribe == nil || !r.Subscribe.Recoverable || r.Subscribe.Epoch == "" {
				t.Fatalf("subscribe reply = %v", r)
			}
			r = c.nextReply(waitTimeout)
			if r.Id != 3 || r.PresenceStats == nil || r.PresenceStats.NumClients != 1 || r.PresenceStats.NumUsers != 1 {
				t.Fatalf("presence_stats reply = %v", r)
			}
			r = c.nextReply(waitTimeout)
			if r.Id != 4 || r.Error == nil || r.Error.Code != 102 || r.Error.Message != "unknown channel" {
				t.Fatalf("unknown namespace reply = %v", r)
			}
			s.publish(t, ch, map[string]any{"x": 1})
			r = c.nextReply(waitTimeout)
			if r.Id != 0 || r.Push == nil || r.Push.Channel != ch || r.Push.Pub == nil ||
				!jsonEqual(r.Push.Pub.Data, []byte(`{"x":1}`)) || r.Push.Pub.Offset != 1 {
				t.Fatalf("publication push = %v", r)
			}
			c.sendCommands(&pb.Command{Id: 5, Publish: &pb.PublishRequest{Channel: ch, Data: []byte(`{"y":2}`)}})
			var sawReply, sawPush bool
			for !sawReply || !sawPush {
				r = c.nextReply(waitTimeout)
				switch {
				case r.Id == 5 && r.Publish != nil:
					sawReply = true
				case r.Push != nil && r.Push.Pub != nil:
					sawPush = true
					if r.Push.Pub.Info == nil || r.Push.Pub.Info.User != "u1" || r.Push.Pub.Offset != 2 {
						t.Errorf("client publication = %v, want info.user u1 offset 2", r.Push.Pub)
					}
				default:
					t.Fatalf("unexpected message %v", r)
				}
			}
		})
	}
	checkHealthy(t, s)
}

// TestRawPingPong checks server pings ({} / empty Protobuf message), pong
// handling and the 3012 no-pong disconnect (COMPAT.md §1.9).
func TestRawPingPong(t *testing.T) {
	t.Parallel()
	s := startServer(t, withClient(map[string]any{"ping_interval": "2s", "pong_timeout": "1s"}))
	tok := connToken(t, "u1", jwt.MapClaims{"exp": nil})

	connect := func(t *testing.T, protobuf bool) *rawConn {
		t.Helper()
		if protobuf {
			c := dialRaw(t, s, "centrifuge-protobuf")
			c.sendCommands(&pb.Command{Id: 1, Connect: &pb.ConnectRequest{Token: tok}})
			r := c.nextReply(waitTimeout)
			if r.Connect == nil || r.Connect.Ping != 2 || !r.Connect.Pong {
				t.Fatalf("connect reply = %v, want ping 2 pong true", r)
			}
			return c
		}
		c := dialRaw(t, s)
		res := c.connectJSON(tok)
		if res["ping"] != float64(2) || res["pong"] != true {
			t.Fatalf("connect result = %v, want ping 2 pong true", res)
		}
		return c
	}
	waitPing := func(t *testing.T, c *rawConn) {
		t.Helper()
		m := c.next(4 * time.Second) // first ping within [1s, 2s), then every 2s
		if c.protobuf && len(m) != 0 || !c.protobuf && string(m) != "{}" {
			t.Fatalf("got %q, want a ping", m)
		}
	}
	pong := func(c *rawConn) {
		if c.protobuf {
			c.sendBinary([]byte{0})
		} else {
			c.sendText("{}")
		}
	}
	for _, protobuf := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "protobuf"}[protobuf]
		t.Run(name+"/no pong", func(t *testing.T) {
			t.Parallel()
			c := connect(t, protobuf)
			waitPing(t, c)
			c.expectClose(3012, "no pong", 4*time.Second)
		})
		t.Run(name+"/pong", func(t *testing.T) {
			t.Parallel()
			c := connect(t, protobuf)
			for range 3 {
				waitPing(t, c)
				pong(c)
			}
		})
		t.Run(name+"/unnecessary pong", func(t *testing.T) {
			t.Parallel()
			c := connect(t, protobuf)
			pong(c)
			c.expectClose(3501, "bad request", waitTimeout)
		})
	}
}

// TestRawProtocolViolations sends bad input; each offender is closed with
// the right code and a well-behaved client on the same server is never
// affected (COMPAT.md §1.6, §1.8, §2.3).
func TestRawProtocolViolations(t *testing.T) {
	t.Parallel()
	s := startServer(t, withClient(map[string]any{"stale_close_delay": "1s", "expired_close_delay": "1s"}))

	// A long-lived SDK client that must survive everything below.
	good, goodEv := connectSDK(t, s, sdkProtocols[0], "good")
	goodSub, _ := subscribe(t, good, "chat:good", centrifuge.SubscriptionConfig{})

	tok := connToken(t, "u1", nil)
	connectMsg := fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, tok)

	type tc struct {
		name string
		run  func(t *testing.T, c *rawConn)
		json bool // default connection is JSON; false means Protobuf
	}
	closeWith := func(code int, reason string) func(*testing.T, *rawConn) {
		return func(t *testing.T, c *rawConn) { c.expectClose(code, reason, waitTimeout) }
	}
	connected := func(next func(*testing.T, *rawConn)) func(*testing.T, *rawConn) {
		return func(t *testing.T, c *rawConn) {
			c.connectJSON(tok)
			next(t, c)
		}
	}
	cases := []tc{
		{name: "command before connect", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":1,"subscribe":{"channel":"chat:a"}}`)
			c.expectClose(3501, "bad request", waitTimeout)
		}},
		{name: "garbage text frame", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendText(`this is not json`)
			c.expectClose(3501, "bad request", waitTimeout)
		}},
		{name: "garbage after connect", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":2,"subscribe":`)
			c.expectClose(3501, "bad request", waitTimeout)
		})},
		{name: "binary garbage on JSON connection", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendBinary([]byte{0xff, 0x00, 0x13, 0x37, 0x80, 0x81})
			c.expectClose(3501, "bad request", waitTimeout)
		}},
		{name: "empty frame", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendText("")
			c.expectClose(3501, "bad request", waitTimeout)
		}},
		{name: "protobuf garbage", run: func(t *testing.T, c *rawConn) {
			c.sendBinary([]byte{0x7f, 0x01, 0x02}) // length 127, 2 bytes follow
			c.expectClose(3501, "bad request", waitTimeout)
		}},
		{name: "protobuf garbage after connect", run: func(t *testing.T, c *rawConn) {
			c.sendCommands(&pb.Command{Id: 1, Connect: &pb.ConnectRequest{Token: tok}})
			if r := c.nextReply(waitTimeout); r.Connect == nil {
				t.Fatalf("connect reply = %v", r)
			}
			c.sendBinary([]byte{0x05, 0xff, 0xff, 0xff, 0xff, 0xff})
			c.expectClose(3501, "bad request", waitTimeout)
		}},
		{name: "oversized frame", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendText(fmt.Sprintf(`{"id":1,"connect":{"token":%q,"name":%q}}`, tok, strings.Repeat("x", 70000)))
			c.expectClose(1009, "", waitTimeout)
		}},
		{name: "oversized frame after connect", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(fmt.Sprintf(`{"id":2,"publish":{"channel":"chat:big","data":%q}}`, strings.Repeat("x", 70000)))
			c.expectClose(1009, "", waitTimeout)
		})},
		{name: "stale connection", json: true, run: closeWith(3502, "stale")},
		{name: "two connects", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(strings.Replace(connectMsg, `"id":1`, `"id":2`, 1))
			c.expectClose(3501, "bad request", waitTimeout)
		})},
		{name: "send command", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"send":{"data":{"hello":"server"}}}`)
			c.expectClose(3508, "not available", waitTimeout)
		})},
		{name: "ping command", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":2,"ping":{}}`)
			c.expectClose(3501, "bad request", waitTimeout)
		})},
		{name: "command without method", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":2}`)
			c.expectClose(3501, "bad request", waitTimeout)
		})},
		{name: "bad token", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":1,"connect":{"token":"a.b.c"}}`)
			c.expectClose(3500, "invalid token", waitTimeout)
		}},
		{name: "expired token", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendText(fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, connToken(t, "u1", jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})))
			expectJSON(t, c.nextJSON(waitTimeout), `{"id":1,"error":{"code":109,"message":"token expired"}}`)
			// The connection is unusable after a connect error (§1.8.4).
			c.sendText(`{"id":2,"subscribe":{"channel":"chat:a"}}`)
			c.expectClose(3501, "bad request", waitTimeout)
		}},
		{name: "connection expires without refresh", json: true, run: func(t *testing.T, c *rawConn) {
			res := c.connectJSON(connToken(t, "u1", jwt.MapClaims{"exp": time.Now().Add(2 * time.Second).Unix()}))
			if res["expires"] != true {
				t.Fatalf("connect result = %v, want expires", res)
			}
			c.expectClose(3005, "connection expired", waitTimeout)
		}},
		{name: "refresh for another user", json: true, run: func(t *testing.T, c *rawConn) {
			c.connectJSON(connToken(t, "u1", nil))
			c.sendText(fmt.Sprintf(`{"id":2,"refresh":{"token":%q}}`, connToken(t, "u2", nil)))
			c.expectClose(3500, "invalid token", waitTimeout)
		}},
		{name: "refresh", json: true, run: func(t *testing.T, c *rawConn) {
			c.connectJSON(connToken(t, "u1", jwt.MapClaims{"exp": time.Now().Add(time.Minute).Unix()}))
			c.sendText(fmt.Sprintf(`{"id":2,"refresh":{"token":%q}}`, connToken(t, "u1", nil)))
			r := c.nextNonPingJSON(waitTimeout)
			res, _ := r["refresh"].(map[string]any)
			if r["id"] != float64(2) || res == nil || res["expires"] != true {
				t.Fatalf("refresh reply = %v, want a refresh result with expires", r)
			}
			if ttl, _ := res["ttl"].(float64); ttl < 3590 {
				t.Fatalf("refresh ttl = %v, want ~3600", res["ttl"])
			}
		}},
		{name: "subscription token for another channel", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(fmt.Sprintf(`{"id":2,"subscribe":{"channel":"$a","token":%q}}`, subToken(t, "u1", "$b")))
			c.expectClose(3500, "invalid token", waitTimeout)
		})},
		{name: "invalid subscription token", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":2,"subscribe":{"channel":"$a","token":"x.y.z"}}`)
			expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":2,"error":{"code":103,"message":"permission denied"}}`)
		})},
		{name: "invalid UTF-8 channel", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText("{\"id\":2,\"subscribe\":{\"channel\":\"chat:\xff\xfe\"}}")
			m, err := c.nextMessage(waitTimeout)
			if err != nil {
				if code := closeCodeOf(err); code != 3501 && code != 1007 {
					t.Fatalf("invalid UTF-8: connection ended (%v), want error 107 or close 3501/1007", err)
				}
				return
			}
			if string(m) != `{"id":2,"error":{"code":107,"message":"bad request"}}` {
				t.Fatalf("invalid UTF-8 channel reply = %s, want error 107 bad request", m)
			}
		})},
		{name: "invalid UTF-8 name", json: true, run: func(t *testing.T, c *rawConn) {
			c.sendText(fmt.Sprintf("{\"id\":1,\"connect\":{\"token\":%q,\"name\":\"\xc3\x28\"}}", tok))
			m, err := c.nextMessage(waitTimeout)
			if err != nil {
				if code := closeCodeOf(err); code != 3501 && code != 1007 {
					t.Fatalf("invalid UTF-8 name: connection ended (%v), want a connect reply or close 3501/1007", err)
				}
				return
			}
			if !strings.Contains(string(m), `"connect"`) {
				t.Fatalf("reply = %s, want a connect result", m)
			}
		}},
		{name: "id zero command", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":0,"subscribe":{"channel":"chat:a"}}`) // an id-less command is a pong
			c.expectClose(3501, "bad request", waitTimeout)
		})},
		{name: "huge batch", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":2,"subscribe":{"channel":"chat:batch"}}`)
			if r := c.nextNonPingJSON(waitTimeout); r["subscribe"] == nil {
				t.Fatalf("subscribe reply = %v", r)
			}
			const n = 1000
			var b strings.Builder
			for i := range n {
				if i > 0 {
					b.WriteByte('\n')
				}
				fmt.Fprintf(&b, `{"id":%d,"presence_stats":{"channel":"chat:batch"}}`, i+3)
			}
			if b.Len() > 65536 {
				t.Fatalf("batch is %d bytes, over the frame limit", b.Len())
			}
			c.sendText(b.String())
			for i := range n {
				r := c.nextNonPingJSON(waitTimeout)
				if r["id"] != float64(i+3) || r["presence_stats"] == nil {
					t.Fatalf("reply %d = %v, want id %d presence_stats", i, r, i+3)
				}
			}
			if c.frames >= n {
				t.Logf("note: %d replies came in %d frames (no batching)", n, c.frames)
			}
		})},
		{name: "already subscribed", json: true, run: connected(func(t *testing.T, c *rawConn) {
			c.sendText(`{"id":2,"subscribe":{"channel":"chat:dup"}}` + "\n" + `{"id":3,"subscribe":{"channel":"chat:dup"}}`)
			if r := c.nextNonPingJSON(waitTimeout); r["subscribe"] == nil {
				t.Fatalf("first subscribe reply = %v", r)
			}
			expectJSON(t, c.nextNonPingJSON(waitTimeout), `{"id":3,"error":{"code":105,"message":"already subscribed"}}`)
		})},
	}
	t.Run("cases", func(t *testing.T) { // returns when all parallel cases are done
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var c *rawConn
				if tc.json {
					c = dialRaw(t, s)
				} else {
					c = dialRaw(t, s, "centrifuge-protobuf")
				}
				tc.run(t, c)
				checkHealthy(t, s)
			})
		}
	})

	// The long-lived client saw nothing of it.
	if st := good.State(); st != centrifuge.StateConnected {
		t.Fatalf("long-lived client state = %s, want connected", st)
	}
	select {
	case ev := <-good.connected:
		t.Fatalf("long-lived client reconnected as %s (was %s)", ev.ClientID, goodEv.ClientID)
	default:
	}
	s.publish(t, "chat:good", map[string]any{"still": "fine"})
	goodSub.expectPub(t, `{"still":"fine"}`)
}
