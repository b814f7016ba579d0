package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/centrifugal/centrifuge-go"
)

// deltaDoc returns a large JSON document; consecutive versions differ in
// one small region only, so a Fossil delta between them is tiny.
func deltaDoc(version int) map[string]any {
	items := make([]any, 200)
	for i := range items {
		items[i] = map[string]any{"id": i, "name": fmt.Sprintf("item-%03d", i), "price": 100 + i, "tags": []any{"a", "b", "ü€"}}
	}
	items[7] = map[string]any{"id": 7, "name": fmt.Sprintf("version-%d", version), "price": 1000 + version}
	return map[string]any{
		"items": items,
		"title": strings.Repeat("lorem ipsum ", 50),
	}
}

func docSize(t *testing.T, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// publishDelta publishes data with delta:true through the API.
func (s *server) publishDelta(t *testing.T, channel string, data any) {
	t.Helper()
	s.apiResult(t, "publish", map[string]any{"channel": channel, "data": data, "delta": true})
}

// TestDeltaFossil: a subscriber that negotiated Fossil deltas gets the
// same data as published, live and recovered, while the bytes on the wire
// show that deltas (not full documents) were sent.
func TestDeltaFossil(t *testing.T) {
	t.Parallel()
	const k = 10
	forEachProtocol(t, func(t *testing.T, p sdkProtocol) {
		s := startServer(t, deltaNamespace)
		px := newTCPProxy(t, s.Addr)
		c, _ := connectSDKURL(t, px.WSURL(), p, "u1")
		sub, ev := subscribe(t, c, "delta:doc", centrifuge.SubscriptionConfig{Delta: centrifuge.DeltaTypeFossil})
		if !ev.Positioned && !ev.Recoverable {
			t.Fatalf("subscribed event = %+v, want positioned", ev)
		}
		// A plain subscriber on the same channel must get full documents.
		plainClient, _ := connectSDK(t, s, p, "u2")
		plain, _ := subscribe(t, plainClient, "delta:doc", centrifuge.SubscriptionConfig{})

		size := docSize(t, deltaDoc(0))
		before := px.BytesToClient()
		for v := 0; v < k; v++ {
			s.publishDelta(t, "delta:doc", deltaDoc(v))
		}
		for v := 0; v < k; v++ {
			want, _ := json.Marshal(deltaDoc(v))
			got := sub.expectPub(t, string(want))
			if got.Offset != uint64(v+1) {
				t.Errorf("delta publication %d offset = %d, want %d", v, got.Offset, v+1)
			}
			plain.expectPub(t, string(want))
		}
		wire := px.BytesToClient() - before
		t.Logf("%d documents of %d bytes: %d bytes on the wire to the delta subscriber", k, size, wire)
		if limit := int64(size) * 3; wire > limit {
			t.Errorf("%d bytes reached the delta subscriber for %d documents of %d bytes, want < %d (deltas, not full documents)", wire, k, size, limit)
		}

		// Recovery of missed publications is delta-encoded in sequence.
		cutAndWait(t, s, px, c, "")
		for v := k; v < 2*k; v++ {
			s.publishDelta(t, "delta:doc", deltaDoc(v))
		}
		px.Restore()
		c.waitConnected(t)
		if ev := sub.waitSubscribed(t); !ev.Recovered {
			t.Errorf("resubscribe = %+v, want Recovered", ev)
		}
		for v := k; v < 2*k; v++ {
			want, _ := json.Marshal(deltaDoc(v))
			if got := sub.expectPub(t, string(want)); got.Offset != uint64(v+1) {
				t.Errorf("recovered delta publication %d offset = %d, want %d", v, got.Offset, v+1)
			}
		}
		// And live deltas continue against the recovered base.
		for v := 2 * k; v < 2*k+3; v++ {
			s.publishDelta(t, "delta:doc", deltaDoc(v))
			want, _ := json.Marshal(deltaDoc(v))
			sub.expectPub(t, string(want))
		}
		sub.expectNoPub(t)
	})
}
