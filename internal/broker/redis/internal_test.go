package redis

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/rawio"
)

func TestJumpHashStable(t *testing.T) {
	// Every node must map a channel to the same shard: the mapping is part
	// of the deployment contract and must never change (these values pin
	// FNV-1a 64 + jump consistent hash).
	for _, tc := range []struct {
		ch   string
		n    int
		want int
	}{
		{"news", 1, 0},
		{"news", 2, 1},
		{"news", 3, 2},
		{"news", 8, 3},
		{"chat:1", 2, 0},
		{"chat:1", 8, 0},
		{"user#42", 3, 2},
		{"user#42", 8, 2},
	} {
		if got := shardIndex(tc.ch, tc.n); got != tc.want {
			t.Fatalf("shardIndex(%q, %d) = %d, want %d", tc.ch, tc.n, got, tc.want)
		}
	}
	// Growing from n to n+1 shards moves only channels to the new shard.
	for i := range 1000 {
		ch := "ch" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		a, b := shardIndex(ch, 4), shardIndex(ch, 5)
		if a != b && b != 4 {
			t.Fatalf("%s moved from %d to %d", ch, a, b)
		}
	}
}

func TestDecodeMessage(t *testing.T) {
	opts := &broker.PublishOptions{UseDelta: true}
	cur, err := encodePublication([]byte("cur"), opts, 7)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := encodePublication([]byte("prev:with:colons"), opts, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		payload string
		check   func(m message) bool
	}{
		{"raw", string(cur), func(m message) bool {
			return m.kind == 'p' && m.useDelta && m.sp == (broker.StreamPosition{}) && string(m.pub.Data) == "cur" && m.pub.Time == 7
		}},
		{"position", "__p1:12:abcdEFGH__" + string(cur), func(m message) bool {
			return m.kind == 'p' && !m.useDelta && m.sp == (broker.StreamPosition{Offset: 12, Epoch: "abcdEFGH"}) && m.pub.Offset == 12
		}},
		{"delta", "__d1:5:abcdEFGH:" + itoa(len(prev)) + ":" + string(prev) + ":" + itoa(len(cur)) + ":" + string(cur), func(m message) bool {
			return m.useDelta && m.prev != nil && string(m.prev.Data) == "prev:with:colons" && m.prev.Offset == 4 &&
				string(m.pub.Data) == "cur" && m.pub.Offset == 5
		}},
		{"delta without prev", "__d1:1:abcdEFGH:0::" + itoa(len(cur)) + ":" + string(cur), func(m message) bool {
			return m.useDelta && m.prev == nil && string(m.pub.Data) == "cur"
		}},
	} {
		m, err := decodeMessage(tc.payload)
		if err != nil || !tc.check(m) {
			t.Fatalf("%s: %+v, %v", tc.name, m, err)
		}
	}
	for _, bad := range []string{"__p1:x:e__", "__p1:1:e", "__d1:1:e:9:ab", "__d1:1:e"} {
		if _, err := decodeMessage(bad); err == nil {
			t.Fatalf("decodeMessage(%q) succeeded", bad)
		}
	}
	join, err := encodeInfo(prefixJoin, &broker.ClientInfo{User: "u", Client: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := decodeMessage(string(join)); err != nil || m.kind != 'j' || m.info.User != "u" {
		t.Fatalf("join: %+v, %v", m, err)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// Plain TCP connections to Redis are dialled with dialRaw, which wraps
// them for raw reads and writes; TLS ones are left to rueidis. The
// connection dialRaw returns talks to the real Redis.
func TestDialRaw(t *testing.T) {
	opts := Options{Addresses: []string{"127.0.0.1:6379", "rediss://127.0.0.1:6380"}}
	cos, err := opts.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	if cos[0].DialCtxFn == nil {
		t.Error("plain address: no raw dial")
	}
	if cos[1].DialCtxFn != nil {
		t.Error("TLS address: raw dial set")
	}
	c, err := dialRaw(context.Background(), "127.0.0.1:6379", &net.Dialer{Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatalf("Redis at 127.0.0.1:6379 unreachable: %v", err)
	}
	defer c.Close()
	if _, ok := c.(*rawio.Conn); !ok {
		t.Fatalf("dialRaw returned %T, want *rawio.Conn", c)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "+PONG\r\n" {
		t.Fatalf("PING answered %q, %v", buf[:n], err)
	}
}
