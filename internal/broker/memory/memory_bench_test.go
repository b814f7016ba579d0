package memory_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/memory"
)

var benchData = []byte(`{"input":"benchmark payload of about 64 bytes","n":1234567}`)

func startBenchBroker(b *testing.B) *memory.Broker {
	b.Helper()
	br := memory.New(memory.Options{})
	if err := br.Start(context.Background(), discard{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.Close(context.Background()) })
	return br
}

// BenchmarkPublish measures a publish without history to one channel.
func BenchmarkPublish(b *testing.B) {
	br := startBenchBroker(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Publish(ctx, "bench", benchData, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishWithHistory measures a publish into a 100-entry stream.
func BenchmarkPublishWithHistory(b *testing.B) {
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

// BenchmarkPublishParallel measures publishes with history from all Ps into
// 1,024 channels.
func BenchmarkPublishParallel(b *testing.B) {
	br := startBenchBroker(b)
	ctx := context.Background()
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	chs := make([]string, 1024)
	for i := range chs {
		chs[i] = "bench:" + strconv.Itoa(i)
	}
	var next atomic.Uint64
	b.ReportAllocs()
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

func benchmarkHistoryRecover(b *testing.B, n int) {
	br := startBenchBroker(b)
	ctx := context.Background()
	opts := broker.PublishOptions{HistorySize: 2 * n, HistoryTTL: time.Hour}
	var res broker.PublishResult
	for range 2 * n {
		var err error
		if res, err = br.Publish(ctx, "bench", benchData, opts); err != nil {
			b.Fatal(err)
		}
	}
	since := broker.StreamPosition{Offset: res.Position.Offset - uint64(n), Epoch: res.Position.Epoch}
	hopts := broker.HistoryOptions{Filter: broker.HistoryFilter{Since: &since, Limit: -1}}
	b.ReportAllocs()
	for b.Loop() {
		pubs, _, err := br.History(ctx, "bench", hopts)
		if err != nil || len(pubs) != n {
			b.Fatalf("History: %d pubs, %v", len(pubs), err)
		}
	}
}

// BenchmarkHistoryRecover100 reads the last 100 publications since an offset.
func BenchmarkHistoryRecover100(b *testing.B) { benchmarkHistoryRecover(b, 100) }

// BenchmarkHistoryRecover1000 reads the last 1,000 publications since an offset.
func BenchmarkHistoryRecover1000(b *testing.B) { benchmarkHistoryRecover(b, 1000) }

const presenceMembers = 10_000

func presenceFixture(b *testing.B) (*memory.PresenceManager, []string) {
	b.Helper()
	pm := memory.NewPresenceManager()
	ctx := context.Background()
	ids := make([]string, presenceMembers)
	for i := range ids {
		ids[i] = "client-" + strconv.Itoa(i)
		info := &broker.ClientInfo{User: "user-" + strconv.Itoa(i%1000), Client: ids[i]}
		if err := pm.AddPresence(ctx, "bench", ids[i], info); err != nil {
			b.Fatal(err)
		}
	}
	return pm, ids
}

// BenchmarkPresenceAdd refreshes entries of a channel with 10,000 members.
func BenchmarkPresenceAdd(b *testing.B) {
	pm, ids := presenceFixture(b)
	ctx := context.Background()
	info := &broker.ClientInfo{User: "user-1"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := pm.AddPresence(ctx, "bench", ids[i%len(ids)], info); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPresenceGet reads the full presence of a 10,000-member channel.
func BenchmarkPresenceGet(b *testing.B) {
	pm, _ := presenceFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := pm.Presence(ctx, "bench")
		if err != nil || len(p) != presenceMembers {
			b.Fatalf("Presence: %d, %v", len(p), err)
		}
	}
}

// BenchmarkPresenceStats reads the stats of a 10,000-member channel.
func BenchmarkPresenceStats(b *testing.B) {
	pm, _ := presenceFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pm.PresenceStats(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRetainedPublicationMemory reports the heap bytes retained per
// publication kept in history (ring slot, Publication and the data, 64
// bytes here, since a publish hands its data to the broker without copying
// and the benchmark allocates a fresh slice per publish as a real caller
// does), over 10,000 channels of 100 publications each.
func BenchmarkRetainedPublicationMemory(b *testing.B) {
	const channels, perChannel = 10_000, 100
	ctx := context.Background()
	chs := make([]string, channels)
	for i := range chs {
		chs[i] = "mem:" + strconv.Itoa(i)
	}
	opts := broker.PublishOptions{HistorySize: perChannel, HistoryTTL: time.Hour}
	var perPub float64
	for b.Loop() {
		br := memory.New(memory.Options{})
		if err := br.Start(ctx, discard{}); err != nil {
			b.Fatal(err)
		}
		// Create the streams first so that per-channel overhead is excluded.
		for _, ch := range chs {
			if _, _, err := br.History(ctx, ch, broker.HistoryOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		before := heapInUse()
		for range perChannel {
			for _, ch := range chs {
				data := make([]byte, len(benchData))
				copy(data, benchData)
				if _, err := br.Publish(ctx, ch, data, opts); err != nil {
					b.Fatal(err)
				}
			}
		}
		after := heapInUse()
		perPub = float64(after-before) / float64(channels*perChannel)
		runtime.KeepAlive(br)
		_ = br.Close(ctx)
	}
	b.ReportMetric(perPub, "B/retained-pub")
	b.ReportMetric(0, "ns/op")
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
