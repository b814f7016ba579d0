package bench_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// fault is a delivery fault the fake server injects into one subscriber
// connection, chosen by subscription order. Pub numbers count the
// publications sent to that connection, from 1.
type fault struct {
	drop, dup, swap int // drop pub n; send pub n twice; send pub n after pub n+1
}

// fakeServer speaks just enough of client protocol v2 and the HTTP API:
// connect and subscribe replies, periodic pings (pongs counted), and API
// publishes forwarded to subscribers as pushes, with injected faults.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	apiKey string
	secret string
	ping   time.Duration
	faults map[int]fault // by subscription order (0-based)
	// failEvery > 0 answers every failEvery-th publish with an API error,
	// without publishing it.
	failEvery int
	publishes atomic.Int64

	mu      sync.Mutex
	subs    map[string][]*fakeConn
	nextSub int
	remotes map[string]bool

	pongs, connects, closes atomic.Int64
	// After a client's close frame: clients that had already closed their
	// socket (the server reads EOF or a reset at once), and clients that
	// still waited for the server's close (the read times out).
	closedFirst, waitedForServer atomic.Int64
}

// fakeConn is one client connection of the fake server.
type fakeConn struct {
	ws    *websocket.Conn
	proto protocol.Type
	wmu   sync.Mutex
	fault fault
	n     int    // publications handled
	held  []byte // swapped publication waiting for the next one
}

// newFakeServer starts a fake server on 127.0.0.1:0; it is closed at the
// end of the test.
func newFakeServer(t *testing.T, faults map[int]fault) *fakeServer {
	t.Helper()
	return startFakeServer(t, faults, false)
}

// startFakeServer is newFakeServer, serving TLS (httptest's certificate)
// when useTLS is set.
func startFakeServer(t *testing.T, faults map[int]fault, useTLS bool) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, faults: faults, ping: 20 * time.Millisecond,
		subs: map[string][]*fakeConn{}, remotes: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/connection/websocket", f.serveWS)
	mux.HandleFunc("/api/publish", f.servePublish)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	if useTLS {
		f.srv.StartTLS()
	} else {
		f.srv.Start()
	}
	t.Cleanup(f.srv.Close)
	return f
}

// probeClientClose tells, after a client's close frame (which gorilla has
// answered), whether the client closed its socket without waiting for the
// server: then a read ends at once with EOF or a reset, else it times out.
func (f *fakeServer) probeClientClose(nc net.Conn) {
	_ = nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var b [16]byte
	if _, err := nc.Read(b[:]); errors.Is(err, os.ErrDeadlineExceeded) {
		f.waitedForServer.Add(1)
	} else {
		f.closedFirst.Add(1)
	}
}

func (f *fakeServer) wsURL() string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/connection/websocket"
}
func (f *fakeServer) apiURL() string { return f.srv.URL + "/api" }

var upgrader = websocket.Upgrader{Subprotocols: []string{"centrifuge-json", "centrifuge-protobuf"}}

func (f *fakeServer) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	f.mu.Lock()
	f.remotes[host] = true
	f.mu.Unlock()
	c := &fakeConn{ws: ws, proto: protocol.TypeJSON}
	if ws.Subprotocol() == "centrifuge-protobuf" {
		c.proto = protocol.TypeProtobuf
	}
	done := make(chan struct{})
	defer func() {
		close(done)
		f.unsubscribe(c)
		_ = ws.Close()
		f.closes.Add(1)
	}()
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			if _, closeFrame := errors.AsType[*websocket.CloseError](err); closeFrame {
				f.probeClientClose(ws.UnderlyingConn())
			}
			return
		}
		cmds, err := protocol.DecodeCommands(c.proto, frame)
		if err != nil {
			f.t.Errorf("fake server: bad frame %q: %v", frame, err)
			return
		}
		for _, cmd := range cmds {
			switch {
			case cmd.Connect != nil:
				if f.secret != "" {
					if _, err := jwt.Parse(cmd.Connect.Token, func(*jwt.Token) (any, error) { return []byte(f.secret), nil }); err != nil {
						c.send(&protocolpb.Reply{Id: cmd.Id, Error: &protocolpb.Error{Code: 109, Message: "token invalid"}})
						continue
					}
				}
				f.connects.Add(1)
				c.send(&protocolpb.Reply{Id: cmd.Id, Connect: &protocolpb.ConnectResult{Client: "fake", Ping: 1, Pong: true}})
				go f.pinger(c, done)
			case cmd.Subscribe != nil:
				f.mu.Lock() // registered before the reply, as a real server does
				c.fault = f.faults[f.nextSub]
				f.nextSub++
				f.subs[cmd.Subscribe.Channel] = append(f.subs[cmd.Subscribe.Channel], c)
				f.mu.Unlock()
				c.send(&protocolpb.Reply{Id: cmd.Id, Subscribe: &protocolpb.SubscribeResult{}})
			case cmd.Id == 0:
				f.pongs.Add(1)
			}
		}
	}
}

// pinger sends an empty reply every f.ping until done.
func (f *fakeServer) pinger(c *fakeConn, done <-chan struct{}) {
	t := time.NewTicker(f.ping)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			c.send(&protocolpb.Reply{})
		}
	}
}

func (f *fakeServer) unsubscribe(c *fakeConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch, list := range f.subs {
		for i, x := range list {
			if x == c {
				f.subs[ch] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
	}
}

// send writes one reply in its own frame; write errors are ignored (the
// reader notices the closed connection).
func (c *fakeConn) send(r *protocolpb.Reply) {
	msg, err := protocol.EncodeReply(c.proto, r)
	if err != nil {
		panic(err)
	}
	c.write(protocol.AppendFrame(c.proto, nil, [][]byte{msg}))
}

func (c *fakeConn) write(frame []byte) {
	mt := websocket.TextMessage
	if c.proto == protocol.TypeProtobuf {
		mt = websocket.BinaryMessage
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.ws.WriteMessage(mt, frame)
}

// deliver sends one publication to c, applying its fault. Calls for one
// connection are serialised by the fake server's lock.
func (c *fakeConn) deliver(channel string, data []byte) {
	msg, err := protocol.EncodeReply(c.proto, &protocolpb.Reply{Push: &protocolpb.Push{Channel: channel, Pub: &protocolpb.Publication{Data: data}}})
	if err != nil {
		panic(err)
	}
	frame := protocol.AppendFrame(c.proto, nil, [][]byte{msg})
	c.n++
	switch c.n {
	case c.fault.drop:
		return
	case c.fault.swap:
		c.held = frame
		return
	case c.fault.dup:
		c.write(frame)
	}
	c.write(frame)
	if c.held != nil {
		c.write(c.held)
		c.held = nil
	}
}

func (f *fakeServer) servePublish(w http.ResponseWriter, r *http.Request) {
	if f.apiKey != "" && r.Header.Get("X-API-Key") != f.apiKey {
		_, _ = io.WriteString(w, `{"error":{"code":401,"message":"unauthorized"}}`)
		return
	}
	var req struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if n := f.publishes.Add(1); f.failEvery > 0 && n%int64(f.failEvery) == 0 {
		_, _ = io.WriteString(w, `{"error":{"code":100,"message":"internal server error"}}`)
		return
	}
	f.mu.Lock()
	for _, c := range f.subs[req.Channel] {
		c.deliver(req.Channel, req.Data)
	}
	f.mu.Unlock()
	_, _ = fmt.Fprint(w, `{"result":{}}`)
}

// remoteCount returns the number of distinct client addresses seen.
func (f *fakeServer) remoteCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.remotes)
}
