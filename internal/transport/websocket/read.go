package websocket

import (
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/rawio"
	"github.com/heraldrt/herald/internal/wsframe"
)

// readChunk is the size of the pooled buffer a readable connection is read
// into; complete frames in it are processed in place.
const readChunk = 8 << 10

// blockingReadChunk is the read buffer of a connection read in blocking mode
// (no reactor), which holds it while it waits for input.
const blockingReadChunk = 2 << 10

// maxReadsPerEvent bounds the reads of one call of onReadable, so that a
// busy connection does not monopolise a worker; it returns netpoll.Again and
// the reactor calls it again after other connections had their turn.
const maxReadsPerEvent = 4

// onReadable reads what has arrived and processes it. It returns
// netpoll.Wait once the socket has no more data, netpoll.Again when it
// stopped reading after maxReadsPerEvent reads, and netpoll.Stop once the
// connection is closed. It is the reactor callback, and in blocking mode the
// body of the read loop.
func (c *conn) onReadable() netpoll.Status {
	for range maxReadsPerEvent {
		if c.done.Load() {
			c.releaseReadState()
			return netpoll.Stop
		}
		var (
			n   int
			err error
		)
		if c.pending != nil {
			// Read only the rest of the incomplete frame (or of its
			// header), straight into its buffer.
			need := c.pendingNeed()
			if need > cap(*c.pending) {
				c.growPending(need)
			}
			bp := c.pending
			p := *bp
			want := min(need, cap(p)) - len(p)
			n, err = c.read(p[len(p) : len(p)+want])
			if n > 0 {
				c.pending = nil
				keep := c.process(p[:len(p)+n], bp)
				if c.pending != bp {
					putBuf(bp)
				}
				if !keep {
					return netpoll.Stop
				}
				if n < want && c.drained() {
					return netpoll.Wait
				}
				continue
			}
		} else {
			size := readChunk
			if c.rc == nil && c.tls == nil {
				// Blocking mode holds the buffer while waiting for
				// input: keep it small.
				size = blockingReadChunk
			}
			bp := getBuf(size)
			b := (*bp)[:size]
			n, err = c.read(b)
			if n > 0 {
				keep := c.process(b[:n], bp)
				if c.pending != bp {
					putBuf(bp)
				}
				if !keep {
					return netpoll.Stop
				}
				if n < size && c.drained() {
					return netpoll.Wait
				}
				continue
			}
			putBuf(bp)
		}
		if errors.Is(err, rawio.ErrWouldBlock) {
			return netpoll.Wait
		}
		if err != nil {
			c.readFailed(err)
			return netpoll.Stop
		}
	}
	return netpoll.Again
}

// drained reports whether a short read of the socket (fewer bytes than
// asked for) leaves nothing to read until the reactor's next event: true
// for a plain connection in the reactor while no event has reported the
// peer's half-close (netpoll.Watch.HangupSeen). Otherwise the reader goes
// on to EAGAIN or EOF: crypto/tls may hold decrypted bytes, and a FIN that
// arrived with the data gives no further edge.
func (c *conn) drained() bool {
	if c.tls != nil || c.rc == nil {
		return false
	}
	w := c.watch.Load()
	return w != nil && !w.HangupSeen()
}

// read reads into p: a non-blocking system call for a connection of the
// reactor (rawio.ErrWouldBlock when nothing has arrived), a blocking Read
// otherwise. It returns io.EOF when the client has closed its side.
func (c *conn) read(p []byte) (int, error) {
	if c.tls != nil {
		return c.readTLS(p)
	}
	if c.rc == nil {
		n, err := c.nc.Read(p)
		if n > 0 && c.uni() != nil {
			c.lastRead.Store(time.Now().UnixNano())
		}
		return n, err
	}
	n, err := rawio.ReadAvailable(c.rc, p)
	if err != nil {
		return 0, err
	}
	if c.uni() != nil {
		c.lastRead.Store(time.Now().UnixNano())
	}
	return n, nil
}

// readTLS reads decrypted bytes into p from a TLS connection in the
// reactor (nbtls): what crypto/tls holds, else what the socket holds now,
// else rawio.ErrWouldBlock.
func (c *conn) readTLS(p []byte) (int, error) {
	for {
		n, err := c.nc.Read(p)
		if n > 0 {
			if c.uni() != nil {
				c.lastRead.Store(time.Now().UnixNano())
			}
			return n, nil
		}
		if !errors.Is(err, nbtls.ErrWouldBlock) {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
		more, err := c.tls.Fill()
		if err != nil {
			return 0, err
		}
		if !more {
			return 0, rawio.ErrWouldBlock
		}
	}
}

// pendingNeed returns how many bytes the pending buffer must hold for its
// next step: the first two header bytes, the whole header, or the whole
// frame.
func (c *conn) pendingNeed() int {
	hl, length, ok := wsframe.Length(*c.pending)
	switch {
	case hl == 0:
		return 2
	case !ok:
		return hl
	}
	return hl + int(length) //nolint:gosec // checked by parseHeader before stashing
}

// pendingStep is the least a pending buffer grows by. Pending buffers grow
// with what arrives rather than being sized for the announced frame, so a
// client announcing a large frame and sending nothing costs little.
const pendingStep = 4 << 10

// stash keeps b, the start of an incomplete frame, as the pending frame.
// need is the size of the whole frame when its header is known, else 0. bp
// is the pooled buffer holding b, or nil; when b starts at its start it
// becomes the pending buffer (c.pending == bp), otherwise b is copied.
func (c *conn) stash(b []byte, bp *[]byte, need int) {
	if bp != nil && &(*bp)[:1][0] == &b[0] {
		*bp = (*bp)[:len(b)]
		c.pending = bp
		return
	}
	np := getBuf(min(max(need, maxFrameHeaderLen), max(2*len(b), pendingStep)))
	*np = append(*np, b...)
	c.pending = np
}

// growPending moves the pending frame to a bigger buffer, doubling it (by
// at least pendingStep) up to need bytes.
func (c *conn) growPending(need int) {
	old := c.pending
	np := getBuf(min(need, max(2*cap(*old), pendingStep)))
	*np = append(*np, *old...)
	putBuf(old)
	c.pending = np
}

// process handles the frames in b, which it may modify (unmasking); bp is
// the pooled buffer holding b, or nil. The caller keeps ownership of bp
// unless process made it the pending buffer (c.pending == bp). It returns
// false once the connection is closed.
func (c *conn) process(b []byte, bp *[]byte) bool {
	return c.processFrames(b, bp)
}

func (c *conn) processFrames(b []byte, bp *[]byte) bool {
	for len(b) > 0 {
		if c.skip > 0 {
			k := min(int64(len(b)), c.skip)
			b = b[k:]
			c.skip -= k
			continue
		}
		h, hl, err := parseHeader(b)
		if err != nil {
			c.protocolError()
			return false
		}
		if hl == 0 {
			c.stash(b, bp, 0)
			return true
		}
		if h.rsv1 && (!c.compressed || h.opcode != opText && h.opcode != opBinary) {
			c.protocolError() // RSV1 only starts a message, and only with permessage-deflate
			return false
		}
		if h.opcode < opClose { // a data frame
			if h.opcode == opContinuation && !c.fragmenting || h.opcode != opContinuation && c.fragmenting {
				c.protocolError()
				return false
			}
			if !c.delivering() || c.frag == nil && h.opcode == opContinuation {
				// Nobody wants it: skip the payload without buffering it.
				c.fragmenting = !h.fin
				c.releaseFrag()
				c.skip = h.length
				b = b[hl:]
				continue
			}
			total := h.length
			if c.frag != nil {
				total += int64(len(*c.frag))
			}
			if total > int64(c.limit) {
				c.releaseFrag()
				c.fragmenting = !h.fin
				c.skip = h.length
				b = b[hl:]
				c.tooBig()
				if c.done.Load() {
					return false
				}
				continue
			}
		}
		if int64(len(b)-hl) < h.length {
			c.stash(b, bp, hl+int(h.length))
			return true
		}
		end := hl + int(h.length)
		payload := b[hl:end]
		wsframe.Mask(h.mask, 0, payload)
		b = b[end:]
		if !c.handleFrame(h, payload) {
			return false
		}
	}
	return true
}

// delivering reports whether messages are handed to the session.
func (c *conn) delivering() bool {
	return c.deliver && !c.closed.Load()
}

// handleFrame handles one complete, unmasked frame. It returns false once
// the connection is closed.
func (c *conn) handleFrame(h frameHeader, payload []byte) bool {
	switch h.opcode {
	case opText, opBinary:
		if h.fin {
			if h.rsv1 {
				c.deliverCompressed(payload)
			} else {
				c.deliverMessage(payload)
			}
			return !c.done.Load()
		}
		c.fragmenting = true
		c.fragDeflated = h.rsv1
		c.frag = getBuf(2 * len(payload))
		*c.frag = append(*c.frag, payload...)
	case opContinuation:
		*c.frag = append(*c.frag, payload...)
		if h.fin {
			c.fragmenting = false
			f := c.frag
			c.frag = nil
			if c.fragDeflated {
				c.deliverCompressed(*f)
			} else {
				c.deliverMessage(*f)
			}
			putBuf(f)
			return !c.done.Load()
		}
	case opClose:
		if len(payload) == 1 {
			c.protocolError()
			return false
		}
		code := closeNoStatus
		if len(payload) >= 2 {
			code = int(binary.BigEndian.Uint16(payload))
		}
		if !c.closed.Swap(true) {
			// The client closes: tell the session, echo the code.
			if c.sess != nil {
				c.sess.Close(protocol.DisconnectConnectionClosed)
			}
			_ = c.writeControl(opClose, closePayload(code, ""), time.Now().Add(c.writeTimeout))
		}
		// Otherwise this answers our close frame. Either way the
		// handshake is complete.
		c.shutdown()
		c.releaseReadState()
		return false
	case opPing:
		if !c.closed.Load() {
			_ = c.writeControl(opPong, payload, time.Now().Add(c.writeTimeout))
		}
	case opPong:
	}
	return true
}

// deliverMessage hands a complete message to the session while it wants
// messages.
func (c *conn) deliverMessage(m []byte) {
	if c.delivering() {
		c.deliver = c.sess.HandleFrame(m)
	}
}

// deliverCompressed decompresses a permessage-deflate message and hands it
// to the session: over Config.DecompressedMessageSizeLimit it is refused
// like an oversized message (1009), and data that does not decompress is a
// protocol error (1002).
func (c *conn) deliverCompressed(payload []byte) {
	if !c.delivering() {
		return
	}
	out, tooBig, err := c.h.inflaters.inflate(payload, c.h.cfg.DecompressedMessageSizeLimit)
	switch {
	case err != nil:
		c.protocolError()
	case tooBig:
		c.tooBig()
	default:
		c.deliverMessage(*out)
		putBuf(out)
	}
}

// tooBig refuses an oversized message: close 1009 "message too big" and the
// session is told the connection is gone. Later frames are discarded until
// the client's close frame (or the close timeout).
func (c *conn) tooBig() {
	if started, _ := c.closeFrame(closeMessageTooBig, "message too big"); started && c.sess != nil {
		c.sess.Close(protocol.DisconnectConnectionClosed)
	}
	c.deliver = false
}

// protocolError ends the connection after a frame that violates RFC 6455:
// a best-effort close 1002, and the session is told the connection is gone.
func (c *conn) protocolError() {
	if !c.closed.Swap(true) {
		if c.sess != nil {
			c.sess.Close(protocol.DisconnectConnectionClosed)
		}
		if c.writeMu.TryLock() { // never wait for a writer here
			_ = c.writeControlLocked(opClose, closePayload(closeProtocolError, "protocol error"), time.Now().Add(c.writeTimeout))
			c.writeMu.Unlock()
		}
	}
	c.shutdown()
	c.releaseReadState()
}

// readFailed ends the connection after a read error or EOF: the session is
// told the connection is gone, unless it closed the transport first.
func (c *conn) readFailed(error) {
	if !c.closed.Swap(true) && c.sess != nil {
		c.sess.Close(protocol.DisconnectConnectionClosed)
	}
	c.shutdown()
	c.releaseReadState()
}

func (c *conn) releaseFrag() {
	if c.frag != nil {
		putBuf(c.frag)
		c.frag = nil
	}
}

// releaseReadState returns the reader's buffers to their pools.
func (c *conn) releaseReadState() {
	c.releaseFrag()
	if c.pending != nil {
		putBuf(c.pending)
		c.pending = nil
	}
	c.fragmenting = false
	c.skip = 0
}
