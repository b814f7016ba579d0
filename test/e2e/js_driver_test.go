package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireNode returns the node binary after checking Node.js >= 20 and npm,
// and installs test/e2e/js dependencies if needed.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the centrifuge-js tests need Node.js >= 20 and npm on PATH")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is not installed: the centrifuge-js tests need npm to install test/e2e/js dependencies")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	major, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(v, "v"), ".", 2)[0])
	if err != nil || major < 20 {
		t.Fatalf("node %s: the centrifuge-js tests need Node.js >= 20", v)
	}
	ensureNodeModules(t, jsDir(t))
	return node
}

// jsPosition is a stream position reported by centrifuge-js.
type jsPosition struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

// jsEvent is one event line printed by js/driver.mjs.
type jsEvent struct {
	Ev            string          `json:"ev"`
	Channel       string          `json:"channel"`
	Client        string          `json:"client"`
	User          string          `json:"user"`
	Code          int             `json:"code"`
	Reason        string          `json:"reason"`
	Message       string          `json:"message"`
	Recovered     bool            `json:"recovered"`
	WasRecovering bool            `json:"wasRecovering"`
	Recoverable   bool            `json:"recoverable"`
	Positioned    bool            `json:"positioned"`
	Position      *jsPosition     `json:"position"`
	Data          json.RawMessage `json:"data"`
	Offset        uint64          `json:"offset"`
	Clients       []struct {
		User   string `json:"user"`
		Client string `json:"client"`
	} `json:"clients"`
	NumPublications  int `json:"numPublications"`
	NumFullPayloads  int `json:"numFullPayloads"`
	NumDeltaPayloads int `json:"numDeltaPayloads"`

	line string
}

// jsClient is a running js/driver.mjs process.
type jsClient struct {
	t      *testing.T
	proto  string
	stdin  io.WriteCloser
	stderr *logBuffer
	log    *logBuffer // every stdout line

	mu     sync.Mutex
	queues map[string]chan jsEvent
	done   chan struct{}
}

// startJS starts the driver for a client with token connecting to url. It
// does not connect yet (send {"op":"connect"}).
func startJS(t *testing.T, node, url, proto, tok string) *jsClient {
	t.Helper()
	cmd := exec.Command(node, "driver.mjs")
	cmd.Dir = jsDir(t)
	cmd.Env = append(os.Environ(), "HERALD_WS_URL="+url, "HERALD_TOKEN="+tok, "HERALD_PROTOCOL="+proto)
	c := &jsClient{t: t, proto: proto, stderr: &logBuffer{}, log: &logBuffer{}, queues: map[string]chan jsEvent{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node driver.mjs: %v", err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = c.log.Write([]byte(line + "\n"))
			var ev jsEvent
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				ev = jsEvent{Ev: "garbage", Message: line}
			}
			ev.line = line
			c.queue(ev.Ev) <- ev
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-c.done
		}
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("driver.mjs (%s) stdout:\n%s\nstderr:\n%s", proto, c.log.String(), c.stderr.String())
		}
	})
	return c
}

func (c *jsClient) queue(kind string) chan jsEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := c.queues[kind]
	if !ok {
		q = make(chan jsEvent, 10000)
		c.queues[kind] = q
	}
	return q
}

// send writes a command to the driver.
func (c *jsClient) send(cmd map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Fatalf("driver.mjs stdin: %v (stderr %s)", err, c.stderr.String())
	}
}

// next waits for the next event of kind.
func (c *jsClient) next(kind string) jsEvent {
	c.t.Helper()
	select {
	case ev := <-c.queue(kind):
		return ev
	case ev := <-c.queue("fatal"):
		c.t.Fatalf("driver.mjs failed: %s", ev.Message)
	case <-time.After(waitTimeout):
		c.t.Fatalf("centrifuge-js (%s): no %q event within %v", c.proto, kind, waitTimeout)
	}
	return jsEvent{}
}

// drain forgets the queued events of kind.
func (c *jsClient) drain(kind string) { drain(c.queue(kind)) }

// expectNone fails if an event of kind is queued.
func (c *jsClient) expectNone(kind string) {
	c.t.Helper()
	select {
	case ev := <-c.queue(kind):
		c.t.Fatalf("centrifuge-js (%s): unexpected %s", c.proto, ev.line)
	default:
	}
}

// connect connects and waits for the connected event.
func (c *jsClient) connect() jsEvent {
	c.t.Helper()
	c.send(map[string]any{"op": "connect"})
	return c.next("connected")
}

// subscribe subscribes with extra options and waits for subscribed.
func (c *jsClient) subscribe(channel string, extra map[string]any) jsEvent {
	c.t.Helper()
	cmd := map[string]any{"op": "subscribe", "channel": channel}
	for k, v := range extra {
		cmd[k] = v
	}
	c.send(cmd)
	return c.next("subscribed")
}

// expectPub waits for a publication and checks its channel, data and offset.
func (c *jsClient) expectPub(kind, channel string, data any, offset uint64) jsEvent {
	c.t.Helper()
	want, err := json.Marshal(data)
	if err != nil {
		c.t.Fatal(err)
	}
	ev := c.next(kind)
	if ev.Channel != channel || !jsonEqual(ev.Data, want) || ev.Offset != offset {
		c.t.Fatalf("centrifuge-js (%s): %s = %s @%d on %s, want %.200s @%d on %s", c.proto, kind, trunc(ev.Data), ev.Offset, ev.Channel, want, offset, channel)
	}
	return ev
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// cut resets the client's connection through px and waits for the SDK to
// report it is reconnecting.
func (c *jsClient) cut(px *tcpProxy) {
	c.t.Helper()
	c.drain("connecting")
	px.Cut()
	c.next("connecting")
}

// TestJSRecoveryAndDelta runs the history/recovery/presence/delta scenarios
// with centrifuge-js (JSON and Protobuf builds) under Node.js.
func TestJSRecoveryAndDelta(t *testing.T) {
	t.Parallel()
	node := requireNode(t)
	for _, proto := range []string{"json", "protobuf"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, cacheNamespace, deltaNamespace)
			t.Run("recovery", func(t *testing.T) { jsRecovery(t, node, proto, s) })
			t.Run("epoch", func(t *testing.T) { jsEpochChange(t, node, proto, s) })
			t.Run("cache", func(t *testing.T) { jsCacheMode(t, node, proto, s) })
			t.Run("presence", func(t *testing.T) { jsPresence(t, node, proto, s) })
			t.Run("server-side", func(t *testing.T) { jsServerSide(t, node, proto, s) })
			t.Run("delta", func(t *testing.T) { jsDelta(t, node, proto, s) })
		})
	}
}

func jsRecovery(t *testing.T, node, proto string, s *server) {
	const n, ch = 10, "chat:js-cut"
	px := newTCPProxy(t, s.Addr)
	c := startJS(t, node, px.WSURL(), proto, connToken(t, "js1", nil))
	c.connect()
	first := c.subscribe(ch, nil)
	if !first.Recoverable || first.Position == nil {
		t.Fatalf("subscribed = %s, want recoverable with a position", first.line)
	}
	s.publish(t, ch, map[string]any{"i": 0})
	c.expectPub("publication", ch, map[string]any{"i": 0}, 1)
	c.cut(px)
	eventually(t, waitTimeout, func() error {
		if k := s.numClients(t, ch); k != 0 {
			return fmt.Errorf("num_clients = %d after the reset, want 0", k)
		}
		return nil
	})
	for i := 1; i <= n; i++ {
		s.publish(t, ch, map[string]any{"i": i})
	}
	px.Restore()
	c.next("connected")
	ev := c.next("subscribed")
	if !ev.WasRecovering || !ev.Recovered || ev.Position == nil || ev.Position.Epoch != first.Position.Epoch {
		t.Errorf("resubscribe = %s, want wasRecovering, recovered, epoch %s", ev.line, first.Position.Epoch)
	}
	for i := 1; i <= n; i++ {
		c.expectPub("publication", ch, map[string]any{"i": i}, uint64(i+1))
	}
	s.publish(t, ch, "live")
	c.expectPub("publication", ch, "live", n+2)
	c.expectNone("publication")
}

func jsEpochChange(t *testing.T, node, proto string, s1 *server) {
	const ch = "chat:js-epoch"
	px := newTCPProxy(t, s1.Addr)
	c := startJS(t, node, px.WSURL(), proto, connToken(t, "js1", nil))
	c.connect()
	first := c.subscribe(ch, nil)
	s1.publish(t, ch, "old")
	c.expectPub("publication", ch, "old", 1)
	s2 := startServer(t, cacheNamespace, deltaNamespace)
	px.SetTarget(s2.Addr)
	c.cut(px)
	for i := 1; i <= 3; i++ {
		s2.publish(t, ch, map[string]any{"new": i})
	}
	px.Restore()
	c.next("connected")
	ev := c.next("subscribed")
	if !ev.WasRecovering || ev.Recovered || ev.Position == nil || ev.Position.Epoch == first.Position.Epoch || ev.Position.Offset != 3 {
		t.Errorf("resubscribe across an epoch change = %s, want wasRecovering, not recovered, a new epoch (old %s) at offset 3", ev.line, first.Position.Epoch)
	}
	s2.publish(t, ch, "live")
	c.expectPub("publication", ch, "live", 4)
	c.expectNone("publication")
}

func jsCacheMode(t *testing.T, node, proto string, s *server) {
	const ch = "cache:js"
	px := newTCPProxy(t, s.Addr)
	c := startJS(t, node, px.WSURL(), proto, connToken(t, "js1", nil))
	c.connect()
	c.subscribe(ch, nil)
	s.publish(t, ch, map[string]any{"v": 0})
	c.expectPub("publication", ch, map[string]any{"v": 0}, 1)
	c.cut(px)
	for i := 1; i <= 5; i++ {
		s.publish(t, ch, map[string]any{"v": i})
	}
	px.Restore()
	c.next("connected")
	if ev := c.next("subscribed"); !ev.WasRecovering || !ev.Recovered {
		t.Errorf("cache-mode resubscribe = %s, want wasRecovering and recovered", ev.line)
	}
	c.expectPub("publication", ch, map[string]any{"v": 5}, 6)
	s.publish(t, ch, "live")
	c.expectPub("publication", ch, "live", 7)
	c.expectNone("publication")
}

func jsPresence(t *testing.T, node, proto string, s *server) {
	const ch = "chat:js-pres"
	w := startJS(t, node, s.WSURL(), proto, connToken(t, "js-watcher", nil))
	wev := w.connect()
	w.subscribe(ch, map[string]any{"joinLeave": true})

	px := newTCPProxy(t, s.Addr)
	c := startJS(t, node, px.WSURL(), proto, connToken(t, "js-cut", nil))
	cev := c.connect()
	c.subscribe(ch, nil)
	if j := w.next("join"); j.User != "js-cut" || j.Client != cev.Client {
		t.Errorf("join = %s, want js-cut/%s", j.line, cev.Client)
	}
	w.send(map[string]any{"op": "presence", "channel": ch})
	pr := w.next("presence")
	seen := map[string]string{}
	for _, cl := range pr.Clients {
		seen[cl.Client] = cl.User
	}
	if len(seen) != 2 || seen[cev.Client] != "js-cut" || seen[wev.Client] != "js-watcher" {
		t.Errorf("presence = %s, want js-watcher/%s and js-cut/%s", pr.line, wev.Client, cev.Client)
	}
	c.cut(px)
	if l := w.next("leave"); l.User != "js-cut" || l.Client != cev.Client {
		t.Errorf("leave after the reset = %s, want js-cut/%s", l.line, cev.Client)
	}
	px.Restore()
	nev := c.next("connected")
	if j := w.next("join"); j.Client != nev.Client {
		t.Errorf("join after reconnect = %s, want client %s", j.line, nev.Client)
	}
}

func jsServerSide(t *testing.T, node, proto string, s *server) {
	const n = 4
	chs := []string{"chat:js-ss1", "chat:js-ss2"}
	px := newTCPProxy(t, s.Addr)
	tok := connToken(t, "js1", map[string]any{"subs": map[string]any{chs[0]: map[string]any{}, chs[1]: map[string]any{}}})
	c := startJS(t, node, px.WSURL(), proto, tok)
	c.connect()
	for range chs {
		if ev := c.next("server_subscribed"); !ev.Recoverable {
			t.Fatalf("server-side subscription = %s, want recoverable", ev.line)
		}
	}
	for _, ch := range chs {
		s.publish(t, ch, "first")
		c.expectPub("server_publication", ch, "first", 1)
	}
	c.cut(px)
	for i := 1; i <= n; i++ {
		s.publish(t, chs[0], map[string]any{"i": i})
	}
	px.Restore()
	c.next("connected")
	got := map[string]jsEvent{}
	for range chs {
		ev := c.next("server_subscribed")
		got[ev.Channel] = ev
	}
	for _, ch := range chs {
		if ev := got[ch]; !ev.WasRecovering || !ev.Recovered {
			t.Errorf("%s: server-side resubscribe = %s, want wasRecovering and recovered", ch, ev.line)
		}
	}
	for i := 1; i <= n; i++ {
		c.expectPub("server_publication", chs[0], map[string]any{"i": i}, uint64(i+1))
	}
	s.publish(t, chs[1], "live")
	c.expectPub("server_publication", chs[1], "live", 2)
	c.expectNone("server_publication")
}

func jsDelta(t *testing.T, node, proto string, s *server) {
	const k, ch = 8, "delta:js"
	px := newTCPProxy(t, s.Addr)
	c := startJS(t, node, px.WSURL(), proto, connToken(t, "js1", nil))
	c.connect()
	c.subscribe(ch, map[string]any{"delta": "fossil"})
	size := docSize(t, deltaDoc(0))
	before := px.BytesToClient()
	for v := 0; v < k; v++ {
		s.publishDelta(t, ch, deltaDoc(v))
		c.expectPub("publication", ch, deltaDoc(v), uint64(v+1))
	}
	wire := px.BytesToClient() - before
	c.send(map[string]any{"op": "deltaStats", "channel": ch})
	st := c.next("deltaStats")
	t.Logf("%d documents of %d bytes: %d bytes on the wire; delta stats %s", k, size, wire, st.line)
	if st.NumDeltaPayloads < k-1 || st.NumFullPayloads != 1 {
		t.Errorf("delta stats %s: want 1 full payload and %d deltas", st.line, k-1)
	}
	if limit := int64(size) * 3; wire > limit {
		t.Errorf("%d bytes reached the delta subscriber for %d documents of %d bytes, want < %d", wire, k, size, limit)
	}
	c.cut(px)
	for v := k; v < 2*k; v++ {
		s.publishDelta(t, ch, deltaDoc(v))
	}
	px.Restore()
	c.next("connected")
	if ev := c.next("subscribed"); !ev.Recovered {
		t.Errorf("resubscribe = %s, want recovered", ev.line)
	}
	for v := k; v < 2*k+2; v++ {
		if v >= 2*k {
			s.publishDelta(t, ch, deltaDoc(v))
		}
		c.expectPub("publication", ch, deltaDoc(v), uint64(v+1))
	}
	c.expectNone("publication")
}
