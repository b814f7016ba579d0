package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/wsframe"
)

// dialer opens client connections for a scenario: one net.Dialer per source
// address, a protocol, and a token minter.
type dialer struct {
	url         string
	proto       protocol.Type
	subprotocol string
	tls         *tls.Config // for wss://; nil: the system's roots
	secret      []byte
	timeout     time.Duration
	nds         []*net.Dialer
	next        atomic.Uint64
}

// newDialer builds a dialer for the scenario options (defaults applied).
func newDialer(o Options) (*dialer, error) {
	t, err := o.protocolType()
	if err != nil {
		return nil, err
	}
	d := &dialer{url: o.WSURL, proto: t, timeout: o.Timeout, subprotocol: "centrifuge-json", tls: o.TLS}
	if t == protocol.TypeProtobuf {
		d.subprotocol = "centrifuge-protobuf"
	}
	if o.TokenSecret != "" {
		d.secret = []byte(o.TokenSecret)
	}
	for _, src := range o.sourcesFor() {
		nd := &net.Dialer{Timeout: o.Timeout}
		if src != nil {
			nd.LocalAddr = &net.TCPAddr{IP: src}
		}
		d.nds = append(d.nds, nd)
	}
	if len(d.nds) == 0 {
		d.nds = append(d.nds, &net.Dialer{Timeout: o.Timeout})
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

// pubHandler receives a publication for channel with its data. Calls for
// one connection never overlap; data is valid only during the call.
type pubHandler func(channel string, data []byte)

// conn is one client connection. Connect (in dial) and Subscribe run on the
// caller's goroutine with blocking reads; start then hands the reading to
// the reactor (or to a goroutine for TLS). Close may be called from any
// goroutine, at any time, more than once.
type conn struct {
	nc      net.Conn
	raw     *rawSocket // the socket once start detached it from nc; then nc is closed
	proto   protocol.Type
	onPub   pubHandler
	nextID  uint32
	timeout time.Duration
	fr      frameReader
	pb      protocolpb.Reply
	r       reply
	// The command call is waiting for: its id, and once its reply came,
	// replied and the reply's error.
	waitID   uint32
	replied  bool
	replyErr *replyError

	wmu  sync.Mutex // serialises writes
	wbuf []byte

	// pings counts server pings answered.
	pings atomic.Int64

	rmu       sync.Mutex // held while reading: Close waits for a read in progress
	closed    atomic.Bool
	closeOnce sync.Once
	watch     *netpoll.Watch
	endOnce   sync.Once
	end       func(error) // called once when reading ends; nil before start
}

// dial opens connection n (over source address n mod the list) and runs the
// connect command. onPub may be nil.
func (d *dialer) dial(ctx context.Context, n int, onPub pubHandler) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	nd := d.nds[int(d.next.Add(1)-1)%len(d.nds)]
	nc, rest, err := dialWS(ctx, nd, d.url, d.subprotocol, d.tls)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &conn{nc: nc, proto: d.proto, onPub: onPub, timeout: d.timeout}
	c.fr.in = rest
	stop := context.AfterFunc(ctx, func() { _ = nc.SetReadDeadline(time.Now()) })
	defer stop()
	tok, err := d.token(n)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.call(func(id uint32) ([]byte, error) { return encodeConnect(c.proto, id, tok) }); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// Subscribe subscribes to channel and waits for the reply.
func (c *conn) Subscribe(ctx context.Context, channel string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetReadDeadline(time.Now()) })
	defer stop()
	if err := c.call(func(id uint32) ([]byte, error) { return encodeSubscribe(c.proto, id, channel) }); err != nil {
		return fmt.Errorf("subscribe %s: %w", channel, err)
	}
	return nil
}

// call sends the command built by enc with a fresh id and reads until its
// reply, answering pings and passing pushes to onPub meanwhile.
func (c *conn) call(enc func(id uint32) ([]byte, error)) error {
	c.nextID++
	frame, err := enc(c.nextID)
	if err != nil {
		return err
	}
	if err := c.write(c.dataOp(), frame); err != nil {
		return err
	}
	c.waitID, c.replied, c.replyErr = c.nextID, false, nil
	defer func() { c.waitID = 0 }()
	for {
		if err := c.parse(); err != nil {
			return err
		}
		if c.replied {
			if c.replyErr != nil {
				return c.replyErr
			}
			return nil
		}
		n, err := c.nc.Read(c.fr.space())
		c.fr.in = c.fr.in[:len(c.fr.in)+n]
		if err != nil {
			return err
		}
	}
}

// dataOp is the frame type of the connection's protocol.
func (c *conn) dataOp() byte {
	if c.proto == protocol.TypeProtobuf {
		return wsframe.OpBinary
	}
	return wsframe.OpText
}

// write sends one frame.
func (c *conn) write(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = appendClientFrame(c.wbuf[:0], op, payload)
	return c.writeLocked(c.wbuf, time.Now().Add(c.timeout))
}

// writeLocked writes b by the deadline; c.wmu is held.
func (c *conn) writeLocked(b []byte, deadline time.Time) error {
	if c.raw != nil {
		return c.raw.Write(b, deadline)
	}
	_ = c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(b)
	return err
}

// closeSocket closes the connection's socket.
func (c *conn) closeSocket() {
	if c.raw != nil {
		_ = c.raw.Close()
		return
	}
	_ = c.nc.Close()
}

// errServerClosed wraps a disconnect or unsubscribe push from the server.
var errServerClosed = errors.New("closed by server")

// parse handles the complete frames received so far.
func (c *conn) parse() error { return c.fr.parse(c) }

// message handles one WebSocket message: every reply in it. It implements
// frameSink.
func (c *conn) message(frame []byte) error {
	msgs, err := protocol.SplitFrame(c.proto, frame)
	if err != nil {
		return err
	}
	r := &c.r
	for _, m := range msgs {
		if c.proto == protocol.TypeProtobuf {
			err = decodeProtobufReply(m, &c.pb, r)
		} else if !decodeJSONPubFast(m, r) {
			err = decodeJSONReply(m, r)
		}
		if err != nil {
			return err
		}
		switch r.kind {
		case kindPing:
			c.pings.Add(1)
			if err := c.write(c.dataOp(), pongFrame(c.proto)); err != nil {
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
		if r.kind == kindResult && r.id == c.waitID && c.waitID != 0 && !c.replied {
			c.replied, c.replyErr = true, r.err
		}
	}
	return nil
}

// control answers a WebSocket ping and ends on a close frame. It implements
// frameSink.
func (c *conn) control(op byte, payload []byte) error {
	switch op {
	case wsframe.OpPing:
		return c.write(wsframe.OpPong, payload)
	case wsframe.OpClose:
		return closePayload(payload)
	}
	return nil
}

// Pings returns the number of server pings answered.
func (c *conn) Pings() int64 { return c.pings.Load() }

// Close sends a normal close frame and closes the connection, after any
// read in progress has finished; the end callback given to start then runs
// with nil. It is safe to call from any goroutine and more than once.
func (c *conn) Close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		_ = c.nc.SetReadDeadline(time.Now()) // unblocks a goroutine reader (TLS)
		c.rmu.Lock()
		if c.watch != nil {
			c.watch.Detach()
		}
		_ = c.writeClose(time.Now().Add(time.Second))
		c.closeSocket()
		c.rmu.Unlock()
		c.finish(nil)
	})
}

// CloseAfterServer sends a normal close frame, waits up to a second for the
// server to close the connection (reading and dropping what it sends
// meanwhile, its close frame included), then closes it: a browser's
// closing handshake. It is for a connection whose reading was not started.
func (c *conn) CloseAfterServer() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		deadline := time.Now().Add(time.Second)
		if c.writeClose(deadline) == nil && c.nc.SetReadDeadline(deadline) == nil {
			var buf [512]byte
			for {
				if _, err := c.nc.Read(buf[:]); err != nil {
					break // EOF once the server has closed, or the deadline
				}
			}
		}
		c.closeSocket()
		c.finish(nil)
	})
}

// writeClose sends a normal close frame by deadline.
func (c *conn) writeClose(deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(closeFrame(1000), deadline)
}

// finish reports the end of reading once, if reading was started.
func (c *conn) finish(err error) {
	if c.end == nil {
		return
	}
	c.endOnce.Do(func() {
		if c.closed.Load() {
			err = nil
		}
		c.end(err)
	})
}
