package redis_test

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/redis"
)

// TestRedisRestart kills a private redis-server while a publisher runs and
// starts it again: publishes fail fast with ErrUnavailable during the
// outage, the broker resubscribes when Redis is back, and publications made
// after recovery are delivered gap-free (in a new stream epoch, since the
// server kept no data).
func TestRedisRestart(t *testing.T) {
	srv := startRedisServer(t)
	const ioTimeout = time.Second
	opts := redis.Options{
		Addresses:      []string{srv.addr()},
		Prefix:         testPrefix(t, srv.addr()),
		ConnectTimeout: 200 * time.Millisecond,
		IOTimeout:      ioTimeout,
	}
	pub := newTestBroker(t, opts)
	sub := newTestBroker(t, opts)
	ctx := t.Context()
	col := newCollector()
	if err := pub.Start(ctx, newCollector()); err != nil {
		t.Fatal(err)
	}
	if err := sub.Start(ctx, col); err != nil {
		t.Fatal(err)
	}
	const ch = "restart"
	if err := sub.Subscribe(ctx, ch); err != nil {
		t.Fatal(err)
	}
	hist := broker.PublishOptions{HistorySize: 1000, HistoryTTL: time.Minute}
	publish := func(data string) (broker.PublishResult, error) {
		return pub.Publish(ctx, ch, []byte(data), hist)
	}
	for i := range 10 {
		if _, err := publish(fmt.Sprint("before-", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "deliveries before the outage", func() bool { return len(col.get(ch)) == 10 })

	srv.stop()
	// Every publish during the outage fails with ErrUnavailable, and
	// within the IO timeout.
	for i := range 5 {
		start := time.Now()
		_, err := publish(fmt.Sprint("during-", i))
		if d := time.Since(start); d > ioTimeout+500*time.Millisecond {
			t.Fatalf("publish during the outage took %v", d)
		}
		if !errors.Is(err, redis.ErrUnavailable) {
			t.Fatalf("publish during the outage: %v, want ErrUnavailable", err)
		}
	}
	start := time.Now()
	_, _, err := pub.History(ctx, ch, broker.HistoryOptions{})
	if !errors.Is(err, redis.ErrUnavailable) || time.Since(start) > ioTimeout+500*time.Millisecond {
		t.Fatalf("history during the outage: %v after %v", err, time.Since(start))
	}

	srv.start()
	// Publish until a sentinel comes through: this proves the subscriber
	// resubscribed. Then publications after recovery arrive in order.
	var epoch string
	eventually(t, 15*time.Second, "resubscribe after restart", func() bool {
		res, err := publish("probe")
		if err != nil {
			return false
		}
		epoch = res.Position.Epoch
		for _, p := range col.get(ch) {
			if string(p.Data) == "probe" {
				return true
			}
		}
		return false
	})
	var first uint64
	for i := range 20 {
		res, err := publish(fmt.Sprint("after-", i))
		if err != nil {
			t.Fatalf("publish after recovery: %v", err)
		}
		if res.Position.Epoch != epoch {
			t.Fatalf("epoch changed after recovery: %q → %q", epoch, res.Position.Epoch)
		}
		if i == 0 {
			first = res.Position.Offset
		}
	}
	// Probes still in flight may arrive in between: look at what follows
	// the first post-recovery publication.
	var got []*broker.Publication
	eventually(t, 10*time.Second, "deliveries after recovery", func() bool {
		all := col.get(ch)
		for i, p := range all {
			if string(p.Data) == "after-0" {
				got = all[i:]
				return len(got) >= 20
			}
		}
		return false
	})
	for i, p := range got {
		if string(p.Data) != fmt.Sprint("after-", i) || p.Offset != first+uint64(i) {
			t.Fatalf("delivery %d after recovery: %q offset %d, want after-%d offset %d", i, p.Data, p.Offset, i, first+uint64(i))
		}
	}
}

// TestSubscribeDuringOutage checks that Subscribe fails (rather than hangs)
// while Redis is down, and that channels unsubscribed during the outage are
// not subscribed again.
func TestSubscribeDuringOutage(t *testing.T) {
	srv := startRedisServer(t)
	opts := redis.Options{
		Addresses:       []string{srv.addr()},
		Prefix:          testPrefix(t, srv.addr()),
		ConnectTimeout:  200 * time.Millisecond,
		IOTimeout:       time.Second,
		SubscribeConns:  1,
		DispatchWorkers: 1,
	}
	b := newTestBroker(t, opts)
	col := newCollector()
	ctx := t.Context()
	if err := b.Start(ctx, col); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "dropped"); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	eventually(t, 10*time.Second, "subscribe failing during the outage", func() bool {
		start := time.Now()
		err := b.Subscribe(ctx, "new")
		if time.Since(start) > 2*time.Second {
			t.Fatalf("Subscribe took %v", time.Since(start))
		}
		return err != nil
	})
	if err := b.Unsubscribe(ctx, "dropped"); err != nil {
		t.Fatalf("Unsubscribe during the outage: %v", err)
	}
	srv.start()
	eventually(t, 15*time.Second, "resubscribe", func() bool {
		_, err := b.Publish(ctx, "kept", []byte("k"), broker.PublishOptions{})
		return err == nil && len(col.get("kept")) > 0
	})
	// One connection and one worker: delivery order is total, so the
	// sentinel on "kept" proves nothing was delivered on "dropped". A
	// publish may still meet a pooled connection of the old server and fail
	// with EOF (an error the caller sees, not a loss): publish again then.
	publish := func(ch, data string) {
		eventually(t, 10*time.Second, "publish to "+ch, func() bool {
			_, err := b.Publish(ctx, ch, []byte(data), broker.PublishOptions{})
			return err == nil
		})
	}
	publish("dropped", "x")
	publish("kept", "k2")
	eventually(t, 10*time.Second, "sentinel", func() bool {
		for _, p := range col.get("kept") {
			if string(p.Data) == "k2" {
				return true
			}
		}
		return false
	})
	if n := len(col.get("dropped")); n != 0 {
		t.Fatalf("%d deliveries on a channel unsubscribed during the outage", n)
	}
}

// TestRedisUnresponsive freezes a private redis-server (SIGSTOP): calls
// fail with ErrUnavailable within the IO timeout instead of hanging, and
// work again once it resumes.
func TestRedisUnresponsive(t *testing.T) {
	srv := startRedisServer(t)
	const ioTimeout = 500 * time.Millisecond
	opts := redis.Options{
		Addresses:      []string{srv.addr()},
		Prefix:         testPrefix(t, srv.addr()),
		ConnectTimeout: 200 * time.Millisecond,
		IOTimeout:      ioTimeout,
	}
	b := newTestBroker(t, opts)
	ctx := t.Context()
	if err := b.Start(ctx, newCollector()); err != nil {
		t.Fatal(err)
	}
	hist := broker.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	if _, err := b.Publish(ctx, "frozen", []byte("a"), hist); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	start := time.Now()
	_, err := b.Publish(ctx, "frozen", []byte("b"), hist)
	if d := time.Since(start); d > ioTimeout+time.Second {
		t.Fatalf("publish to a frozen Redis took %v", d)
	}
	if !errors.Is(err, redis.ErrUnavailable) {
		t.Fatalf("publish to a frozen Redis: %v, want ErrUnavailable", err)
	}
	resume()
	eventually(t, 15*time.Second, "publish after resume", func() bool {
		_, err := b.Publish(ctx, "frozen", []byte("c"), hist)
		return err == nil
	})
}
