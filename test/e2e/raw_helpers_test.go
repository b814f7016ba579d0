package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/centrifugal/protocol"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// rawConn is a WebSocket connection speaking the client protocol by hand.
// Incoming frames are split into messages (JSON lines or varint-delimited
// Protobuf Replies) which next returns one at a time.
type rawConn struct {
	t        *testing.T
	ws       *websocket.Conn
	protobuf bool
	pending  [][]byte
	// frames counts the data frames read so far.
	frames int
}

// dialRaw opens a WebSocket to s offering the given subprotocols (none
// means the server default, JSON). Passing "centrifuge-protobuf" selects
// Protobuf.
func dialRaw(t *testing.T, s *server, subprotocols ...string) *rawConn {
	t.Helper()
	return dialRawURL(t, s.WSURL(), subprotocols...)
}

func dialRawURL(t *testing.T, url string, subprotocols ...string) *rawConn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: subprotocols}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	_ = resp.Body.Close()
	c := &rawConn{t: t, ws: ws, protobuf: ws.Subprotocol() == "centrifuge-protobuf"}
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

// sendText writes one text frame.
func (c *rawConn) sendText(s string) {
	c.t.Helper()
	c.write(websocket.TextMessage, []byte(s))
}

// sendBinary writes one binary frame.
func (c *rawConn) sendBinary(b []byte) {
	c.t.Helper()
	c.write(websocket.BinaryMessage, b)
}

func (c *rawConn) write(typ int, b []byte) {
	c.t.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(typ, b); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// sendCommands writes Protobuf commands in one varint-delimited frame.
func (c *rawConn) sendCommands(cmds ...*pb.Command) {
	c.t.Helper()
	var frame []byte
	for _, cmd := range cmds {
		b, err := proto.Marshal(cmd)
		if err != nil {
			c.t.Fatalf("marshal command: %v", err)
		}
		frame = protowire.AppendVarint(frame, uint64(len(b)))
		frame = append(frame, b...)
	}
	c.sendBinary(frame)
}

// errClosed wraps the close frame (or connection loss) that ended reading.
type errClosed struct{ err error }

func (e errClosed) Error() string { return "connection closed: " + e.err.Error() }

func (e errClosed) Unwrap() error { return e.err }

// closeCodeOf returns the close code carried by err, or -1.
func closeCodeOf(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// nextMessage returns the next message, reading a frame if needed.
func (c *rawConn) nextMessage(timeout time.Duration) ([]byte, error) {
	for len(c.pending) == 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil, errClosed{err}
		}
		c.frames++
		if c.protobuf {
			if typ != websocket.BinaryMessage {
				return nil, fmt.Errorf("protobuf connection got frame type %d, want binary", typ)
			}
			for len(data) > 0 {
				n, l := protowire.ConsumeVarint(data)
				if l < 0 || uint64(len(data)-l) < n {
					return nil, fmt.Errorf("bad varint framing in %x", data)
				}
				c.pending = append(c.pending, data[l:l+int(n)])
				data = data[l+int(n):]
			}
			continue
		}
		if typ != websocket.TextMessage {
			return nil, fmt.Errorf("JSON connection got frame type %d, want text", typ)
		}
		if bytes.HasSuffix(data, []byte("\n")) {
			return nil, fmt.Errorf("JSON frame ends with a newline: %q", data)
		}
		c.pending = append(c.pending, bytes.Split(data, []byte("\n"))...)
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

// next returns the next message or fails the test.
func (c *rawConn) next(timeout time.Duration) []byte {
	c.t.Helper()
	m, err := c.nextMessage(timeout)
	if err != nil {
		c.t.Fatalf("waiting for a message: %v", err)
	}
	return m
}

// nextJSON returns the next JSON message decoded.
func (c *rawConn) nextJSON(timeout time.Duration) map[string]any {
	c.t.Helper()
	m := c.next(timeout)
	var v map[string]any
	if err := json.Unmarshal(m, &v); err != nil {
		c.t.Fatalf("message is not a JSON object: %v: %q", err, m)
	}
	return v
}

// nextNonPingJSON skips pings ({}).
func (c *rawConn) nextNonPingJSON(timeout time.Duration) map[string]any {
	c.t.Helper()
	for {
		v := c.nextJSON(timeout)
		if len(v) > 0 {
			return v
		}
	}
}

// nextReply returns the next Protobuf Reply, skipping pings.
func (c *rawConn) nextReply(timeout time.Duration) *pb.Reply {
	c.t.Helper()
	for {
		m := c.next(timeout)
		if len(m) == 0 {
			continue // ping
		}
		r := &pb.Reply{}
		if err := proto.Unmarshal(m, r); err != nil {
			c.t.Fatalf("decode Reply: %v: %x", err, m)
		}
		return r
	}
}

// expectClose reads until the server closes the connection and checks the
// close code (and the reason, when not empty).
func (c *rawConn) expectClose(code int, reason string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var skipped []string
	for {
		m, err := c.nextMessage(time.Until(deadline))
		if err == nil {
			skipped = append(skipped, string(m))
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("want close %d %q, got %v (messages before: %q)", code, reason, err, skipped)
		}
		if ce.Code != code || (reason != "" && ce.Text != reason) {
			c.t.Fatalf("closed with %d %q, want %d %q (messages before: %q)", ce.Code, ce.Text, code, reason, skipped)
		}
		return
	}
}

// connectJSON sends a JSON connect with tok and returns the connect result.
func (c *rawConn) connectJSON(tok string) map[string]any {
	c.t.Helper()
	c.sendText(fmt.Sprintf(`{"id":1,"connect":{"token":%q}}`, tok))
	r := c.nextJSON(waitTimeout)
	res, ok := r["connect"].(map[string]any)
	if !ok || r["id"] != float64(1) {
		c.t.Fatalf("connect reply = %v, want id 1 with a connect result", r)
	}
	return res
}

// keys returns the sorted keys of m.
func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sameKeys(m map[string]any, want ...string) error {
	sort.Strings(want)
	if got := keys(m); strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("keys %v, want exactly %v in %v", got, want, m)
	}
	return nil
}

// jsonOf marshals v for comparison.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// expectJSON checks that message m equals the JSON want, ignoring key order.
func expectJSON(t *testing.T, m map[string]any, want string) {
	t.Helper()
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON %s: %v", want, err)
	}
	if got, exp := jsonOf(t, m), jsonOf(t, w); got != exp {
		t.Fatalf("message = %s\nwant      %s", got, exp)
	}
}

// checkHealthy proves the server still serves well-behaved clients: a new
// JSON connection connects, subscribes and receives an API publication.
func checkHealthy(t *testing.T, s *server) {
	t.Helper()
	if !s.Running() {
		t.Fatal("herald is not running")
	}
	c := dialRaw(t, s)
	c.connectJSON(connToken(t, "healthy", nil))
	ch := fmt.Sprintf("healthy-%d", time.Now().UnixNano())
	c.sendText(fmt.Sprintf(`{"id":2,"subscribe":{"channel":%q}}`, ch))
	if r := c.nextNonPingJSON(waitTimeout); r["id"] != float64(2) || r["subscribe"] == nil {
		t.Fatalf("healthy client: subscribe reply = %v", r)
	}
	s.publish(t, ch, map[string]any{"ok": true})
	expectJSON(t, c.nextNonPingJSON(waitTimeout), fmt.Sprintf(`{"push":{"channel":%q,"pub":{"data":{"ok":true}}}}`, ch))
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}

// httpGet is a small GET helper for endpoints other than the API.
func httpGet(t *testing.T, url string) int {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
