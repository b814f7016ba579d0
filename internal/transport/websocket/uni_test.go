package websocket_test

import (
	"errors"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/protocol"
	ws "github.com/heraldrt/herald/internal/transport/websocket"
)

// uniConfig is a uni_websocket Handler configuration whose disconnect push
// is {"disconnect":CODE}.
func uniConfig(u ws.UniConfig) ws.Config {
	u.DisconnectPush = func(d protocol.Disconnect) []byte {
		return []byte(`{"disconnect":` + strconv.Itoa(int(d.Code)) + `}`)
	}
	return ws.Config{Unidirectional: &u}
}

// TestUniModePushes: in the unidirectional mode each message of a write
// is a message of its own (or one message joined by '\n'), no subprotocol
// is selected, and the transport says so.
func TestUniModePushes(t *testing.T) {
	for _, join := range []bool{false, true} {
		ts := newTestServer(t, uniConfig(ws.UniConfig{JoinPushMessages: join}), withOnFrame(func(s *fakeSession, _ []byte) bool {
			return s.t.WriteMany([]byte(`{"a":1}`), []byte(`{"b":2}`), []byte(`{"c":3}`)) == nil
		}))
		c, resp, err := ts.tryDial(t, "", nil, ws.SubprotocolProtobuf)
		if err != nil {
			t.Fatal(err)
		}
		if p := resp.Header.Get("Sec-Websocket-Protocol"); p != "" {
			t.Errorf("subprotocol %q selected on uni_websocket", p)
		}
		s := ts.session(t)
		if s.t.Name() != "uni_websocket" || !s.t.Unidirectional() || s.t.Protocol() != protocol.TypeJSON {
			t.Errorf("transport %s unidirectional=%v protocol=%v", s.t.Name(), s.t.Unidirectional(), s.t.Protocol())
		}
		sendText(t, c, "go")
		want := []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}
		if join {
			want = []string{"{\"a\":1}\n{\"b\":2}\n{\"c\":3}"}
		}
		for _, w := range want {
			if _, got, err := c.ReadMessage(); err != nil || string(got) != w {
				t.Fatalf("join=%v: got %q, %v; want %q", join, got, err, w)
			}
		}
	}
}

// TestUniModeClose: Close sends the disconnect push then the close frame;
// without the closing handshake the TCP connection ends after the push.
func TestUniModeClose(t *testing.T) {
	for _, handshake := range []bool{true, false} {
		ts := newTestServer(t, uniConfig(ws.UniConfig{DisableClosingHandshake: !handshake}))
		c := ts.dial(t, "", nil)
		s := ts.session(t)
		go func() { _ = s.t.Close(protocol.DisconnectShutdown) }()
		if _, got, err := c.ReadMessage(); err != nil || string(got) != `{"disconnect":3001}` {
			t.Fatalf("handshake=%v: disconnect push %q, %v", handshake, got, err)
		}
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if handshake && (!errors.As(err, &ce) || ce.Code != 3001) {
			t.Fatalf("close: %v, want a 3001 close frame", err)
		}
		if !handshake && (!errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure) {
			t.Fatalf("close without handshake: %v, want the TCP connection closed without a close frame", err)
		}
	}
}

// TestUniModePings: after StartPings the server sends native pings, keeps
// a connection that answers them, and drops one that stays silent.
func TestUniModePings(t *testing.T) {
	ts := newTestServer(t, uniConfig(ws.UniConfig{PingInterval: 30 * time.Millisecond, PongWait: 60 * time.Millisecond}))
	answering := ts.dial(t, "", nil)
	sa := ts.session(t)
	silent := ts.dial(t, "", nil)
	ss := ts.session(t)
	for _, s := range []*fakeSession{sa, ss} {
		s.t.(interface{ StartPings() }).StartPings()
	}
	pings := make(chan struct{}, 64)
	answering.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return answering.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := answering.ReadMessage(); err != nil {
				return
			}
		}
	}()
	silent.SetPingHandler(func(string) error { return nil }) // never answers
	silentDone := make(chan error, 1)
	go func() {
		_, _, err := silent.ReadMessage()
		silentDone <- err
	}()
	select {
	case err := <-silentDone:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("silent connection not dropped: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("silent connection not dropped")
	}
	recv(t, ss.closes, "silent session closed")
	for range 5 { // well past PingInterval+PongWait: the answering one lives on
		recv(t, pings, "ping")
	}
	select {
	case d := <-sa.closes:
		t.Fatalf("answering connection closed: %v", d)
	default:
	}
}

// TestUniModeIdleConnectionsHoldNoGoroutine: uni connections with pings
// armed are served by the reactor like the bidirectional ones.
func TestUniModeIdleConnectionsHoldNoGoroutine(t *testing.T) {
	ts := newTestServer(t, uniConfig(ws.UniConfig{}))
	base := runtime.NumGoroutine()
	const n = 50
	for range n {
		ts.dial(t, "", nil)
		ts.session(t).t.(interface{ StartPings() }).StartPings()
	}
	if got := runtime.NumGoroutine() - base; got >= n/2 {
		t.Errorf("%d goroutines for %d idle uni connections", got, n)
	}
}
