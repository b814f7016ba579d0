package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/broker/redis"
)

// redisAddr returns the shared test Redis (HERALD_TEST_REDIS_ADDR, default
// 127.0.0.1:6379) and fails the test if it cannot be reached.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("HERALD_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	hostport := addr
	if i := strings.Index(hostport, "://"); i >= 0 {
		hostport = hostport[i+3:]
		hostport, _, _ = strings.Cut(hostport, "/")
		if j := strings.LastIndex(hostport, "@"); j >= 0 {
			hostport = hostport[j+1:]
		}
	}
	c, err := net.DialTimeout("tcp", hostport, time.Second)
	if err != nil {
		t.Fatalf("Redis tests need a Redis server at %s (set HERALD_TEST_REDIS_ADDR): %v", addr, err)
	}
	_ = c.Close()
	return addr
}

// testPrefix returns a key prefix unique to this test and deletes every key
// under it when the test ends.
func testPrefix(t testing.TB, addrs ...string) string {
	t.Helper()
	prefix := fmt.Sprintf("heraldtest%08x", rand.Uint32())
	t.Cleanup(func() {
		for _, a := range addrs {
			deleteKeys(t, a, prefix)
		}
	})
	return prefix
}

func deleteKeys(t testing.TB, addr, prefix string) {
	t.Helper()
	if !strings.Contains(addr, "://") {
		addr = "redis://" + addr
	}
	opt, err := rueidis.ParseURL(addr)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return // a server the test stopped
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Errorf("cleanup scan: %v", err)
			return
		}
		if len(e.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				t.Errorf("cleanup del: %v", err)
				return
			}
		}
		if cursor = e.Cursor; cursor == 0 {
			return
		}
	}
}

func newTestBroker(t testing.TB, opts redis.Options) *redis.Broker {
	t.Helper()
	b, err := redis.New(opts)
	if err != nil {
		t.Fatalf("redis.New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func newTestPresence(t testing.TB, opts redis.Options) *redis.PresenceManager {
	t.Helper()
	m, err := redis.NewPresenceManager(opts)
	if err != nil {
		t.Fatalf("redis.NewPresenceManager: %v", err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// eventually polls cond until it holds or timeout elapses.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		<-tick.C
	}
}

// collector is an EventHandler recording publications per channel.
type collector struct {
	mu   sync.Mutex
	pubs map[string][]*broker.Publication
}

func newCollector() *collector { return &collector{pubs: make(map[string][]*broker.Publication)} }

func (c *collector) HandlePublication(ch string, pub *broker.Publication, _ broker.StreamPosition, _ bool, _ *broker.Publication) error {
	c.mu.Lock()
	c.pubs[ch] = append(c.pubs[ch], pub)
	c.mu.Unlock()
	return nil
}
func (c *collector) HandleJoin(string, *broker.ClientInfo) error  { return nil }
func (c *collector) HandleLeave(string, *broker.ClientInfo) error { return nil }

func (c *collector) get(ch string) []*broker.Publication {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*broker.Publication(nil), c.pubs[ch]...)
}

// redisServer is a redis-server process owned by a test.
type redisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisServer starts a private redis-server on a free port; it is
// stopped when the test ends.
func startRedisServer(t testing.TB) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("this test needs redis-server in PATH: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &redisServer{t: t, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	eventually(s.t, 10*time.Second, "redis-server accepting connections", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), 100*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
}

func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}
