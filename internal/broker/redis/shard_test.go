package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/redis"
)

// countKeys returns the number of keys under prefix on the server at addr.
func countKeys(t *testing.T, addr, prefix string) int {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{strings.TrimPrefix(addr, "redis://")}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := c.Do(context.Background(), c.B().Keys().Pattern(prefix+".stream.meta.*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// TestSharding spreads channels over two redis-servers: every channel works
// end to end across two nodes, both servers hold streams, and each
// channel's stream lives on exactly one server.
func TestSharding(t *testing.T) {
	s1, s2 := startRedisServer(t), startRedisServer(t)
	addrs := []string{s1.addr(), s2.addr()}
	prefix := testPrefix(t, addrs...)
	opts := redis.Options{Addresses: addrs, Prefix: prefix}
	ctx := t.Context()
	pub := newTestBroker(t, opts)
	sub := newTestBroker(t, opts)
	col := newCollector()
	if err := pub.Start(ctx, newCollector()); err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(ctx, col); err != nil {
		t.Fatal(err)
	}
	const channels = 64
	hist := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	for i := range channels {
		ch := fmt.Sprint("shard-", i)
		if err := sub.Subscribe(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	for i := range channels {
		ch := fmt.Sprint("shard-", i)
		for j := range 3 {
			res, err := pub.Publish(ctx, ch, fmt.Appendf(nil, "%d", j), hist)
			if err != nil {
				t.Fatal(err)
			}
			if res.Position.Offset != uint64(j+1) {
				t.Fatalf("%s: offset %d, want %d", ch, res.Position.Offset, j+1)
			}
		}
	}
	for i := range channels {
		ch := fmt.Sprint("shard-", i)
		eventually(t, 10*time.Second, ch+" deliveries", func() bool { return len(col.get(ch)) == 3 })
		pubs, sp, err := sub.History(ctx, ch, broker.HistoryOptions{Filter: broker.HistoryFilter{Limit: -1}})
		if err != nil || len(pubs) != 3 || sp.Offset != 3 {
			t.Fatalf("%s history: %d pubs at %+v, %v", ch, len(pubs), sp, err)
		}
	}
	n1, n2 := countKeys(t, s1.addr(), prefix), countKeys(t, s2.addr(), prefix)
	if n1+n2 != channels || n1 == 0 || n2 == 0 {
		t.Fatalf("stream metas per server: %d and %d, want %d in total on both", n1, n2, channels)
	}
	// A presence manager with the same addresses finds the same shards.
	pm := newTestPresence(t, opts)
	if err := pm.AddPresence(ctx, "shard-1", "c1", &broker.ClientInfo{User: "u"}); err != nil {
		t.Fatal(err)
	}
	if st, err := pm.PresenceStats(ctx, "shard-1"); err != nil || st.NumClients != 1 {
		t.Fatalf("presence on a sharded setup: %+v, %v", st, err)
	}
}
