package bench

import (
	"bufio"
	"context"
	"crypto/sha1" //nolint:gosec // RFC 6455
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/testutil/rawhttp"
	"github.com/heraldrt/herald/internal/wsframe"
)

// scriptServer is a raw WebSocket peer for one client connection: it
// answers the handshake, connect and subscribe, and lets the test write
// frames and read the client's.
type scriptServer struct {
	ln   net.Listener
	conn chan net.Conn
}

func newScriptServer(t *testing.T) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{ln: ln, conn: make(chan net.Conn, 1)}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { _ = c.Close() })
		s.conn <- c
	}()
	return s
}

// readClientFrame reads one masked client frame.
func readClientFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	b0, masked, payload, err := rawhttp.ReadFrame(br)
	if err != nil {
		return 0, nil, err
	}
	if !masked {
		return 0, nil, errors.New("unmasked client frame")
	}
	return b0 & 0x0F, payload, nil
}

// accept completes the handshake and the connect and subscribe commands;
// extra is written together with the subscribe reply.
func (s *scriptServer) accept(t *testing.T, extra []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	var c net.Conn
	select {
	case c = <-s.conn:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + websocketGUID)) //nolint:gosec // RFC 6455
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := c.Write([]byte(resp)); err != nil {
		t.Fatal(err)
	}
	for i, reply := range []string{`{"id":1,"connect":{"client":"c1","version":"x"}}`, `{"id":2,"subscribe":{}}`} {
		if _, _, err := readClientFrame(br); err != nil {
			t.Fatal(err)
		}
		out := serverFrame(true, wsframe.OpText, []byte(reply))
		if i == 1 {
			out = append(out, extra...)
		}
		if _, err := c.Write(out); err != nil {
			t.Fatal(err)
		}
	}
	return c, br
}

func pubFrame(seq int) []byte {
	return serverFrame(true, wsframe.OpText, fmt.Appendf(nil, `{"push":{"channel":"ch","pub":{"data":{"n":%d}}}}`, seq))
}

// TestConnReadModes runs one connection read by the reactor and one read by
// its own goroutine through the same script: a publication that arrived
// with the subscribe reply, publications written one byte at a time and in
// one burst, a fragmented one, a WebSocket ping and a protocol ping (both
// answered), and a close frame from the server, which ends reading with
// its code.
func TestConnReadModes(t *testing.T) {
	for _, mode := range []string{"reactor", "goroutine"} {
		t.Run(mode, func(t *testing.T) {
			var reader *netpoll.Poller
			if mode == "reactor" {
				if reader = newReader(); reader == nil {
					t.Skip("no reactor on this platform")
				}
				defer reader.Close()
			}
			srv := newScriptServer(t)
			o := Options{WSURL: "ws://" + srv.ln.Addr().String() + "/connection/websocket"}.withDefaults()
			d, err := newDialer(o)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var got []string
			type dialed struct {
				c   *conn
				err error
			}
			dc := make(chan dialed, 1)
			go func() {
				c, err := d.dial(context.Background(), 0, func(_ string, data []byte) {
					mu.Lock()
					got = append(got, string(data))
					mu.Unlock()
				})
				if err == nil {
					err = c.Subscribe(context.Background(), "ch")
				}
				dc <- dialed{c, err}
			}()
			sc, br := srv.accept(t, pubFrame(1))
			r := <-dc
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.c.Close()
			ended := make(chan error, 1)
			r.c.start(reader, func(err error) { ended <- err })

			for _, b := range pubFrame(2) {
				if _, err := sc.Write([]byte{b}); err != nil {
					t.Fatal(err)
				}
			}
			var burst []byte
			for i := 3; i <= 50; i++ {
				burst = append(burst, pubFrame(i)...)
			}
			burst = append(burst, serverFrame(false, wsframe.OpText, []byte(`{"push":{"channel":"ch","pub":{"data":{"n":`))...)
			burst = append(burst, serverFrame(true, wsframe.OpPing, []byte("hb"))...)
			burst = append(burst, serverFrame(true, wsframe.OpContinuation, []byte(`51}}}}`))...)
			burst = append(burst, serverFrame(true, wsframe.OpText, []byte(`{}`))...)
			if _, err := sc.Write(burst); err != nil {
				t.Fatal(err)
			}
			for want := range []struct{}{{}, {}} {
				op, p, err := readClientFrame(br)
				if err != nil {
					t.Fatal(err)
				}
				if want == 0 && (op != wsframe.OpPong || string(p) != "hb") || want == 1 && (op != wsframe.OpText || string(p) != "{}") {
					t.Fatalf("reply %d: op %d payload %q", want, op, p)
				}
			}
			if _, err := sc.Write(serverFrame(true, wsframe.OpClose, append([]byte{0x0B, 0xB9}, "shutdown"...))); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-ended:
				var ce *closeError
				if !errors.As(err, &ce) || ce.code != 3001 {
					t.Fatalf("ended with %v, want close 3001", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("reading did not end after the close frame")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 51 {
				t.Fatalf("got %d publications, want 51", len(got))
			}
			for i, g := range got {
				if want := fmt.Sprintf(`{"n":%d}`, i+1); g != want {
					t.Fatalf("publication %d is %s, want %s", i, g, want)
				}
			}
			if r.c.Pings() != 1 {
				t.Fatalf("pings answered: %d", r.c.Pings())
			}
		})
	}
}

// TestConnNoticesCloseWithLastData: a server that closes the connection
// right after its last frame (no close frame; the FIN may come with the
// data, in one readiness event) is noticed as a lost connection.
func TestConnNoticesCloseWithLastData(t *testing.T) {
	reader := newReader()
	if reader == nil {
		t.Skip("no reactor on this platform")
	}
	defer reader.Close()
	for range 20 {
		srv := newScriptServer(t)
		o := Options{WSURL: "ws://" + srv.ln.Addr().String() + "/connection/websocket"}.withDefaults()
		d, err := newDialer(o)
		if err != nil {
			t.Fatal(err)
		}
		dc := make(chan *conn, 1)
		go func() {
			c, err := d.dial(context.Background(), 0, func(string, []byte) {})
			if err == nil && c.Subscribe(context.Background(), "ch") == nil {
				dc <- c
				return
			}
			dc <- nil
		}()
		sc, _ := srv.accept(t, nil)
		c := <-dc
		if c == nil {
			t.Fatal("dial or subscribe failed")
		}
		ended := make(chan error, 1)
		c.start(reader, func(err error) { ended <- err })
		if _, err := sc.Write(pubFrame(1)); err != nil {
			t.Fatal(err)
		}
		_ = sc.Close()
		select {
		case err := <-ended:
			if err == nil {
				t.Fatal("reading ended without an error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the server's close was not noticed")
		}
		c.Close()
	}
}
