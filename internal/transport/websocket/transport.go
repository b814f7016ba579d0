package websocket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/rawio"
	"github.com/heraldrt/herald/internal/timewheel"
	"github.com/heraldrt/herald/internal/uring"
)

// ErrClosed is returned by WriteMany after the transport was closed, including
// a write that was in progress when Close was called.
var ErrClosed = errors.New("websocket: transport closed")

// maxCloseReason is the longest close reason that fits in a close frame
// (125-byte control payload minus the 2-byte code).
const maxCloseReason = 123

var newline = []byte{'\n'}

// conn is one WebSocket connection served without gorilla/websocket. It
// implements engine.Transport (the write side, used by the session) and
// reads frames when the reactor reports the connection readable (read.go).
//
// Lock order: writeMu, then mu.
type conn struct {
	// The fields a fan-out's write reads and writes (TryWriteManyIn, Sent)
	// come first and together, so that writing to a connection whose
	// state is not in the cache costs few cache lines: with 1,000
	// subscribers of a channel, every delivery finds its connection cold.

	// writeMu serializes frame writes (WriteMany, control frames) and
	// guards writeErr.
	writeMu sync.Mutex
	// closed is set once by Close, by the reader when the connection fails
	// or the client closes it, or after an oversized message; after it,
	// WriteMany fails and messages are no longer delivered to the session.
	closed atomic.Bool
	// fd is rc's descriptor, written to directly by writeFD; fdUsers and
	// fdClosing keep shutdown from closing it (and the number from being
	// reused by another connection) while a write is in progress.
	fdUsers   atomic.Int32
	fdClosing atomic.Bool
	// Small fields, together so that they share one word.
	proto        protocol.Type
	compressed   bool // permessage-deflate negotiated (at upgrade); the compressors are the Handler's
	deliver      bool // reader state: hand messages to sess
	fragmenting  bool // reader state: a fragmented message is in progress
	fragDeflated bool // ... and it is compressed
	fd           int
	// rc is set when reads are non-blocking system calls on the socket
	// (the reactor serves the connection); nil means blocking nc.Read.
	// Written under writeMu (writers may run before reading starts); the
	// reader sees it set before its first callback.
	rc syscall.RawConn
	// tls is set when the connection is TLS served by the reactor:
	// reads and writes go through crypto/tls over it (nbtls), writes
	// without waiting for the socket (what it does not take is kept in tls
	// and flushed by the next blocking write); rc stays nil. Set under
	// writeMu before reading starts.
	tls      *nbtls.Conn
	writeErr error // sticky: a failed write leaves a partial frame behind
	// out holds the unwritten rest of a frame that TryWriteMany could not
	// write at once (a pooled buffer; outBuf is what to return to the pool);
	// the next write finishes it first. Guarded by writeMu.
	out    []byte
	outBuf *[]byte
	// batched is the frame TryWriteManyIn put in a uring.Batch, batchDone
	// the engine's receiver of its outcome. While it is set, writeMu stays
	// locked and fdUsers counts the batch (Sent releases both).
	batched   *[]byte
	batchDone engine.WriteDone

	h            *Handler
	nc           net.Conn
	writeTimeout time.Duration
	closeTimeout time.Duration
	limit        int // MessageSizeLimit

	// lastRead (unix nanoseconds of the last read with data) feeds the
	// uni_websocket ping check.
	lastRead atomic.Int64

	// Set before reading starts, then read-only.
	sess   Session
	cancel context.CancelFunc

	// done is set once the TCP connection is closed.
	done atomic.Bool
	// watch is the reactor registration (nil before it and after shutdown);
	// written under mu, read by the reader without it.
	watch atomic.Pointer[netpoll.Watch]

	mu         sync.Mutex
	closeTimer *time.Timer      // guarded by mu
	pingTimer  *timewheel.Timer // uni_websocket native pings; guarded by mu

	// Reader state, used by one goroutine at a time (a reactor worker, or
	// the upgrade goroutine before registration / in blocking mode).
	pending *[]byte // an incomplete frame, from its header on; nil if none
	frag    *[]byte // a fragmented message's payload so far, when it is being delivered
	skip    int64   // payload bytes of a discarded frame still to skip
}

var _ engine.Transport = (*conn)(nil)

func newConn(h *Handler, nc net.Conn, proto protocol.Type) *conn {
	return &conn{
		h:            h,
		nc:           nc,
		proto:        proto,
		writeTimeout: h.cfg.WriteTimeout,
		closeTimeout: h.cfg.CloseTimeout,
		limit:        h.cfg.MessageSizeLimit,
	}
}

// uni returns the uni_websocket behaviour, or nil on a bidirectional
// connection.
func (c *conn) uni() *UniConfig { return c.h.cfg.Unidirectional }

// Name returns "websocket", or "uni_websocket".
func (c *conn) Name() string {
	if c.uni() != nil {
		return "uni_websocket"
	}
	return "websocket"
}

// Protocol returns the encoding selected at upgrade.
func (c *conn) Protocol() protocol.Type { return c.proto }

// Unidirectional reports whether the connection is a uni_websocket one.
func (c *conn) Unidirectional() bool { return c.uni() != nil }

// Emulation returns false.
func (c *conn) Emulation() bool { return false }

// copyLimit is the largest frame written by copying header and messages into
// one pooled buffer; larger frames are written with writev straight from the
// messages.
const copyLimit = 16 << 10

// writeVec is the pooled state of a vectored write.
type writeVec struct {
	iov     [][]byte
	varints []byte
	hdr     [maxServerHeaderLen]byte
}

var writeVecs = sync.Pool{New: func() any { return new(writeVec) }}

// WriteMany writes msgs as one WebSocket message: for JSON a text message of
// msgs joined by '\n' (no trailing newline), for Protobuf a binary message of
// msgs each prefixed by its uvarint length. The whole message must be written
// within the write timeout; on failure the connection is unusable and every
// later write fails too. It returns ErrClosed once Close has been called.
func (c *conn) WriteMany(msgs ...[]byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.writeManyLocked(msgs); err != nil {
		if c.closed.Load() {
			return ErrClosed // the write lost a race with Close
		}
		return err
	}
	return nil
}

// writeManyLocked is WriteMany without the closed check: the rest of an
// unfinished frame first, then msgs as one message, within the write
// timeout. Precondition: writeMu held.
func (c *conn) writeManyLocked(msgs [][]byte) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if err := c.flushOutLocked(time.Now().Add(c.writeTimeout)); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	opcode, size := c.frameSize(msgs)
	bp, err := c.frameBuf(opcode, size, msgs, true)
	switch {
	case err != nil:
	case bp != nil:
		err = c.writeAllLocked(*bp, time.Now().Add(c.writeTimeout))
		putBuf(bp)
	default:
		err = c.blockingWriteLocked(time.Now().Add(c.writeTimeout), func() error { return c.writeVectored(opcode, size, msgs) })
	}
	if err != nil {
		c.writeErr = fmt.Errorf("websocket: write: %w", err)
		return c.writeErr
	}
	return nil
}

var _ engine.TryWriter = (*conn)(nil)

// TryWriteMany writes msgs as one message, like WriteMany, without waiting
// for the socket: it reports true when the whole frame went out; otherwise
// the rest is kept and the next WriteMany (or control frame) finishes it
// first. In blocking mode (no raw socket) the whole frame is kept.
func (c *conn) TryWriteMany(msgs ...[]byte) (bool, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closed.Load() {
		return false, ErrClosed
	}
	if c.writeErr != nil {
		return false, c.writeErr
	}
	opcode, size := c.frameSize(msgs)
	bp, err := c.frameBuf(opcode, size, msgs, false)
	if err != nil {
		c.writeErr = err
		return false, err
	}
	return c.tryWriteLocked(bp)
}

// tryWriteLocked writes the frame in the pooled buffer bp as far as the
// socket takes it now, keeping the rest (and bp) for the next write; it
// reports whether all of it went out. Precondition: writeMu held, writeErr
// nil.
func (c *conn) tryWriteLocked(bp *[]byte) (bool, error) {
	b := *bp
	if c.tls != nil {
		// crypto/tls encrypts it all; nbtls keeps what the socket does
		// not take, for the next blocking write.
		_, err := c.nc.Write(b)
		putBuf(bp)
		if err != nil {
			c.writeErr = fmt.Errorf("websocket: write: %w", err)
			return false, c.writeErr
		}
		return !c.tls.Pending(), nil
	}
	if c.out != nil || c.rc == nil {
		c.keepLocked(bp, b)
		return false, nil
	}
	n, err := c.writeRaw(b)
	if err != nil {
		putBuf(bp)
		c.writeErr = fmt.Errorf("websocket: write: %w", err)
		return false, c.writeErr
	}
	if n == len(b) {
		putBuf(bp)
		return true, nil
	}
	c.keepLocked(bp, b[n:])
	return false, nil
}

var _ engine.BatchWriter = (*conn)(nil)

// TryWriteManyIn is TryWriteMany with the write made by b's submission
// (see engine.BatchWriter): writeMu stays locked until then, so the frame
// keeps its place before any later write, and the descriptor stays open.
// Connections that are TLS, in blocking mode, have an unfinished frame or
// are closing are not batched.
func (c *conn) TryWriteManyIn(b *uring.Batch, done engine.WriteDone, msgs ...[]byte) (bool, error) {
	c.writeMu.Lock()
	if c.closed.Load() {
		c.writeMu.Unlock()
		return false, ErrClosed
	}
	if c.writeErr != nil || c.tls != nil || c.rc == nil || c.out != nil {
		err := c.writeErr
		c.writeMu.Unlock()
		return false, err
	}
	c.fdUsers.Add(1)
	if c.fdClosing.Load() {
		c.fdUsers.Add(-1)
		c.writeMu.Unlock()
		return false, nil
	}
	opcode, size := c.frameSize(msgs)
	bp, err := c.frameBuf(opcode, size, msgs, false)
	if err != nil {
		c.fdUsers.Add(-1)
		c.writeErr = err
		c.writeMu.Unlock()
		return false, err
	}
	c.batched, c.batchDone = bp, done
	b.Add(c.fd, *bp, c)
	return true, nil
}

// Sent is the outcome of the frame TryWriteManyIn batched (uring.Sink):
// like tryWriteLocked's, passed on to the engine once writeMu is released.
func (c *conn) Sent(n int, err error) {
	bp, done := c.batched, c.batchDone
	c.batched, c.batchDone = nil, nil
	c.fdUsers.Add(-1)
	b := *bp
	complete := false
	switch {
	case err != nil:
		putBuf(bp)
		c.writeErr = fmt.Errorf("websocket: write: %w", err)
		err = c.writeErr
	case n == len(b):
		putBuf(bp)
		complete = true
	default:
		c.keepLocked(bp, b[n:])
	}
	c.writeMu.Unlock()
	done.WriteDone(complete, err)
}

// frameSize returns the opcode and payload size of msgs as one message:
// for JSON the messages joined by '\n', for Protobuf each prefixed by its
// uvarint length.
func (c *conn) frameSize(msgs [][]byte) (opcode byte, size int) {
	for _, m := range msgs {
		size += len(m)
	}
	if c.proto == protocol.TypeProtobuf {
		for _, m := range msgs {
			size += uvarintLen(uint64(len(m)))
		}
		return opBinary, size
	}
	if len(msgs) > 0 {
		size += len(msgs) - 1
	}
	return opText, size
}

// frameBuf encodes msgs as one message in a pooled buffer: compressed
// when permessage-deflate was negotiated and the payload has at least
// Config.CompressionMinSize bytes. With vectored, an uncompressed message
// over copyLimit is left to writeVectored: frameBuf then returns nil.
func (c *conn) frameBuf(opcode byte, size int, msgs [][]byte, vectored bool) (*[]byte, error) {
	if c.uni() != nil && !c.uni().JoinPushMessages && len(msgs) > 1 {
		return c.framesEach(msgs)
	}
	if c.compressed && size >= c.h.cfg.CompressionMinSize {
		return c.h.deflaters.compressFrame(opcode, size, msgs)
	}
	if vectored && size > copyLimit {
		return nil, nil
	}
	return encodeFrame(opcode, size, msgs), nil
}

// framesEach encodes each message as a message of its own (uni_websocket:
// one push per text message), all in one pooled buffer.
func (c *conn) framesEach(msgs [][]byte) (*[]byte, error) {
	total := 0
	for _, m := range msgs {
		total += len(m) + maxFrameHeaderLen
	}
	out := getBuf(total)
	for _, m := range msgs {
		bp, err := c.frameBuf(opText, len(m), [][]byte{m}, false)
		if err != nil {
			putBuf(out)
			return nil, err
		}
		*out = append(*out, *bp...)
		putBuf(bp)
	}
	return out, nil
}

// encodeFrame encodes msgs as one WebSocket message (header included) of
// the given opcode and payload size (from frameSize) in a pooled buffer.
func encodeFrame(opcode byte, size int, msgs [][]byte) *[]byte {
	bp := getBuf(size + maxServerHeaderLen)
	b := (*bp)[:maxServerHeaderLen]
	b = b[:putHeader(b, opcode, size)]
	for i, m := range msgs {
		if opcode == opBinary {
			b = binary.AppendUvarint(b, uint64(len(m)))
		} else if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, m...)
	}
	*bp = b
	return bp
}

// keepLocked appends rest (from the pooled buffer bp) to the unwritten
// output. Precondition: writeMu held.
func (c *conn) keepLocked(bp *[]byte, rest []byte) {
	if c.out == nil {
		c.out, c.outBuf = rest, bp
		return
	}
	c.out = append(c.out, rest...) // rare: a second frame behind a stuck one
	putBuf(bp)
}

// flushOutLocked finishes, within deadline, what TryWriteMany left
// unwritten: the rest of a frame (c.out), or on TLS the ciphertext nbtls
// kept. Precondition: writeMu held.
func (c *conn) flushOutLocked(deadline time.Time) error {
	var err error
	switch {
	case c.out != nil:
		err = c.writeAllLocked(c.out, deadline)
		if c.outBuf != nil {
			putBuf(c.outBuf)
		}
		c.out, c.outBuf = nil, nil
	case c.tls != nil:
		err = c.tls.Flush(deadline)
	}
	if err != nil {
		c.writeErr = fmt.Errorf("websocket: write: %w", err)
		return c.writeErr
	}
	return nil
}

// setRawConn sets rc; see the field.
func (c *conn) setRawConn(rc syscall.RawConn) {
	c.writeMu.Lock()
	c.rc = rc
	if rc != nil {
		_ = rc.Control(func(fd uintptr) { c.fd = int(fd) }) //nolint:gosec // fd fits in int
	}
	c.writeMu.Unlock()
}

// writeRaw writes what the socket takes of b now. On a connection of the
// reactor it writes to the descriptor directly (writeFD), without the
// runtime poller's per-call locking and state reset, which cost ~5% of a
// fan-out's CPU; a connection being closed goes through rc, which reports
// it. Precondition: writeMu held and c.rc != nil.
func (c *conn) writeRaw(b []byte) (int, error) {
	if n, err, ok := c.writeFD(b); ok {
		return n, err
	}
	return rawio.WriteNow(c.rc, b)
}

// writeFD writes b to c.fd (rawio.WriteFD) until the socket is full;
// ok is false when the connection is being closed (nothing was written).
func (c *conn) writeFD(b []byte) (n int, err error, ok bool) {
	c.fdUsers.Add(1)
	defer c.fdUsers.Add(-1)
	if c.fdClosing.Load() {
		return 0, nil, false
	}
	n, err = rawio.WriteFD(c.fd, b)
	return n, err, true
}

// writeAllLocked writes b within deadline: on a connection of the reactor
// first without waiting (see writeRaw), then, for what the socket did not
// take, a blocking write. Precondition: writeMu held.
func (c *conn) writeAllLocked(b []byte, deadline time.Time) error {
	rest := b
	if c.rc != nil {
		n, err := c.writeRaw(b)
		if err != nil {
			return err
		}
		rest = b[n:]
	}
	if len(rest) == 0 {
		return nil
	}
	return c.blockingWriteLocked(deadline, func() error {
		_, err := c.nc.Write(rest)
		return err
	})
}

// blockingWriteLocked runs write, a blocking write to nc, within deadline,
// and clears the deadline after it: an expired write deadline would fail
// every later write, the non-blocking ones included (the runtime poller
// reports it before they start). Precondition: writeMu held.
func (c *conn) blockingWriteLocked(deadline time.Time, write func() error) error {
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if err := write(); err != nil {
		return err
	}
	if c.tls != nil {
		if err := c.tls.Flush(deadline); err != nil {
			return err
		}
	}
	return c.nc.SetWriteDeadline(time.Time{})
}

// writeVectored writes the frame with writev, without copying the messages.
func (c *conn) writeVectored(opcode byte, size int, msgs [][]byte) error {
	v := writeVecs.Get().(*writeVec)
	iov := append(v.iov[:0], v.hdr[:putHeader(v.hdr[:], opcode, size)])
	varints := v.varints[:0]
	if opcode == opBinary {
		// Fill varints first: appending may move it, so slice it after.
		for _, m := range msgs {
			varints = binary.AppendUvarint(varints, uint64(len(m)))
		}
		off := 0
		for _, m := range msgs {
			n := uvarintLen(uint64(len(m)))
			iov = append(iov, varints[off:off+n:off+n], m)
			off += n
		}
	} else {
		for i, m := range msgs {
			if i > 0 {
				iov = append(iov, newline)
			}
			iov = append(iov, m)
		}
	}
	bufs := net.Buffers(iov)
	_, err := bufs.WriteTo(c.nc)
	clear(iov) // drop references to the messages
	v.iov, v.varints = iov[:0], varints[:0]
	writeVecs.Put(v)
	return err
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// writeControl writes a control frame with payload (at most 125 bytes),
// within deadline. It waits for a write in progress, which ends by its own
// deadline.
func (c *conn) writeControl(opcode byte, payload []byte, deadline time.Time) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.writeControlLocked(opcode, payload, deadline)
}

// writeControlLocked is writeControl with writeMu held.
func (c *conn) writeControlLocked(opcode byte, payload []byte, deadline time.Time) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	// Never put a control frame inside an unfinished data frame.
	if err := c.flushOutLocked(deadline); err != nil {
		return err
	}
	var b [2 + maxControlPayloadLen]byte
	n := putHeader(b[:], opcode, len(payload))
	n += copy(b[n:], payload)
	if err := c.writeAllLocked(b[:n], deadline); err != nil {
		c.writeErr = fmt.Errorf("websocket: write: %w", err)
		return c.writeErr
	}
	return nil
}

// Close ends the connection with d. For d.Code 3000 it closes the TCP
// connection at once; otherwise it sends a close frame with d.Code and
// d.Reason (truncated to 123 bytes on a UTF-8 boundary) and returns, leaving
// the reader to wait for the client's close frame for up to the close
// timeout. Close blocks for at most the write timeout. Only the first call
// has an effect, and none once the reader has seen the connection fail
// (it then reports the loss through Session.Close); such calls return nil.
// The returned error is the failure to send the close frame, in which case
// the connection is closed at once.
func (c *conn) Close(d protocol.Disconnect) error {
	if d.Code == protocol.DisconnectConnectionClosed.Code {
		if c.closed.Swap(true) {
			return nil
		}
		c.shutdown()
		return nil
	}
	if c.uni() != nil {
		return c.closeUni(d)
	}
	_, err := c.closeFrame(int(d.Code), d.Reason)
	return err
}

// closeUni closes a uni_websocket connection: the disconnect push (unless
// disabled), then the close frame, or without the closing handshake the TCP
// connection at once.
func (c *conn) closeUni(d protocol.Disconnect) error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.uni().DisconnectPush != nil {
		if msg := c.uni().DisconnectPush(d); msg != nil {
			c.writeMu.Lock()
			err := c.writeManyLocked([][]byte{msg})
			c.writeMu.Unlock()
			if err != nil {
				c.shutdown()
				return fmt.Errorf("websocket: write disconnect push: %w", err)
			}
		}
	}
	if c.uni().DisableClosingHandshake {
		c.shutdown()
		return nil
	}
	return c.sendClose(int(d.Code), d.Reason)
}

// closeFrame marks the transport closed and starts the closing handshake
// with code and reason. It reports whether it did so: it is a no-op when
// the transport was already closed.
func (c *conn) closeFrame(code int, reason string) (bool, error) {
	if c.closed.Swap(true) {
		return false, nil
	}
	return true, c.sendClose(code, reason)
}

// sendClose writes the close frame and leaves the reader to wait for the
// client's one, for at most the close timeout.
func (c *conn) sendClose(code int, reason string) error {
	// A writer in progress ends by its deadline, which is no later than
	// this one, so Close waits at most the write timeout in total.
	if err := c.writeControl(opClose, closePayload(code, reason), time.Now().Add(c.writeTimeout)); err != nil {
		c.shutdown()
		return fmt.Errorf("websocket: write close frame: %w", err)
	}
	c.mu.Lock()
	if !c.done.Load() {
		c.closeTimer = time.AfterFunc(c.closeTimeout, c.shutdown)
	}
	c.mu.Unlock()
	return nil
}

// StartPings starts the native pings of a uni_websocket connection (see
// UniConfig.PingInterval); the session calls it after a successful
// connect. It does nothing on other connections, when pings are disabled,
// or after the first call.
func (c *conn) StartPings() {
	if c.uni() == nil || c.uni().PingInterval < 0 {
		return
	}
	c.lastRead.Store(time.Now().UnixNano())
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.h.pingWheel(); w != nil && c.pingTimer == nil && !c.done.Load() {
		c.pingTimer = w.After(c.uni().PingInterval, c.ping)
	}
}

// ping drops a connection silent for longer than PingInterval + PongWait,
// else sends a ping frame and schedules the next one. It runs on the
// Handler's time wheel, so it never blocks: the ping is written only if no
// write is in progress and the socket takes it at once (a connection busy
// writing needs no ping), and the drop runs on its own goroutine.
func (c *conn) ping() {
	if c.closed.Load() || c.done.Load() {
		return
	}
	if time.Since(time.Unix(0, c.lastRead.Load())) > c.uni().PingInterval+c.uni().PongWait {
		go c.abort()
		return
	}
	if c.writeMu.TryLock() {
		if c.writeErr == nil && c.out == nil && c.rc != nil {
			bp := getBuf(2)
			*bp = (*bp)[:putHeader((*bp)[:2], opPing, 0)]
			_, _ = c.tryWriteLocked(bp) // a failure is sticky: the next write reports it
		}
		c.writeMu.Unlock()
	}
	c.mu.Lock()
	if w := c.h.pingWheel(); w != nil && c.pingTimer != nil && !c.done.Load() {
		c.pingTimer = w.After(c.uni().PingInterval, c.ping)
	}
	c.mu.Unlock()
}

// abort ends the connection without a closing handshake, telling the
// session unless it closed the transport first.
func (c *conn) abort() {
	if !c.closed.Swap(true) && c.sess != nil {
		c.sess.Close(protocol.DisconnectConnectionClosed)
	}
	c.shutdown()
}

// shutdown closes the TCP connection and releases what the connection holds
// outside the reader: its reactor registration, close timer, context and
// place in the Handler. It is idempotent and safe from any goroutine.
func (c *conn) shutdown() {
	if c.done.Swap(true) {
		return
	}
	c.mu.Lock()
	w, t, pt := c.watch.Swap(nil), c.closeTimer, c.pingTimer
	c.closeTimer, c.pingTimer = nil, nil
	c.mu.Unlock()
	if pt != nil {
		pt.Stop()
	}
	if w != nil {
		w.Detach() // the close below ends the kernel registration
	}
	if t != nil {
		t.Stop()
	}
	// No direct write may use the descriptor once it is closed (its number
	// could then belong to another connection): stop new ones and wait for
	// those in progress, which never block.
	c.fdClosing.Store(true)
	for c.fdUsers.Load() != 0 {
		runtime.Gosched()
	}
	_ = c.nc.Close()
	if c.cancel != nil {
		c.cancel()
	}
	c.h.forget(c)
}

// setWatch records the reactor registration; it returns false when the
// connection was closed meanwhile.
func (c *conn) setWatch(w *netpoll.Watch) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done.Load() {
		return false
	}
	c.watch.Store(w)
	return true
}

// truncateReason cuts s to at most maxCloseReason bytes without splitting a
// UTF-8 sequence (receivers reject close reasons that are not valid UTF-8).
func truncateReason(s string) string {
	if len(s) <= maxCloseReason {
		return s
	}
	i := maxCloseReason
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}
