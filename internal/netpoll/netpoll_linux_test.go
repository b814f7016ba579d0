//go:build linux

package netpoll_test

import (
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/testutil/loopback"
)

const waitTimeout = 5 * time.Second

func eventually(t *testing.T, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", waitTimeout, msg)
		}
		time.Sleep(time.Millisecond) // polling interval, not an assertion
	}
}

// nonBlockingRead drains what has arrived on rc.
func nonBlockingRead(rc syscall.RawConn) (total int, eof bool) {
	buf := make([]byte, 64)
	_ = rc.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.Read(int(fd), buf)
			if n > 0 {
				total += n
				continue
			}
			eof = n == 0 && err == nil
			return true
		}
	})
	return total, eof
}

func TestCallbackPerReadiness(t *testing.T) {
	t.Run("workers", func(t *testing.T) { testCallbackPerReadiness(t, netpoll.Config{}) })
	t.Run("inline", func(t *testing.T) { testCallbackPerReadiness(t, netpoll.Config{Inline: true, Pollers: 2}) })
}

func testCallbackPerReadiness(t *testing.T, cfg netpoll.Config) {
	p, err := netpoll.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, client, rc := loopback.RawPair(t)
	var got, calls atomic.Int64
	var eof atomic.Bool
	var running atomic.Int32
	w, err := p.Add(rc, func() netpoll.Status {
		if running.Add(1) != 1 {
			t.Error("callbacks of one connection overlap")
		}
		defer running.Add(-1)
		calls.Add(1)
		n, e := nonBlockingRead(rc)
		got.Add(int64(n))
		if e {
			eof.Store(true)
			return netpoll.Stop
		}
		return netpoll.Wait
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("before arm")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // give an unarmed watch the chance to misfire; not an assertion
	if calls.Load() != 0 {
		t.Fatal("callback ran before Arm")
	}
	if err := w.Arm(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "data read after Arm", func() bool { return got.Load() == int64(len("before arm")) })
	for i := range 20 {
		if _, err := client.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "re-armed read", func() bool { return got.Load() == int64(len("before arm")+i+1) })
	}
	_ = client.Close()
	eventually(t, "EOF seen", eof.Load)
	w.Remove() // already removed by Stop: idempotent
	if err := w.Arm(); err == nil {
		t.Error("Arm after Remove succeeded")
	}
}

func TestOverflowAndClose(t *testing.T) {
	p, err := netpoll.New(netpoll.Config{Pollers: 2, Workers: 1, QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var started atomic.Int32
	const conns = 6
	for range conns {
		_, client, rc := loopback.RawPair(t)
		w, err := p.Add(rc, func() netpoll.Status {
			started.Add(1)
			<-release // a slow callback holds its goroutine
			nonBlockingRead(rc)
			return netpoll.Wait
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Arm(); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Write([]byte("go")); err != nil {
			t.Fatal(err)
		}
	}
	// One worker and a queue of one: the others run on overflow
	// goroutines instead of waiting.
	eventually(t, "callbacks started despite a busy worker", func() bool { return started.Load() >= conns-1 })
	closed := make(chan struct{})
	go func() { _ = p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while callbacks were running")
	case <-time.After(20 * time.Millisecond): // not an assertion of timing, only of order
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("Close did not return")
	}
	_, _, rc := loopback.RawPair(t)
	if _, err := p.Add(rc, func() netpoll.Status { return netpoll.Wait }); err == nil {
		t.Error("Add after Close succeeded")
	}
}

// TestAgainRequeues checks that a callback returning Again is called again
// without new readiness, and that readiness arriving while a callback runs
// makes it run again.
func TestAgainRequeues(t *testing.T) {
	p, err := netpoll.New(netpoll.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, client, rc := loopback.RawPair(t)
	var got, calls atomic.Int64
	inCallback := make(chan struct{})
	proceed := make(chan struct{})
	w, err := p.Add(rc, func() netpoll.Status {
		c := calls.Add(1)
		buf := make([]byte, 1) // one byte per call: Again until drained
		var n int
		_ = rc.Read(func(fd uintptr) bool {
			n, _ = syscall.Read(int(fd), buf)
			return true
		})
		if c == 1 {
			inCallback <- struct{}{}
			<-proceed
		}
		if n > 0 {
			got.Add(int64(n))
			return netpoll.Again
		}
		return netpoll.Wait
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Arm(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	<-inCallback
	// Readiness while the first call runs.
	if _, err := client.Write([]byte("bcdef")); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	eventually(t, "all bytes read one per call", func() bool { return got.Load() == 6 })
	// Again re-runs the callback until a call finds nothing to read: six
	// reads plus the one that sees EAGAIN (it may still be running now).
	eventually(t, "the call that finds the socket drained", func() bool { return calls.Load() >= 7 })
}

// TestLazy: the Poller starts on the first Get, is shared by later ones,
// and after Close none is returned.
func TestLazy(t *testing.T) {
	var l netpoll.Lazy
	p1, err := l.Get()
	if p1 == nil || err != nil {
		t.Fatalf("first Get: %v, %v", p1, err)
	}
	if p2, _ := l.Get(); p2 != p1 {
		t.Fatal("second Get started another Poller")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if p, _ := l.Get(); p != nil {
		t.Fatal("Get after Close returned a Poller")
	}
	if err := l.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

// TestShortReadWaitsForNextEdge: a callback that reads once, and returns
// Wait after a short read while HangupSeen is false, still gets every byte
// and the end of the stream, whether the FIN comes with the last data or
// after it.
func TestShortReadWaitsForNextEdge(t *testing.T) {
	p, err := netpoll.New(netpoll.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	for i := range 100 {
		_, client, rc := loopback.RawPair(t)
		var (
			got  atomic.Int64
			eof  atomic.Bool
			ws   atomic.Pointer[netpoll.Watch]
			buf  = make([]byte, 64)
			hups atomic.Bool // HangupSeen before the client closed
		)
		closed := atomic.Bool{}
		w, err := p.Add(rc, func() netpoll.Status {
			for {
				var n int
				var rerr error
				_ = rc.Read(func(fd uintptr) bool {
					n, rerr = syscall.Read(int(fd), buf)
					return true
				})
				switch {
				case n > 0:
					got.Add(int64(n))
					if ws.Load().HangupSeen() && !closed.Load() {
						hups.Store(true)
					}
					if n < len(buf) && !ws.Load().HangupSeen() {
						return netpoll.Wait
					}
				case n == 0 && rerr == nil:
					eof.Store(true)
					return netpoll.Stop
				default: // EAGAIN
					return netpoll.Wait
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		ws.Store(w)
		if err := w.Arm(); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Write([]byte("a")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "first byte", func() bool { return got.Load() == 1 })
		if w.HangupSeen() {
			t.Fatal("hang-up seen before the client closed")
		}
		if _, err := client.Write([]byte("bc")); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 { // let the data's event be taken before the FIN
			eventually(t, "second write", func() bool { return got.Load() == 3 })
		}
		closed.Store(true)
		_ = client.Close()
		eventually(t, "every byte and the end of the stream", func() bool { return got.Load() == 3 && eof.Load() })
		if hups.Load() {
			t.Fatal("hang-up reported while the client was open")
		}
		if !w.HangupSeen() {
			t.Fatal("the client's close was not reported as a hang-up")
		}
	}
}

// TestArmNow: ArmNow runs the callback at once on the caller, with no
// readiness, and later readiness runs it again; Arm after it fails.
func TestArmNow(t *testing.T) {
	p, err := netpoll.New(netpoll.Config{Inline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, client, rc := loopback.RawPair(t)
	var calls, got atomic.Int64
	w, err := p.Add(rc, func() netpoll.Status {
		calls.Add(1)
		n, _ := nonBlockingRead(rc)
		got.Add(int64(n))
		return netpoll.Wait
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.ArmNow(); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls after ArmNow returned, want 1 (on the caller)", calls.Load())
	}
	if _, err := client.Write([]byte("later")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "data read after ArmNow", func() bool { return got.Load() == int64(len("later")) })
	if err := w.Arm(); err == nil {
		t.Error("Arm after ArmNow succeeded")
	}
	if err := w.ArmNow(); err == nil {
		t.Error("ArmNow twice succeeded")
	}
}
