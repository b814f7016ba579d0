package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// dialer opens client connections for a scenario: one gorilla dialer per
// source address, a protocol, and a token minter.
type dialer struct {
	url     string
	proto   protocol.Type
	secret  []byte
	timeout time.Duration
	ws      []*websocket.Dialer
	next    atomic.Uint64
}

// writeBufPool is shared by all connections so idle ones hold no write
// buffer (gorilla takes one from the pool only while writing a frame).
var writeBufPool = &sync.Pool{}

// newDialer builds a dialer for the scenario options (defaults applied).
func newDialer(o Options) (*dialer, error) {
	t, err := o.protocolType()
	if err != nil {
		return nil, err
	}
	d := &dialer{url: o.WSURL, proto: t, timeout: o.Timeout}
	if o.TokenSecret != "" {
		d.secret = []byte(o.TokenSecret)
	}
	mk := func(src net.IP) *websocket.Dialer {
		nd := &net.Dialer{Timeout: o.Timeout}
		if src != nil {
			nd.LocalAddr = &net.TCPAddr{IP: src}
		}
		w := &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: o.Timeout,
			ReadBufferSize:   1024,
			WriteBufferSize:  1024,
			WriteBufferPool:  writeBufPool,
			Proxy:            nil,
		}
		if t == protocol.TypeProtobuf {
			w.Subprotocols = []string{"centrifuge-protobuf"}
		} else {
			w.Subprotocols = []string{"centrifuge-json"}
		}
		return w
	}
	for _, src := range o.sourcesFor() {
		d.ws = append(d.ws, mk(src))
	}
	if len(d.ws) == 0 {
		d.ws = append(d.ws, mk(nil))
	}
	return d, nil
}

// token mints the connection JWT for connection n, or "" without a secret.
func (d *dialer) token(n int) (string, error) {
	if d.secret == nil {
		return "", nil
	}
	claims := jwt.MapClaims{"sub": fmt.Sprintf("bench-%d", n), "iat": time.Now().Unix()}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(d.secret)
}

// pubHandler receives a publication for channel with its data. It is
// called from the connection's reading goroutine; data is valid only
// during the call.
type pubHandler func(channel string, data []byte)

// conn is one client connection. Its methods other than Close must be
// called from one goroutine: Connect and Subscribe first, then Run.
type conn struct {
	ws      *websocket.Conn
	proto   protocol.Type
	onPub   pubHandler
	nextID  uint32
	timeout time.Duration
	buf     []byte
	pb      protocolpb.Reply

	// clientID is the client id from the connect result.
	clientID string
	// pings counts server pings answered.
	pings     atomic.Int64
	closeOnce sync.Once
	closed    atomic.Bool
}

// dial opens connection n (over source address n mod the list) and runs the
// connect command. onPub may be nil.
func (d *dialer) dial(ctx context.Context, n int, onPub pubHandler) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	w := d.ws[int(d.next.Add(1)-1)%len(d.ws)]
	ws, resp, err := w.DialContext(ctx, d.url, http.Header{})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &conn{ws: ws, proto: d.proto, onPub: onPub, timeout: d.timeout}
	stop := context.AfterFunc(ctx, func() { _ = ws.SetReadDeadline(time.Now()) })
	defer stop()
	tok, err := d.token(n)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.call(func(id uint32) ([]byte, error) { return encodeConnect(c.proto, id, tok) }, func(r *reply) {
		c.clientID = r.client
	}); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// Subscribe subscribes to channel and waits for the reply.
func (c *conn) Subscribe(ctx context.Context, channel string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = c.ws.SetReadDeadline(time.Now()) })
	defer stop()
	if err := c.call(func(id uint32) ([]byte, error) { return encodeSubscribe(c.proto, id, channel) }, nil); err != nil {
		return fmt.Errorf("subscribe %s: %w", channel, err)
	}
	return nil
}

// call sends the command built by enc with a fresh id and reads until its
// reply, answering pings and passing pushes to onPub meanwhile.
func (c *conn) call(enc func(id uint32) ([]byte, error), onResult func(*reply)) error {
	c.nextID++
	id := c.nextID
	frame, err := enc(id)
	if err != nil {
		return err
	}
	if err := c.write(frame); err != nil {
		return err
	}
	for {
		var got *reply
		err := c.readFrame(func(r *reply) error {
			if r.kind == kindResult && r.id == id {
				got = r
				if r.err == nil && onResult != nil {
					onResult(r)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if got != nil {
			if got.err != nil {
				return got.err
			}
			return nil
		}
	}
}

// write sends one frame in the connection's frame type.
func (c *conn) write(frame []byte) error {
	mt := websocket.TextMessage
	if c.proto == protocol.TypeProtobuf {
		mt = websocket.BinaryMessage
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.ws.WriteMessage(mt, frame)
}

// errServerClosed wraps a disconnect or unsubscribe push from the server.
var errServerClosed = errors.New("closed by server")

// readFrame reads one frame and handles each reply in it: pings are
// answered, publications go to onPub, and every reply goes to each.
func (c *conn) readFrame(each func(*reply) error) error {
	_, rd, err := c.ws.NextReader()
	if err != nil {
		return err
	}
	c.buf, err = readInto(c.buf[:0], rd)
	if err != nil {
		return err
	}
	msgs, err := protocol.SplitFrame(c.proto, c.buf)
	if err != nil {
		return err
	}
	var r reply
	for _, m := range msgs {
		if c.proto == protocol.TypeProtobuf {
			err = decodeProtobufReply(m, &c.pb, &r)
		} else if !decodeJSONPubFast(m, &r) {
			err = decodeJSONReply(m, &r)
		}
		if err != nil {
			return err
		}
		switch r.kind {
		case kindPing:
			c.pings.Add(1)
			if err := c.write(pongFrame(c.proto)); err != nil {
				return err
			}
		case kindPub:
			if c.onPub != nil {
				c.onPub(r.channel, r.data)
			}
		case kindPushOther:
			if r.pushErr != nil {
				return fmt.Errorf("%w: %s on %q", errServerClosed, r.pushErr, r.channel)
			}
		}
		if err := each(&r); err != nil {
			return err
		}
	}
	return nil
}

// readInto appends everything from r to dst, growing it as needed.
func readInto(dst []byte, r io.Reader) ([]byte, error) {
	if cap(dst) == 0 {
		dst = make([]byte, 0, 512)
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// Run reads until the connection ends, answering pings and passing
// publications to the handler. It returns nil after Close, else the
// reason the connection ended.
func (c *conn) Run() error {
	_ = c.ws.SetReadDeadline(time.Time{})
	for {
		if err := c.readFrame(func(*reply) error { return nil }); err != nil {
			if c.closed.Load() {
				return nil
			}
			return err
		}
	}
}

// Pings returns the number of server pings answered.
func (c *conn) Pings() int64 { return c.pings.Load() }

// Close sends a normal close frame and closes the connection. It is safe
// to call from any goroutine and more than once.
func (c *conn) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		_ = c.ws.Close()
	})
}
