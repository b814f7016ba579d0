package redis_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/redis"
)

var benchData = []byte(`{"input":"benchmark payload of about 64 bytes","n":1234567}`)

type discard struct{}

func (discard) HandlePublication(string, *broker.Publication, broker.StreamPosition, bool, *broker.Publication) error {
	return nil
}
func (discard) HandleJoin(string, *broker.ClientInfo) error  { return nil }
func (discard) HandleLeave(string, *broker.ClientInfo) error { return nil }

func startBenchBroker(b *testing.B) *redis.Broker {
	b.Helper()
	addr := redisAddr(b)
	br := newTestBroker(b, redis.Options{Addresses: []string{addr}, Prefix: testPrefix(b, addr)})
	if err := br.Start(context.Background(), discard{}); err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkRedisPublish measures a publish without history (one PUBLISH).
func BenchmarkRedisPublish(b *testing.B) {
	br := startBenchBroker(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Publish(ctx, "bench", benchData, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisPublishWithHistory measures a publish into a 100-entry
// stream (one EVALSHA).
func BenchmarkRedisPublishWithHistory(b *testing.B) {
	br := startBenchBroker(b)
	ctx := context.Background()
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Publish(ctx, "bench", benchData, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisPublishParallel measures publishes with history from many
// goroutines into 1,024 channels (auto-pipelined).
func BenchmarkRedisPublishParallel(b *testing.B) {
	br := startBenchBroker(b)
	ctx := context.Background()
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	chs := make([]string, 1024)
	for i := range chs {
		chs[i] = "bench:" + strconv.Itoa(i)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919)
		for pb.Next() {
			i++
			if _, err := br.Publish(ctx, chs[i%uint64(len(chs))], benchData, opts); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRedisHistory measures reading the last 10 of 100 publications.
func BenchmarkRedisHistory(b *testing.B) {
	br := startBenchBroker(b)
	ctx := context.Background()
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	var res broker.PublishResult
	for range 100 {
		var err error
		if res, err = br.Publish(ctx, "bench", benchData, opts); err != nil {
			b.Fatal(err)
		}
	}
	since := &broker.StreamPosition{Offset: res.Position.Offset - 10, Epoch: res.Position.Epoch}
	b.ReportAllocs()
	for b.Loop() {
		pubs, _, err := br.History(ctx, "bench", broker.HistoryOptions{Filter: broker.HistoryFilter{Since: since, Limit: -1}})
		if err != nil || len(pubs) != 10 {
			b.Fatalf("history: %d pubs, %v", len(pubs), err)
		}
	}
}

func benchPresence(b *testing.B, mapping bool) *redis.PresenceManager {
	b.Helper()
	addr := redisAddr(b)
	return newTestPresence(b, redis.Options{Addresses: []string{addr}, Prefix: testPrefix(b, addr), PresenceUserMapping: mapping})
}

// BenchmarkRedisAddPresence measures refreshing presence entries of 1,000
// clients in one channel, with the user mapping.
func BenchmarkRedisAddPresence(b *testing.B) {
	pm := benchPresence(b, true)
	ctx := context.Background()
	infos := make([]*broker.ClientInfo, 1000)
	for i := range infos {
		infos[i] = &broker.ClientInfo{User: "u" + strconv.Itoa(i%100), Client: "c" + strconv.Itoa(i)}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		info := infos[i%len(infos)]
		i++
		if err := pm.AddPresence(ctx, "bench", info.Client, info); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisPresenceStats measures stats of a channel with 1,000
// clients of 100 users: O(1) with the user mapping, a full read without.
func BenchmarkRedisPresenceStats(b *testing.B) {
	for _, mapping := range []bool{true, false} {
		name := "UserMapping"
		if !mapping {
			name = "NoUserMapping"
		}
		b.Run(name, func(b *testing.B) {
			pm := benchPresence(b, mapping)
			ctx := context.Background()
			for i := range 1000 {
				c := "c" + strconv.Itoa(i)
				if err := pm.AddPresence(ctx, "bench", c, &broker.ClientInfo{User: "u" + strconv.Itoa(i%100), Client: c}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				st, err := pm.PresenceStats(ctx, "bench")
				if err != nil || st.NumClients != 1000 || st.NumUsers != 100 {
					b.Fatalf("stats %+v, %v", st, err)
				}
			}
		})
	}
}
