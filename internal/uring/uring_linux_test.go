//go:build linux

package uring

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/testutil/loopback"
)

// result records one Sent call.
type result struct {
	n   int
	err error
}

// recorder is a Sink that appends its outcomes to a shared log, so that
// tests see the order of the calls.
type recorder struct {
	id  int
	log *[]int
	res []result
}

func (r *recorder) Sent(n int, err error) {
	*r.log = append(*r.log, r.id)
	r.res = append(r.res, result{n, err})
}

// pair is a connected TCP pair: snd is the raw non-blocking descriptor of
// one end, rcv the other end.
type pair struct {
	snd int
	rcv net.Conn
}

func socketPairs(t testing.TB, n int) []pair {
	t.Helper()
	pairs := make([]pair, n)
	for i := range pairs {
		_, c, rc := loopback.RawPair(t) // the server end is non-blocking, as the server's sockets
		_ = rc.Control(func(fd uintptr) { pairs[i] = pair{snd: int(fd), rcv: c} })
	}
	return pairs
}

func getBatch(t testing.TB) *Batch {
	t.Helper()
	b := Get()
	if b == nil {
		t.Skip("io_uring is not available here")
	}
	return b
}

func TestBatchSendsToEverySocketInOrder(t *testing.T) {
	b := getBatch(t)
	defer b.Release()
	pairs := socketPairs(t, 3*Size+5)
	var log []int
	sinks := make([]*recorder, len(pairs))
	for i, p := range pairs {
		if b.Full() {
			b.Submit()
		}
		sinks[i] = &recorder{id: i, log: &log}
		b.Add(p.snd, fmt.Appendf(nil, "message %d", i), sinks[i])
	}
	if b.Len() != 5 {
		t.Fatalf("Len = %d before the last Submit, want 5", b.Len())
	}
	b.Submit()
	if b.Len() != 0 {
		t.Fatalf("Len = %d after Submit", b.Len())
	}
	for i := range log {
		if log[i] != i {
			t.Fatalf("sink %d told at position %d: outcomes out of order", log[i], i)
		}
	}
	for i, p := range pairs {
		want := fmt.Sprintf("message %d", i)
		if got := sinks[i].res; len(got) != 1 || got[0].n != len(want) || got[0].err != nil {
			t.Fatalf("socket %d: outcomes %v, want one of %d bytes", i, got, len(want))
		}
		buf := make([]byte, 64)
		_ = p.rcv.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := p.rcv.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("socket %d received %q, %v; want %q", i, buf[:n], err, want)
		}
	}
}

// ringSubmit submits b with a first send of one byte to ballast (so that
// the batch is big enough for the ring: see minRingSends) and fails unless
// the sends went through the ring. The caller's send is added before.
func ringSubmit(t *testing.T, b *Batch, ballast pair, sink Sink) {
	t.Helper()
	last := b.entries[b.n-1]
	b.n--
	b.Add(ballast.snd, []byte{0}, sink)
	b.Add(last.fd, last.buf, last.sink)
	tail := b.r.tail
	b.Submit()
	if b.r == nil || b.r.tail-tail != 2 {
		t.Fatal("the sends did not go through the ring")
	}
}

func TestBatchFullSocketReportsZeroWithoutWaiting(t *testing.T) {
	b := getBatch(t)
	defer b.Release()
	pairs := socketPairs(t, 2)
	p := pairs[0] // the peer never reads
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	var log []int
	s, ballast := &recorder{log: &log}, &recorder{log: &log}
	total := 0
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("a socket took 1 GiB without being read")
		}
		b.Add(p.snd, big, s)
		ringSubmit(t, b, pairs[1], ballast) // must return even though the socket is full
		r := s.res[len(s.res)-1]
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.n == 0 {
			break
		}
		total += r.n
	}
	// Every byte reported sent arrives; nothing more.
	_ = p.rcv.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1<<20)
	got := 0
	for got < total {
		n, err := p.rcv.Read(buf)
		if err != nil {
			t.Fatalf("read after %d of %d bytes: %v", got, total, err)
		}
		got += n
	}
	_ = p.rcv.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _ := p.rcv.Read(buf); n != 0 {
		t.Fatalf("%d bytes more than reported sent", n)
	}
}

func TestBatchReportsBrokenConnection(t *testing.T) {
	b := getBatch(t)
	defer b.Release()
	pairs := socketPairs(t, 2)
	p := pairs[0]
	_ = p.rcv.(*net.TCPConn).SetLinger(0)
	_ = p.rcv.Close() // the peer resets the connection
	var log []int
	s, ballast := &recorder{log: &log}, &recorder{log: &log}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b.Add(p.snd, []byte("after reset"), s)
		ringSubmit(t, b, pairs[1], ballast)
		if err := s.res[len(s.res)-1].err; err != nil {
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("error %v, want EPIPE or ECONNRESET", err)
			}
			return
		}
		time.Sleep(time.Millisecond) // the reset travels through loopback
	}
	t.Fatal("sends to a reset connection never failed")
}

func TestBatchWritesToANonSocket(t *testing.T) {
	b := getBatch(t)
	defer b.Release()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := syscall.SetNonblock(int(w.Fd()), true); err != nil {
		t.Fatal(err)
	}
	var log []int
	s := &recorder{log: &log}
	b.Add(int(w.Fd()), []byte("through a pipe"), s)
	ringSubmit(t, b, socketPairs(t, 1)[0], &recorder{log: &log})
	if got := s.res; len(got) != 1 || got[0].n != 14 || got[0].err != nil {
		t.Fatalf("outcome %v, want 14 bytes", got)
	}
	buf := make([]byte, 32)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "through a pipe" {
		t.Fatalf("pipe got %q", buf[:n])
	}
}

func TestReleasedBatchIsReused(t *testing.T) {
	b := getBatch(t)
	b.Release()
	b2 := Get()
	defer b2.Release()
	if b2 != b {
		t.Fatal("Get after Release made a new ring")
	}
}

func TestNilBatchDoesNothing(t *testing.T) {
	var b *Batch
	if b.Full() || b.Len() != 0 {
		t.Fatal("a nil batch claims sends")
	}
	b.Submit()
	b.Release()
}

// BenchmarkBatchSend and BenchmarkSendto (netpoll.Write, the direct
// path) write 100 bytes to each of 1,000
// sockets (then read them back, in both): the difference is the cost of
// per-socket system calls.
func BenchmarkBatchSend(b *testing.B) {
	batch := getBatch(b)
	defer batch.Release()
	pairs := socketPairs(b, 1000)
	msg := make([]byte, 100)
	buf := make([]byte, 4096)
	var log []int
	s := &recorder{log: &log}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, p := range pairs {
			if batch.Full() {
				batch.Submit()
			}
			batch.Add(p.snd, msg, s)
		}
		batch.Submit()
		log, s.res = log[:0], s.res[:0]
		readAll(b, pairs, buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pairs)), "ns/send")
}

func BenchmarkSendto(b *testing.B) {
	pairs := socketPairs(b, 1000)
	msg := make([]byte, 100)
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, p := range pairs {
			if _, err := netpoll.Write(p.snd, msg); err != nil {
				b.Fatal(err)
			}
		}
		readAll(b, pairs, buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pairs)), "ns/send")
}

func readAll(b *testing.B, pairs []pair, buf []byte) {
	for _, p := range pairs {
		if _, err := p.rcv.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBrokenRingFallsBackToDirectSends: when io_uring_enter fails, the
// sends the kernel did not take are made directly, the batch goes on
// without its ring, and Get returns nil from then on.
func TestBrokenRingFallsBackToDirectSends(t *testing.T) {
	b := getBatch(t)
	defer disabledBy.Store(nil) // for the other tests
	pairs := socketPairs(t, 3)
	var log []int
	s := &recorder{log: &log}
	b.Add(pairs[0].snd, []byte("one"), s)
	b.Add(pairs[1].snd, []byte("two"), s)
	real := b.r.fd
	defer syscall.Close(real)
	b.r.fd = -1 // io_uring_enter fails with EBADF, taking nothing
	b.Submit()
	if b.r != nil {
		t.Fatal("the batch kept a broken ring")
	}
	b.Add(pairs[2].snd, []byte("three"), s) // a batch without a ring still works
	b.Submit()
	b.Release()
	for i, want := range []string{"one", "two", "three"} {
		if r := s.res[i]; r.n != len(want) || r.err != nil {
			t.Fatalf("send %d: %+v, want %d bytes", i, r, len(want))
		}
		buf := make([]byte, 16)
		_ = pairs[i].rcv.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := pairs[i].rcv.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("socket %d received %q, %v; want %q", i, buf[:n], err, want)
		}
	}
	if Get() != nil {
		t.Fatal("Get returned a batch after a ring failed")
	}
	if err := Available(); err == nil || !strings.Contains(err.Error(), "io_uring_enter") {
		t.Fatalf("Available() = %v, want the ring's failure", err)
	}
}

func TestAvailable(t *testing.T) {
	getBatch(t).Release() // skips where io_uring is missing
	if err := Available(); err != nil {
		t.Fatalf("Available() = %v with io_uring working", err)
	}
}

// TestSingleSendIsDirect: a batch of one send is made with sendto, not
// through the ring (see minRingSends), with the same outcome.
func TestSingleSendIsDirect(t *testing.T) {
	b := getBatch(t)
	defer b.Release()
	p := socketPairs(t, 1)[0]
	var log []int
	s := &recorder{log: &log}
	tail := b.r.tail
	b.Add(p.snd, []byte("alone"), s)
	b.Submit()
	if b.r.tail != tail {
		t.Fatal("a single send went through the ring")
	}
	if len(s.res) != 1 || s.res[0].n != 5 || s.res[0].err != nil {
		t.Fatalf("outcome %v, want 5 bytes", s.res)
	}
	buf := make([]byte, 8)
	_ = p.rcv.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := p.rcv.Read(buf); err != nil || string(buf[:n]) != "alone" {
		t.Fatalf("received %q, %v", buf[:n], err)
	}
}
