package httpstream_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
)

// BenchmarkSSEFanout publishes to a channel with 500 detached SSE
// subscribers (raw clients, one reading goroutine each) and waits until
// every one has the publication: the wall time per delivery, server and
// clients together on this machine's cores.
func BenchmarkSSEFanout(b *testing.B) {
	const subscribers = 500
	e := newEnv(b, nil, httpstream.Config{})
	var got, target atomic.Int64
	all := make(chan struct{}, 1)
	for range subscribers {
		_, events, res := rawSSE(b, e)
		session, _ := res["session"].(string)
		e.emulate(b, "", session, `{"id":2,"subscribe":{"channel":"bench"}}`)
		go func() {
			for {
				line, err := events.ReadString('\n')
				if err != nil {
					return
				}
				if strings.Contains(line, `"seq"`) && got.Add(1) == target.Load() {
					all <- struct{}{}
				}
			}
		}()
	}
	publish := func() {
		target.Add(subscribers)
		streamtest.Publish(b, e.node, "bench", `{"seq":1}`)
		<-all
	}
	// Subscriptions complete asynchronously: wait until all are live.
	streamtest.Eventually(b, "every subscription live", func() bool {
		chans, err := e.node.Channels(context.Background(), "bench")
		return err == nil && chans["bench"] == subscribers
	})
	b.ResetTimer()
	for range b.N {
		publish()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subscribers), "ns/delivery")
}
