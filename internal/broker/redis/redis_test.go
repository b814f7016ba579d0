package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/brokertest"
	"github.com/heraldrt/herald/internal/broker/redis"
)

func TestBrokerConformance(t *testing.T) {
	addr := redisAddr(t)
	brokertest.RunBroker(t, func(t *testing.T) broker.Broker {
		return newTestBroker(t, redis.Options{Addresses: []string{addr}, Prefix: testPrefix(t, addr)})
	})
}

func TestPresenceConformance(t *testing.T) {
	addr := redisAddr(t)
	for _, mapping := range []bool{false, true} {
		t.Run(fmt.Sprint("UserMapping=", mapping), func(t *testing.T) {
			brokertest.RunPresence(t, func(t *testing.T) broker.PresenceManager {
				return newTestPresence(t, redis.Options{
					Addresses:           []string{addr},
					Prefix:              testPrefix(t, addr),
					PresenceUserMapping: mapping,
				})
			})
		})
	}
}

// TestPresenceExpiry checks that entries not refreshed within PresenceTTL
// disappear, together with their user.
func TestPresenceExpiry(t *testing.T) {
	addr := redisAddr(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	for _, mapping := range []bool{false, true} {
		t.Run(fmt.Sprint("UserMapping=", mapping), func(t *testing.T) {
			m := newTestPresence(t, redis.Options{
				Addresses: []string{addr}, Prefix: testPrefix(t, addr),
				PresenceTTL: time.Minute, PresenceUserMapping: mapping, Now: clock,
			})
			ctx := t.Context()
			ch := "expiry"
			if err := m.AddPresence(ctx, ch, "old", &broker.ClientInfo{User: "u1", Client: "old"}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			now = now.Add(45 * time.Second)
			mu.Unlock()
			if err := m.AddPresence(ctx, ch, "new", &broker.ClientInfo{User: "u2", Client: "new"}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			now = now.Add(30 * time.Second) // "old" is 75 s old, "new" 30 s
			mu.Unlock()
			st, err := m.PresenceStats(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			if st != (broker.PresenceStats{NumClients: 1, NumUsers: 1}) {
				t.Fatalf("stats after expiry: %+v", st)
			}
			p, err := m.Presence(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != 1 || p["new"] == nil {
				t.Fatalf("presence after expiry: %v", p)
			}
		})
	}
}

// TestCrossNode runs two brokers (two nodes) on one Redis: what one
// publishes the other receives, in order, and both read the same history.
func TestCrossNode(t *testing.T) {
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	ctx := t.Context()
	nodes := make([]*redis.Broker, 2)
	cols := make([]*collector, 2)
	for i := range nodes {
		nodes[i] = newTestBroker(t, redis.Options{Addresses: []string{addr}, Prefix: prefix})
		cols[i] = newCollector()
		if err := nodes[i].Start(ctx, cols[i]); err != nil {
			t.Fatal(err)
		}
		if err := nodes[i].Subscribe(ctx, "news"); err != nil {
			t.Fatal(err)
		}
	}
	opts := broker.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	const n = 50
	for i := range n {
		if _, err := nodes[i%2].Publish(ctx, "news", fmt.Appendf(nil, "m%d", i), opts); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cols {
		eventually(t, 10*time.Second, fmt.Sprint("node ", i, " deliveries"), func() bool { return len(c.get("news")) == n })
		for j, p := range c.get("news") {
			if p.Offset != uint64(j+1) || string(p.Data) != fmt.Sprint("m", j) {
				t.Fatalf("node %d delivery %d: offset %d data %q", i, j, p.Offset, p.Data)
			}
		}
	}
	_, sp0, err := nodes[0].History(ctx, "news", broker.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pubs, sp1, err := nodes[1].History(ctx, "news", broker.HistoryOptions{Filter: broker.HistoryFilter{Limit: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if sp0 != sp1 || sp0.Offset != n || len(pubs) != n {
		t.Fatalf("history: %+v / %+v with %d publications", sp0, sp1, len(pubs))
	}
}

// controlRecorder records control messages.
type controlRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *controlRecorder) HandleControl(data []byte) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(data))
	r.mu.Unlock()
	return nil
}

func (r *controlRecorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func TestControl(t *testing.T) {
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	ctx := t.Context()
	ids := []string{"node-a", "node-b"}
	nodes := make([]*redis.Broker, 2)
	recs := make([]*controlRecorder, 2)
	for i := range nodes {
		nodes[i] = newTestBroker(t, redis.Options{Addresses: []string{addr}, Prefix: prefix})
		recs[i] = &controlRecorder{}
		if err := nodes[i].Start(ctx, newCollector()); err != nil {
			t.Fatal(err)
		}
		if err := nodes[i].StartControl(ctx, ids[i], recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[0].StartControl(ctx, "again", recs[0]); err == nil {
		t.Fatal("second StartControl succeeded")
	}
	for _, m := range []struct{ data, to string }{
		{"all-1", ""}, {"to-b", "node-b"}, {"to-a", "node-a"}, {"to-nobody", "node-z"}, {"all-2", ""},
	} {
		if err := nodes[0].PublishControl(ctx, []byte(m.data), m.to); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{{"all-1", "to-a", "all-2"}, {"all-1", "to-b", "all-2"}}
	for i, r := range recs {
		eventually(t, 10*time.Second, "control delivery", func() bool { return len(r.get()) >= 3 })
		got := r.get()
		// Broadcast and directed channels are independent streams: compare
		// as sets, and broadcast order separately.
		if !sameSet(got, want[i]) || slices.Index(got, "all-1") > slices.Index(got, "all-2") {
			t.Fatalf("node %s received %v, want %v", ids[i], got, want[i])
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestJoinLeaveCrossNode(t *testing.T) {
	addr := redisAddr(t)
	prefix := testPrefix(t, addr)
	ctx := t.Context()
	a := newTestBroker(t, redis.Options{Addresses: []string{addr}, Prefix: prefix})
	bb := newTestBroker(t, redis.Options{Addresses: []string{addr}, Prefix: prefix})
	rec := &eventLog{}
	if err := a.Start(ctx, newCollector()); err != nil {
		t.Fatal(err)
	}
	if err := bb.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := bb.Subscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	info := &broker.ClientInfo{User: "u", Client: "c", ConnInfo: []byte(`{"x":1}`)}
	if err := a.PublishJoin(ctx, "room", info); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishLeave(ctx, "room", info); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "join and leave", func() bool { return len(rec.get()) == 2 })
	if got := rec.get(); !slices.Equal(got, []string{"join u/c", "leave u/c"}) {
		t.Fatalf("events %v", got)
	}
}

type eventLog struct {
	controlRecorder
	collector
}

func (e *eventLog) HandleJoin(_ string, i *broker.ClientInfo) error {
	return e.HandleControl([]byte("join " + i.User + "/" + i.Client))
}

func (e *eventLog) HandleLeave(_ string, i *broker.ClientInfo) error {
	return e.HandleControl([]byte("leave " + i.User + "/" + i.Client))
}

func (e *eventLog) get() []string { return e.controlRecorder.get() }

func TestNewFailsFast(t *testing.T) {
	start := time.Now()
	_, err := redis.New(redis.Options{Addresses: []string{"redis://127.0.0.1:1"}, ConnectTimeout: 200 * time.Millisecond})
	if err == nil || !errors.Is(err, redis.ErrUnavailable) {
		t.Fatalf("New with an unreachable address: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("New took %v", d)
	}
}

func TestNotStarted(t *testing.T) {
	addr := redisAddr(t)
	b := newTestBroker(t, redis.Options{Addresses: []string{addr}, Prefix: testPrefix(t, addr)})
	if _, err := b.Publish(context.Background(), "x", nil, broker.PublishOptions{}); !errors.Is(err, redis.ErrNotStarted) {
		t.Fatalf("Publish before Start: %v", err)
	}
}

func TestPresenceClose(t *testing.T) {
	addr := redisAddr(t)
	m := newTestPresence(t, redis.Options{Addresses: []string{addr}, Prefix: testPrefix(t, addr)})
	for range 2 {
		if err := m.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AddPresence(t.Context(), "ch", "c", nil); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("AddPresence after Close: %v", err)
	}
	if _, err := m.PresenceStats(t.Context(), "ch"); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("PresenceStats after Close: %v", err)
	}
}
