package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
)

// TestClusterPubSubPresence: two and three herald nodes sharing the local
// Redis act as one server: info lists every node, a publication made
// through any node's API reaches subscribers on every node, presence and
// join/leave span the nodes, and the channels API aggregates them.
func TestClusterPubSubPresence(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d-nodes", n), func(t *testing.T) {
			t.Parallel()
			prefix := sharedRedisPrefix(t)
			nodes := startCluster(t, n, withRedisEngine(sharedRedisAddr, prefix, nil))
			const ch = "chat:cluster"

			watcherClient, _ := connectSDK(t, nodes[0], sdkProtocols[0], "watcher")
			watcher, _ := subscribe(t, watcherClient, ch, centrifuge.SubscriptionConfig{JoinLeave: true})
			subs := []*sdkSub{watcher}
			ids := map[string]string{}
			for i, s := range nodes {
				p := sdkProtocols[i%len(sdkProtocols)]
				user := fmt.Sprintf("u%d", i)
				c, ev := connectSDK(t, s, p, user)
				ids[ev.ClientID] = user
				sub, _ := subscribe(t, c, ch, centrifuge.SubscriptionConfig{})
				subs = append(subs, sub)
				// Joins of other clients (and the watcher's own) may come
				// first; the one of this client must come.
				deadline := time.After(waitTimeout)
				for found := false; !found; {
					select {
					case j := <-watcher.joins:
						found = j.Client == ev.ClientID && j.User == user
					case <-deadline:
						t.Fatalf("node 0 saw no join of %s/%s (on node %d)", user, ev.ClientID, i)
					}
				}
			}
			for i, s := range nodes {
				res := s.publish(t, ch, map[string]any{"from": i})
				for k, sub := range subs {
					pub := sub.expectPub(t, fmt.Sprintf(`{"from":%d}`, i))
					if off, _ := res["offset"].(float64); pub.Offset != uint64(off) || pub.Offset != uint64(i+1) {
						t.Errorf("subscriber %d: publication from node %d has offset %d, want %d (publish result %v)", k, i, pub.Offset, i+1, res)
					}
				}
			}
			for _, sub := range subs {
				sub.expectNoPub(t)
			}

			// Presence from any node lists the clients of all nodes.
			for i, s := range nodes {
				if got := s.numClients(t, ch); got != n+1 {
					t.Errorf("node %d: presence_stats num_clients = %d, want %d", i, got, n+1)
				}
				res := s.apiResult(t, "presence_stats", map[string]any{"channel": ch})
				if u, _ := res["num_users"].(float64); int(u) != n+1 {
					t.Errorf("node %d: presence_stats = %v, want %d users", i, res, n+1)
				}
				pr := s.apiResult(t, "presence", map[string]any{"channel": ch})
				presence, _ := pr["presence"].(map[string]any)
				for id, user := range ids {
					ci, _ := presence[id].(map[string]any)
					if ci == nil || ci["user"] != user {
						t.Errorf("node %d: presence %v lacks %s/%s", i, presence, user, id)
					}
				}
			}

			// channels aggregates every node's channels.
			perNode := make([]string, n)
			for i, s := range nodes {
				perNode[i] = fmt.Sprintf("chat:only-node-%d", i)
				c, _ := connectSDK(t, s, sdkProtocols[0], fmt.Sprintf("only%d", i))
				subscribe(t, c, perNode[i], centrifuge.SubscriptionConfig{})
			}
			for i, s := range nodes {
				res := s.apiResult(t, "channels", map[string]any{"pattern": "chat:*"})
				chans, _ := res["channels"].(map[string]any)
				want := append([]string{ch}, perNode...)
				var got []string
				for name := range chans {
					got = append(got, name)
				}
				sort.Strings(got)
				sort.Strings(want)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("node %d: channels = %v, want %v", i, chans, want)
				}
				if info, _ := chans[ch].(map[string]any); info == nil || info["num_clients"] != float64(n+1) {
					t.Errorf("node %d: channels[%s] = %v, want num_clients %d", i, ch, chans[ch], n+1)
				}
			}

			// A client leaving node n-1 is seen on node 0.
			last := subs[len(subs)-1]
			if err := last.Unsubscribe(); err != nil {
				t.Fatal(err)
			}
			if l := receive(t, watcher.leaves, waitTimeout, "leave from the last node"); l.User != fmt.Sprintf("u%d", n-1) {
				t.Errorf("leave = %+v, want u%d", l.ClientInfo, n-1)
			}
			eventually(t, waitTimeout, func() error {
				if got := nodes[0].numClients(t, ch); got != n {
					return fmt.Errorf("num_clients = %d after the leave, want %d", got, n)
				}
				return nil
			})
		})
	}
}

// TestClusterRecoveryOnOtherNode: a subscriber cut off from node A
// reconnects to node B and recovers what was published (through both
// nodes) in between.
func TestClusterRecoveryOnOtherNode(t *testing.T) {
	t.Parallel()
	const n = 10
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		prefix := sharedRedisPrefix(t)
		nodes := startCluster(t, 2, withRedisEngine(sharedRedisAddr, prefix, nil))
		a, b := nodes[0], nodes[1]
		px := newTCPProxy(t, a.Addr)
		c, _ := connectSDKURL(t, px.WSURL(), p, "u1")
		sub, first := subscribe(t, c, "chat:move", centrifuge.SubscriptionConfig{})
		a.publish(t, "chat:move", map[string]any{"i": 0})
		sub.expectPub(t, `{"i":0}`)

		px.SetTarget(b.Addr)
		cutAndWait(t, a, px, c, "chat:move")
		for i := 1; i <= n; i++ {
			nodes[i%2].publish(t, "chat:move", map[string]any{"i": i})
		}
		px.Restore()
		c.waitConnected(t)
		ev := sub.waitSubscribed(t)
		if !ev.WasRecovering || !ev.Recovered || ev.StreamPosition == nil || ev.StreamPosition.Epoch != first.StreamPosition.Epoch {
			t.Errorf("resubscribe on the other node = %+v, want WasRecovering, Recovered, epoch %s", ev, first.StreamPosition.Epoch)
		}
		for i := 1; i <= n; i++ {
			if pub := sub.expectPub(t, fmt.Sprintf(`{"i":%d}`, i)); pub.Offset != uint64(i+1) {
				t.Errorf("recovered publication %d offset = %d, want %d", i, pub.Offset, i+1)
			}
		}
		a.publish(t, "chat:move", "live")
		if pub := sub.expectPub(t, `"live"`); pub.Offset != n+2 {
			t.Errorf("live publication offset = %d, want %d", pub.Offset, n+2)
		}
		sub.expectNoPub(t)
		if got := b.numClients(t, "chat:move"); got != 1 {
			t.Errorf("node B presence num_clients = %d, want 1", got)
		}
	})
}

// TestClusterAPIControl: server API commands sent to node A act on a user
// connected to node B: subscribe, unsubscribe, disconnect.
func TestClusterAPIControl(t *testing.T) {
	t.Parallel()
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		prefix := sharedRedisPrefix(t)
		nodes := startCluster(t, 2, withRedisEngine(sharedRedisAddr, prefix, nil))
		a, b := nodes[0], nodes[1]
		c, _ := connectSDK(t, b, p, "remote")
		other, _ := connectSDK(t, b, p, "bystander")

		a.apiResult(t, "subscribe", map[string]any{"user": "remote", "channel": "chat:pushed"})
		ev := receive(t, c.serverSubs, waitTimeout, "server-side subscription pushed through node A")
		if ev.Channel != "chat:pushed" || !ev.Recoverable {
			t.Errorf("server-side subscribed = %+v, want chat:pushed recoverable", ev)
		}
		a.publish(t, "chat:pushed", map[string]any{"via": "a"})
		if pub := receive(t, c.serverPubs, waitTimeout, "publication on the pushed channel"); pub.Channel != "chat:pushed" || !jsonEqual(pub.Data, []byte(`{"via":"a"}`)) {
			t.Errorf("server-side publication = %s %s, want chat:pushed {\"via\":\"a\"}", pub.Channel, pub.Data)
		}
		eventually(t, waitTimeout, func() error {
			if k := a.numClients(t, "chat:pushed"); k != 1 {
				return fmt.Errorf("num_clients(chat:pushed) via node A = %d, want 1", k)
			}
			return nil
		})

		a.apiResult(t, "unsubscribe", map[string]any{"user": "remote", "channel": "chat:pushed"})
		if u := receive(t, c.serverUnsubs, waitTimeout, "server-side unsubscription through node A"); u.Channel != "chat:pushed" {
			t.Errorf("server-side unsubscribed = %+v, want chat:pushed", u)
		}

		a.apiResult(t, "disconnect", map[string]any{"user": "remote"})
		dev := receive(t, c.disconnected, waitTimeout, "disconnect through node A")
		if dev.Code != 3503 {
			t.Errorf("disconnect code = %d (%q), want 3503 force disconnect", dev.Code, dev.Reason)
		}
		if st := other.State(); st != centrifuge.StateConnected {
			t.Errorf("bystander state = %s, want connected", st)
		}
	})
}

// TestClusterPositioningDroppedPublication: a publication that never
// reaches a node (simulated by advancing the stream top in Redis without
// publishing) is noticed by the periodic position check; the SDK is told
// to resubscribe (2500) and comes back with recovered=false.
func TestClusterPositioningDroppedPublication(t *testing.T) {
	t.Parallel()
	prefix := sharedRedisPrefix(t)
	rc := redisClient(t, sharedRedisAddr)
	s := startServer(t, withRedisEngine(sharedRedisAddr, prefix, nil), withClient(map[string]any{"channel_position_check_delay": "300ms"}))
	c, _ := connectSDK(t, s, sdkProtocols[0], "u1")
	sub, first := subscribe(t, c, "chat:drop", centrifuge.SubscriptionConfig{})
	s.publish(t, "chat:drop", "one")
	sub.expectPub(t, `"one"`)
	drain(sub.subscribing)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Do(ctx, rc.B().Hincrby().Key(prefix+".stream.meta.chat:drop").Field("s").Increment(1).Build()).Error(); err != nil {
		t.Fatalf("advance the stream top in Redis: %v", err)
	}
	ev := receive(t, sub.subscribing, 15*time.Second, "resubscribe after the position check noticed the lost publication")
	if ev.Code != 2500 {
		t.Errorf("subscribing event = %+v, want code 2500 insufficient state", ev)
	}
	sev := sub.waitSubscribed(t)
	if !sev.WasRecovering || sev.Recovered || sev.StreamPosition == nil || sev.StreamPosition.Offset != 2 || sev.StreamPosition.Epoch != first.StreamPosition.Epoch {
		t.Errorf("resubscribe = %+v, want WasRecovering, not Recovered, position 2/%s", sev, first.StreamPosition.Epoch)
	}
	s.publish(t, "chat:drop", "three")
	if pub := sub.expectPub(t, `"three"`); pub.Offset != 3 {
		t.Errorf("live publication offset = %d, want 3", pub.Offset)
	}
}
