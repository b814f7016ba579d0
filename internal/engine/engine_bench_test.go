package engine_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/protocol"
)

// countingTransport counts delivered messages without keeping them.
type countingTransport struct {
	proto protocol.Type
	n     atomic.Int64
}

func (t *countingTransport) Name() string                    { return "bench" }
func (t *countingTransport) Protocol() protocol.Type         { return t.proto }
func (t *countingTransport) Unidirectional() bool            { return false }
func (t *countingTransport) Emulation() bool                 { return false }
func (t *countingTransport) Close(protocol.Disconnect) error { return nil }
func (t *countingTransport) WriteMany(msgs ...[]byte) error {
	t.n.Add(int64(len(msgs)))
	return nil
}

// inlineTransport also implements engine.TryWriter, like the WebSocket
// transport: deliveries to idle connections are written by the fan-out.
type inlineTransport struct{ countingTransport }

func (t *inlineTransport) TryWriteMany(msgs ...[]byte) (bool, error) {
	t.n.Add(int64(len(msgs)))
	return true, nil
}

type benchTransport interface {
	engine.Transport
	count() *atomic.Int64
}

func (t *countingTransport) count() *atomic.Int64 { return &t.n }

// benchmarkFanout publishes to one channel with subs in-process subscribers
// and waits until every subscriber received every publication. ns/op is the
// cost of one publication delivered to all subscribers.
func benchmarkFanout(b *testing.B, subs int, proto protocol.Type) {
	benchmarkFanoutWith(b, subs, func() benchTransport { return &countingTransport{proto: proto} }, proto)
}

func benchmarkFanoutWith(b *testing.B, subs int, newTransport func() benchTransport, proto protocol.Type) {
	cfg := testConfig()
	cfg.Client.QueueMaxSize = 64 << 20
	cfg.Client.PingInterval = -1
	n := newNode(b, cfg)
	tok := token(b, gojwt.MapClaims{"sub": "u"})
	var trs []benchTransport
	for i := 0; i < subs; i++ {
		tr := newTransport()
		c, err := n.NewClient(context.Background(), tr)
		if err != nil {
			b.Fatal(err)
		}
		var connect, subscribe []byte
		if proto == protocol.TypeJSON {
			connect = []byte(`{"id":1,"connect":{"token":"` + tok + `"}}`)
			subscribe = []byte(`{"id":2,"subscribe":{"channel":"bench"}}`)
		} else {
			connect = protobufFrame(b, `{"id":1,"connect":{"token":"`+tok+`"}}`)
			subscribe = protobufFrame(b, `{"id":2,"subscribe":{"channel":"bench"}}`)
		}
		if !c.HandleFrame(connect) || !c.HandleFrame(subscribe) {
			b.Fatal("setup failed")
		}
		trs = append(trs, tr)
	}
	for _, tr := range trs {
		for tr.count().Load() < 2 {
		}
		tr.count().Store(0)
	}
	data := []byte(`{"text":"hello world","seq":12345,"ts":1700000000000}`)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.Publish(ctx, "bench", data, engine.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, tr := range trs {
		for tr.count().Load() < int64(b.N) {
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
}

func BenchmarkFanout1(b *testing.B)             { benchmarkFanout(b, 1, protocol.TypeJSON) }
func BenchmarkFanout100(b *testing.B)           { benchmarkFanout(b, 100, protocol.TypeJSON) }
func BenchmarkFanout10000(b *testing.B)         { benchmarkFanout(b, 10000, protocol.TypeJSON) }
func BenchmarkFanout10000Protobuf(b *testing.B) { benchmarkFanout(b, 10000, protocol.TypeProtobuf) }

// BenchmarkFanoutInline100/10000: the transport accepts non-blocking writes
// (engine.TryWriter), so no writer goroutine is started per delivery.
func BenchmarkFanoutInline100(b *testing.B) {
	benchmarkFanoutWith(b, 100, func() benchTransport { return &inlineTransport{} }, protocol.TypeJSON)
}

func BenchmarkFanoutInline10000(b *testing.B) {
	benchmarkFanoutWith(b, 10000, func() benchTransport { return &inlineTransport{} }, protocol.TypeJSON)
}

// BenchmarkConnectSubscribe measures a full connect (JWT verification
// included) plus one subscribe and the close of the session.
func BenchmarkConnectSubscribe(b *testing.B) {
	cfg := testConfig()
	cfg.Client.PingInterval = -1
	n := newNode(b, cfg)
	tok := token(b, gojwt.MapClaims{"sub": "u"})
	connect := []byte(`{"id":1,"connect":{"token":"` + tok + `"}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr := &countingTransport{}
		c, err := n.NewClient(context.Background(), tr)
		if err != nil {
			b.Fatal(err)
		}
		sub := []byte(fmt.Sprintf(`{"id":2,"subscribe":{"channel":"ch%d"}}`, i%1000))
		if !c.HandleFrame(connect) || !c.HandleFrame(sub) {
			b.Fatal("failed")
		}
		c.Close(protocol.DisconnectConnectionClosed)
	}
}
