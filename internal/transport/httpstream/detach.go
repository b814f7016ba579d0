package httpstream

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/rawio"
)

// Reactor lets streaming responses outlive their net/http goroutines: a
// detached stream (Stream.Detach) writes its chunks straight to the
// hijacked connection, and the Reactor's epoll loop only watches the
// connection for the client going away. So an idle HTTP-streaming or SSE
// connection holds no goroutine and none of net/http's per-connection
// buffers. One Reactor serves all the stream handlers of a server; Close
// stops it at shutdown.
type Reactor struct {
	lazy netpoll.Lazy
}

// NewReactor returns a Reactor; its goroutines start with the first
// detached stream.
func NewReactor() *Reactor { return &Reactor{} }

// Close stops the reactor's goroutines; streams still detached are no
// longer watched (the engine closes their sessions at shutdown, before).
// Later streams are not detached. It is idempotent.
func (rt *Reactor) Close() error { return rt.lazy.Close() }

// Detach hands the rest of the stream to the reactor rt so that the
// handler can return: it hijacks the HTTP/1.x connection of r (plain TCP,
// or TLS accepted through an nbtls listener whose server marks requests
// with nbtls.ConnContext), after which writes go to it as chunks (or raw
// bytes for an HTTP/1.0 client) and the reactor watches it; when the
// client goes away, gone is called on a goroutine of its own. It returns
// false, having changed nothing, when the stream cannot be detached (rt nil
// or closed, HTTP/2, other TLS, stream closed, deferred close in force); the handler
// then keeps waiting as before. Once it returned true the handler must not
// touch w again. A stream whose response has not started yet (the engine
// writes its first reply a moment later) gets its status line and the
// header of w written by Detach.
func (s *Stream) Detach(w http.ResponseWriter, r *http.Request, rt *Reactor, gone func()) bool {
	if rt == nil || r.ProtoMajor != 1 || (r.TLS != nil && !nbtls.Served(r.Context())) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.opts.DeferClose {
		return false
	}
	p, _ := rt.lazy.Get() // without a poller the stream stays in its handler
	if p == nil {
		return false
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	// From here on w is gone: a failure ends the stream.
	s.raw, s.chunked, s.gone = nc, r.ProtoAtLeast(1, 1), gone
	fail := func() bool {
		if f := s.endGoneLocked(); f != nil {
			go f()
		}
		return true
	}
	if err := brw.Writer.Flush(); err != nil {
		return fail()
	}
	if !s.started {
		hdr := w.Header().Clone()
		status := "HTTP/1.1 200 OK\r\n"
		if s.chunked {
			hdr.Set("Transfer-Encoding", "chunked")
		} else {
			status = "HTTP/1.0 200 OK\r\n"
			hdr.Set("Connection", "close")
		}
		var b bytes.Buffer
		b.WriteString(status)
		_ = hdr.Write(&b)
		b.WriteString("\r\n")
		_ = nc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		if _, err := nc.Write(b.Bytes()); err != nil {
			return fail()
		}
	}
	_ = nc.SetDeadline(time.Time{}) // the server's read and write timeouts no longer apply
	rc, err := s.rawConnLocked(nc)
	if err != nil {
		return fail()
	}
	s.rawRC = rc
	if err := rc.Control(func(fd uintptr) { s.rawFD = int(fd) }); err != nil { //nolint:gosec // fd fits in int
		return fail()
	}
	watch, err := p.Add(rc, s.onReadable)
	if err != nil {
		return fail()
	}
	s.watch = watch
	if err := watch.Arm(); err != nil {
		return fail()
	}
	return true
}

// rawConnLocked returns the socket of the hijacked connection nc for the
// reactor; a TLS connection (nbtls under it) is switched to non-blocking
// reads and writes. Precondition: s.mu held.
func (s *Stream) rawConnLocked(nc net.Conn) (syscall.RawConn, error) {
	if nb := nbtls.Of(nc); nb != nil {
		rc, err := nb.SetNonblocking()
		if err == nil {
			s.rawTLS = nb
		}
		return rc, err
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// onReadable discards what the client sends on a detached stream and
// notices when it goes away.
func (s *Stream) onReadable() netpoll.Status {
	if s.rawTLS != nil {
		return s.onReadableTLS()
	}
	var buf [512]byte
	for range 16 {
		_, err := rawio.ReadAvailable(s.rawRC, buf[:])
		switch {
		case err == nil:
		case errors.Is(err, rawio.ErrWouldBlock):
			return netpoll.Wait
		case errors.Is(err, net.ErrClosed): // closed by us
			return netpoll.Stop
		default: // reset, or EOF: the client went away
			return s.clientGone()
		}
	}
	return netpoll.Again
}

// onReadableTLS is onReadable for a TLS stream: what the client sends is
// decrypted (crypto/tls needs the records, alerts included) and discarded.
func (s *Stream) onReadableTLS() netpoll.Status {
	var buf [512]byte
	for range 16 {
		n, err := s.raw.Read(buf[:])
		if n > 0 {
			continue
		}
		if errors.Is(err, nbtls.ErrWouldBlock) {
			more, ferr := s.rawTLS.Fill()
			if ferr == nil && more {
				continue
			}
			if ferr == nil {
				return netpoll.Wait
			}
		}
		// EOF, an alert, a reset, or closed by us (then the stream is
		// closed already and nothing is called).
		return s.clientGone()
	}
	return netpoll.Again
}

// clientGone ends a detached stream whose client went away, runs its gone
// callback on a goroutine of its own, and stops the watch.
func (s *Stream) clientGone() netpoll.Status {
	s.mu.Lock()
	f := s.endGoneLocked()
	s.mu.Unlock()
	if f != nil {
		go f()
	}
	return netpoll.Stop
}

// endGoneLocked ends a detached stream whose client is gone (or whose
// connection failed): closed, Done, connection closed without the last
// chunk. It returns the gone callback to run, unless the stream was closed
// already. Precondition: s.mu held.
func (s *Stream) endGoneLocked() func() {
	first := !s.closed
	if first {
		s.closed = true
		close(s.done)
	}
	s.endRawLocked(false)
	if !first {
		return nil
	}
	return s.gone
}

// chunkLocked frames msgs and returns them as one chunk for the detached
// connection (raw bytes for an HTTP/1.0 client), in s.rawBuf.
// Precondition: s.mu held, s.raw set.
func (s *Stream) chunkLocked(msgs [][]byte) []byte {
	s.frameAllLocked(msgs)
	s.started = true
	body := s.buf.Bytes()
	out := s.rawBuf[:0]
	if s.chunked {
		out = strconv.AppendInt(out, int64(len(body)), 16)
		out = append(out, '\r', '\n')
		out = append(out, body...)
		out = append(out, '\r', '\n')
	} else {
		out = append(out, body...)
	}
	if cap(out) <= 64<<10 {
		s.rawBuf = out[:0]
	} else {
		s.rawBuf = nil // do not keep a burst's buffer on an idle stream
	}
	if s.buf.Cap() > 64<<10 {
		s.buf = bytes.Buffer{}
	}
	return out
}

// writeRawBytesLocked writes out to the detached connection within the
// write timeout. Precondition: s.mu held, s.raw set.
func (s *Stream) writeRawBytesLocked(out []byte) error {
	deadline := time.Now().Add(s.opts.WriteTimeout)
	_ = s.raw.SetWriteDeadline(deadline)
	if _, err := s.raw.Write(out); err != nil {
		return fmt.Errorf("httpstream: write: %w", err)
	}
	if s.rawTLS != nil {
		if err := s.rawTLS.Flush(deadline); err != nil { // what the socket did not take at once
			return fmt.Errorf("httpstream: write: %w", err)
		}
	}
	return nil
}

// endRawLocked ends the response of a detached stream (with the last chunk
// when polite) and closes the connection. Precondition: s.mu held.
func (s *Stream) endRawLocked(polite bool) {
	if s.raw == nil || s.rawDone {
		return
	}
	s.rawDone = true
	if polite && s.chunked {
		deadline := time.Now().Add(s.opts.WriteTimeout)
		_ = s.raw.SetWriteDeadline(deadline)
		if _, err := s.raw.Write([]byte("0\r\n\r\n")); err == nil && s.rawTLS != nil {
			_ = s.rawTLS.Flush(deadline)
		}
	}
	if s.watch != nil {
		s.watch.Detach()
	}
	_ = s.raw.Close()
}
