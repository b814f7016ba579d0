package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge-go"
	"github.com/redis/rueidis"
)

// tcpProxy forwards TCP connections from a 127.0.0.1 listener to a target
// address that can be changed at any time. Sever kills every proxied
// connection with a TCP RST on both sides (no WebSocket close frame, no
// FIN), which is how a client loses its network: abruptly. While the proxy
// is down, new connections are reset as soon as they are accepted.
type tcpProxy struct {
	ln       net.Listener
	target   atomic.Value // string
	toClient atomic.Int64 // bytes forwarded from the target to clients
	accepted atomic.Int64 // connections forwarded to a target

	mu    sync.Mutex
	down  bool
	pairs map[*proxyPair]struct{}
	wg    sync.WaitGroup
}

type proxyPair struct {
	client, upstream net.Conn
}

// newTCPProxy starts a proxy to target; it is closed when the test ends.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &tcpProxy{ln: ln, pairs: map[*proxyPair]struct{}{}}
	p.target.Store(target)
	p.wg.Add(1)
	go p.acceptLoop()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's listening address.
func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

// WSURL is the WebSocket endpoint of the target, reached through the proxy.
func (p *tcpProxy) WSURL() string { return "ws://" + p.Addr() + "/connection/websocket" }

// SetTarget makes new connections go to addr; existing ones are untouched.
func (p *tcpProxy) SetTarget(addr string) { p.target.Store(addr) }

// BytesToClient is the number of bytes forwarded from targets to clients.
func (p *tcpProxy) BytesToClient() int64 { return p.toClient.Load() }

// Accepted is the number of connections forwarded so far.
func (p *tcpProxy) Accepted() int64 { return p.accepted.Load() }

// Cut takes the proxy down and resets every live connection.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	p.down = true
	pairs := p.pairs
	p.pairs = map[*proxyPair]struct{}{}
	p.mu.Unlock()
	for pp := range pairs {
		pp.reset()
	}
}

// Restore lets new connections through again.
func (p *tcpProxy) Restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Sever resets every live connection but keeps accepting new ones.
func (p *tcpProxy) Sever() {
	p.Cut()
	p.Restore()
}

func (p *tcpProxy) close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// resetConn closes c with SO_LINGER 0, so the peer gets a RST.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (pp *proxyPair) reset() {
	resetConn(pp.client)
	resetConn(pp.upstream)
}

func (p *tcpProxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			resetConn(c)
			continue
		}
		up, err := net.DialTimeout("tcp", p.target.Load().(string), 2*time.Second)
		if err != nil {
			resetConn(c)
			continue
		}
		pp := &proxyPair{client: c, upstream: up}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			pp.reset()
			continue
		}
		p.pairs[pp] = struct{}{}
		p.mu.Unlock()
		p.accepted.Add(1)
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(up, c)
			p.drop(pp)
		}()
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(countingWriter{c, &p.toClient}, up)
			p.drop(pp)
		}()
	}
}

// drop forgets pp and closes both ends (one side ended on its own).
func (p *tcpProxy) drop(pp *proxyPair) {
	p.mu.Lock()
	delete(p.pairs, pp)
	p.mu.Unlock()
	_ = pp.client.Close()
	_ = pp.upstream.Close()
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (cw countingWriter) Write(b []byte) (int, error) {
	n, err := cw.w.Write(b)
	cw.n.Add(int64(n))
	return n, err
}

// newSDKClientURL is newSDKClient for an explicit WebSocket URL (a proxy).
func newSDKClientURL(t *testing.T, url string, p sdkProtocol, cfg centrifuge.Config) *sdkClient {
	t.Helper()
	if cfg.MinReconnectDelay == 0 {
		cfg.MinReconnectDelay = 50 * time.Millisecond
	}
	if cfg.MaxReconnectDelay == 0 {
		cfg.MaxReconnectDelay = 300 * time.Millisecond
	}
	c := &sdkClient{
		Client:       p.new(url, cfg),
		connected:    make(chan centrifuge.ConnectedEvent, 100),
		connecting:   make(chan centrifuge.ConnectingEvent, 1000),
		disconnected: make(chan centrifuge.DisconnectedEvent, 100),
		errs:         make(chan centrifuge.ErrorEvent, 1000),
		serverSubs:   make(chan centrifuge.ServerSubscribedEvent, 100),
		serverUnsubs: make(chan centrifuge.ServerUnsubscribedEvent, 100),
		serverPubs:   make(chan centrifuge.ServerPublicationEvent, 1000),
	}
	c.OnConnected(func(e centrifuge.ConnectedEvent) { push(c.connected, e) })
	c.OnConnecting(func(e centrifuge.ConnectingEvent) { push(c.connecting, e) })
	c.OnDisconnected(func(e centrifuge.DisconnectedEvent) { push(c.disconnected, e) })
	c.OnError(func(e centrifuge.ErrorEvent) { push(c.errs, e) })
	c.OnSubscribed(func(e centrifuge.ServerSubscribedEvent) { push(c.serverSubs, e) })
	c.OnUnsubscribed(func(e centrifuge.ServerUnsubscribedEvent) { push(c.serverUnsubs, e) })
	c.OnPublication(func(e centrifuge.ServerPublicationEvent) { push(c.serverPubs, e) })
	t.Cleanup(c.Close)
	return c
}

// connectSDKURL connects a client for user to url and waits for it.
func connectSDKURL(t *testing.T, url string, p sdkProtocol, user string) (*sdkClient, centrifuge.ConnectedEvent) {
	t.Helper()
	c := newSDKClientURL(t, url, p, centrifuge.Config{Token: connToken(t, user, nil)})
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return c, c.waitConnected(t)
}

// expectNoPub fails if a publication is already queued on s (used after a
// live marker publication to prove nothing else was delivered before it).
func (s *sdkSub) expectNoPub(t *testing.T) {
	t.Helper()
	select {
	case ev := <-s.pubs:
		t.Fatalf("%s: unexpected publication %s @%d", s.Channel, ev.Data, ev.Offset)
	default:
	}
}

// withNamespace adds a namespace to channel.namespaces.
func withNamespace(ns map[string]any) configOption {
	return func(cfg map[string]any) {
		ch := cfg["channel"].(map[string]any)
		ch["namespaces"] = append(ch["namespaces"].([]any), ns)
	}
}

// cacheNamespace is "cache": cache recovery mode with one retained publication.
var cacheNamespace = withNamespace(map[string]any{
	"name":                       "cache",
	"history_size":               1,
	"history_ttl":                "300s",
	"force_recovery":             true,
	"force_recovery_mode":        "cache",
	"allow_subscribe_for_client": true,
})

// deltaNamespace is "delta": history, recovery and Fossil deltas.
var deltaNamespace = withNamespace(map[string]any{
	"name":                       "delta",
	"history_size":               100,
	"history_ttl":                "300s",
	"force_recovery":             true,
	"allowed_delta_types":        []any{"fossil"},
	"allow_subscribe_for_client": true,
})

// sharedRedisAddr is the machine's Redis, shared by every test (each with
// its own key prefix).
const sharedRedisAddr = "127.0.0.1:6379"

// randomPrefix returns a Redis key prefix unique to this test run.
func randomPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "e2e" + hex.EncodeToString(b)
}

// withRedisEngine selects the Redis engine at addr with prefix.
func withRedisEngine(addr, prefix string, extra map[string]any) configOption {
	return func(cfg map[string]any) {
		r := map[string]any{
			"address": []any{"redis://" + addr},
			"prefix":  prefix,
		}
		for k, v := range extra {
			r[k] = v
		}
		cfg["engine"] = map[string]any{"type": "redis", "redis": r}
	}
}

// redisClient connects to addr; it is closed when the test ends.
func redisClient(t *testing.T, addr string) rueidis.Client {
	t.Helper()
	rc, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{addr},
		DisableCache: true,
		Dialer:       net.Dialer{Timeout: 2 * time.Second},
	})
	if err != nil {
		t.Fatalf("redis %s unreachable (the e2e Redis tests need a Redis on %s): %v", addr, addr, err)
	}
	t.Cleanup(rc.Close)
	return rc
}

// sharedRedisPrefix returns a fresh prefix on the shared Redis and deletes
// its keys when the test ends (registered before any server starts, so it
// runs after the servers are stopped).
func sharedRedisPrefix(t *testing.T) string {
	t.Helper()
	prefix := randomPrefix(t)
	rc := redisClient(t, sharedRedisAddr)
	t.Cleanup(func() {
		if err := deleteKeys(rc, prefix+".*"); err != nil {
			t.Errorf("delete redis keys %s.*: %v", prefix, err)
		}
	})
	return prefix
}

// deleteKeys deletes every key matching pattern.
func deleteKeys(rc rueidis.Client, pattern string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var cursor uint64
	for {
		e, err := rc.Do(ctx, rc.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(e.Elements) > 0 {
			if err := rc.Do(ctx, rc.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
				return err
			}
		}
		cursor = e.Cursor
		if cursor == 0 {
			return nil
		}
	}
}

// startCluster starts n herald nodes with the same configuration and waits
// until the info API of every node lists all n.
func startCluster(t *testing.T, n int, opts ...configOption) []*server {
	t.Helper()
	nodes := make([]*server, n)
	for i := range nodes {
		nodes[i] = startServer(t, opts...)
	}
	for _, s := range nodes {
		eventually(t, 20*time.Second, func() error {
			res := s.apiResult(t, "info", map[string]any{})
			got, _ := res["nodes"].([]any)
			if len(got) != n {
				return fmt.Errorf("node %s: info lists %d nodes, want %d: %v", s.Addr, len(got), n, res)
			}
			return nil
		})
	}
	return nodes
}

// privateRedis is a redis-server process owned by one test.
type privateRedis struct {
	Port int
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
	logs *logBuffer
}

// startPrivateRedis starts redis-server without persistence on a free port
// (or on port when it is not zero) and waits until it answers PING. It is
// killed when the test ends.
func startPrivateRedis(t *testing.T, port int) *privateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not installed: the Redis failure test starts its own Redis (apt-get install redis-server)")
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		p := port
		if p == 0 {
			if p, err = freePort(); err != nil {
				t.Fatal(err)
			}
		}
		r := &privateRedis{Port: p, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), done: make(chan struct{}), logs: &logBuffer{}}
		r.cmd = exec.Command(bin, "--port", strconv.Itoa(p), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
		r.cmd.Stdout = r.logs
		r.cmd.Stderr = r.logs
		if err := r.cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		go func() { _ = r.cmd.Wait(); close(r.done) }()
		t.Cleanup(r.Kill)
		if lastErr = r.waitReady(10 * time.Second); lastErr == nil {
			return r
		}
		r.Kill()
		if port != 0 {
			// The same port is required: retry it (a socket in TIME_WAIT or a
			// racing process may hold it for a moment).
			continue
		}
	}
	t.Fatalf("redis-server not ready: %v", lastErr)
	return nil
}

func (r *privateRedis) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-r.done:
			return fmt.Errorf("redis-server exited: %s", r.logs.String())
		default:
		}
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, err = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			if err == nil {
				_, err = io.ReadFull(c, buf)
			}
			_ = c.Close()
			if err == nil && string(buf) == "+PONG\r\n" {
				return nil
			}
			if err == nil {
				err = fmt.Errorf("PING answered %q", buf)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis on %s not ready within %v: %v", r.Addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not an assertion
	}
}

// Stop sends SIGTERM and waits for the process to exit.
func (r *privateRedis) Stop(t *testing.T) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.Kill()
		t.Fatalf("redis-server on %s did not exit within 10s of SIGTERM", r.Addr)
	}
}

// Kill kills the process (idempotent).
func (r *privateRedis) Kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}
