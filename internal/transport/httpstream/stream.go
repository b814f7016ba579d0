package httpstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/heraldrt/herald/internal/engine"
	"github.com/heraldrt/herald/internal/nbtls"
	"github.com/heraldrt/herald/internal/netpoll"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
)

// ErrClosed is returned by Stream.WriteMany once the stream was closed.
var ErrClosed = errors.New("httpstream: stream closed")

// Framing is how a Stream lays out messages in the response body.
type Framing uint8

const (
	// FramingLines writes JSON messages each followed by '\n' and Protobuf
	// messages each prefixed by its uvarint length (HTTP-streaming).
	FramingLines Framing = iota
	// FramingSSE writes each message as one Server-Sent Event
	// "data: <message>\n\n" (JSON only). A message containing line breaks
	// is split over several data lines, which EventSource joins back with
	// '\n', so the event data is equivalent JSON.
	FramingSSE
)

// StreamOptions describe a Stream.
type StreamOptions struct {
	// Name is the transport name reported to the engine, e.g. "sse".
	Name string
	// Protocol is the encoding of the messages.
	Protocol protocol.Type
	// Framing is the body layout.
	Framing Framing
	// Unidirectional marks a uni transport: the disconnect is a bare Push.
	// Otherwise it is a Reply wrapping the Push.
	Unidirectional bool
	// Emulation marks a bidirectional emulation transport.
	Emulation bool
	// Preamble is written right after the response header, e.g. "\r\n" for
	// SSE so that proxies and EventSource see the stream open.
	Preamble []byte
	// WriteTimeout bounds every write and flush. Zero means 1s.
	WriteTimeout time.Duration
	// DeferClose makes Close record its disconnect instead of writing it
	// until EndDefer is called; uni transports use it while connecting, so
	// that a connect failure can still become an HTTP status.
	DeferClose bool
}

// Stream is an engine.Transport writing to a streaming HTTP response. The
// response header (status 200) is sent with the first write. The engine
// writes from one goroutine at a time and may Close from any goroutine; the
// handler that owns the response waits on Done and calls Finish before it
// returns, after which the ResponseWriter is never touched again.
type Stream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	opts StreamOptions
	done chan struct{}

	mu       sync.Mutex // guards the fields below and every use of w
	started  bool
	closed   bool
	deferred *protocol.Disconnect // recorded by Close while DeferClose
	buf      bytes.Buffer

	// Set by Detach (detach.go): the hijacked connection, written instead of
	// w from then on; guarded by mu.
	raw   net.Conn
	rawRC syscall.RawConn
	// rawFD is rawRC's descriptor, written to directly on plain TCP: every
	// write and the close happen under mu, so it stays open while written.
	rawFD   int
	rawTLS  *nbtls.Conn // under raw when it is TLS: reads and writes do not wait
	chunked bool
	rawBuf  []byte
	rawDone bool // the connection was closed

	// What TryWriteMany could not write at once, finished by the next
	// write: rest, bytes of a chunk the socket did not take (detached
	// streams), or held, messages not written at all (streams still in
	// their handler, or TLS). Guarded by mu.
	rest []byte
	held [][]byte
	// batched is set while a chunk waits in a uring.Batch (fastwrite.go):
	// mu stays locked until the batch reports it to batchDone.
	batched   []byte
	batchDone engine.WriteDone
	watch     *netpoll.Watch
	gone      func()
}

var _ engine.Transport = (*Stream)(nil)

// NewStream returns a Stream writing to w. Response headers the caller set on
// w before the first write are sent with it.
func NewStream(w http.ResponseWriter, opts StreamOptions) *Stream {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = time.Second
	}
	return &Stream{w: w, rc: http.NewResponseController(w), opts: opts, done: make(chan struct{})}
}

// Name returns StreamOptions.Name.
func (s *Stream) Name() string { return s.opts.Name }

// Protocol returns StreamOptions.Protocol.
func (s *Stream) Protocol() protocol.Type { return s.opts.Protocol }

// Unidirectional returns StreamOptions.Unidirectional.
func (s *Stream) Unidirectional() bool { return s.opts.Unidirectional }

// Emulation returns StreamOptions.Emulation.
func (s *Stream) Emulation() bool { return s.opts.Emulation }

// Done is closed when the stream is closed (by Close or Finish).
func (s *Stream) Done() <-chan struct{} { return s.done }

// WriteMany writes msgs with the stream's framing and flushes them, within
// the write timeout. It returns ErrClosed after Close or Finish.
func (s *Stream) WriteMany(msgs ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.writeLocked(msgs...)
}

// writeLocked frames msgs and writes them, after what TryWriteMany left
// unwritten. Precondition: s.mu held.
func (s *Stream) writeLocked(msgs ...[]byte) error {
	if s.held != nil {
		msgs = append(s.held, msgs...)
		s.held = nil
	}
	if s.rest != nil {
		rest := s.rest
		s.rest = nil
		if err := s.writeRawBytesLocked(rest); err != nil {
			return err
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if s.raw != nil {
		return s.writeRawBytesLocked(s.chunkLocked(msgs))
	}
	s.frameAllLocked(msgs)
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout)) // ErrNotSupported: nothing to bound
	if !s.started {
		s.started = true
		s.w.WriteHeader(http.StatusOK)
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		return fmt.Errorf("httpstream: write: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("httpstream: flush: %w", err)
	}
	if s.buf.Cap() > 64<<10 {
		s.buf = bytes.Buffer{} // do not keep a burst's buffer on an idle stream
	}
	return nil
}

// frameAllLocked lays msgs out in s.buf with the stream's framing, after
// the preamble when the response has not started. Precondition: s.mu held.
func (s *Stream) frameAllLocked(msgs [][]byte) {
	s.buf.Reset()
	if !s.started {
		s.buf.Write(s.opts.Preamble)
	}
	for _, m := range msgs {
		s.frame(m)
	}
}

func (s *Stream) frame(m []byte) {
	switch {
	case s.opts.Framing == FramingSSE:
		writeSSEEvent(&s.buf, m)
	case s.opts.Protocol == protocol.TypeProtobuf:
		var scratch [binary.MaxVarintLen64]byte
		n := binary.PutUvarint(scratch[:], uint64(len(m)))
		s.buf.Write(scratch[:n])
		s.buf.Write(m)
	default:
		s.buf.Write(m)
		s.buf.WriteByte('\n')
	}
}

// writeSSEEvent appends the event "data: m\n\n", splitting m at line breaks
// (\n, \r, \r\n) into several data lines.
func writeSSEEvent(b *bytes.Buffer, m []byte) {
	for {
		b.WriteString("data: ")
		i := bytes.IndexAny(m, "\r\n")
		if i < 0 {
			b.Write(m)
			b.WriteByte('\n')
			break
		}
		b.Write(m[:i])
		b.WriteByte('\n')
		if m[i] == '\r' && i+1 < len(m) && m[i+1] == '\n' {
			i++
		}
		m = m[i+1:]
	}
	b.WriteByte('\n')
}

// Close ends the stream with d: unless d is 3000, a disconnect push is
// written (a bare Push for unidirectional streams, wrapped in a Reply
// otherwise) and Done is closed, so the handler ends the response. Close
// waits at most the write timeout. Only the first call has an effect. While
// DeferClose is in force, d is recorded for EndDefer instead of written.
func (s *Stream) Close(d protocol.Disconnect) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	defer close(s.done)
	if s.opts.DeferClose {
		s.deferred = &d
		return nil
	}
	err := s.writeDisconnectLocked(d)
	s.endRawLocked(err == nil && d.Code != protocol.DisconnectConnectionClosed.Code)
	return err
}

// writeDisconnectLocked writes the disconnect push for d (nothing for 3000).
// Precondition: s.mu held.
func (s *Stream) writeDisconnectLocked(d protocol.Disconnect) error {
	if d.Code == protocol.DisconnectConnectionClosed.Code {
		return nil
	}
	msg, err := EncodeDisconnect(s.opts.Protocol, s.opts.Unidirectional, d)
	if err != nil {
		return err
	}
	return s.writeLocked(msg)
}

// EndDefer ends the DeferClose phase. If Close was called during it,
// respond is given the recorded disconnect: when respond returns true it has
// written the whole HTTP response itself (e.g. a mapped HTTP status) through
// w; otherwise the disconnect push is written to the stream. respond may be
// nil. EndDefer reports whether the stream is closed.
func (s *Stream) EndDefer(respond func(w http.ResponseWriter, d protocol.Disconnect) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.DeferClose = false
	if s.deferred == nil {
		return s.closed
	}
	d := *s.deferred
	s.deferred = nil
	if respond != nil && !s.started && respond(s.w, d) {
		s.started = true
		return true
	}
	_ = s.writeDisconnectLocked(d)
	return true
}

// Finish marks the stream closed (without writing) if it is not already,
// waits for a write in progress, and clears the write deadline so the
// server can end the response. The handler calls it before returning.
func (s *Stream) Finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raw != nil {
		return // detached: the stream lives on without the handler
	}
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	if s.started {
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
}

// EncodeDisconnect returns the message telling a client of protocol p about
// disconnect d: {"disconnect":{..}} for unidirectional transports and
// {"push":{"disconnect":{..}}} for bidirectional ones.
func EncodeDisconnect(p protocol.Type, unidirectional bool, d protocol.Disconnect) ([]byte, error) {
	push := &pb.Push{Disconnect: &pb.Disconnect{Code: d.Code, Reason: d.Reason}}
	if unidirectional {
		return protocol.AppendPush(p, nil, push)
	}
	return protocol.AppendReply(p, nil, &pb.Reply{Push: push})
}
