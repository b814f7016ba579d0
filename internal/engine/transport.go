package engine

import (
	"context"
	"net/http"
	"net/url"

	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/uring"
)

// Transport is a connection's way to the client, implemented by the
// transport packages (websocket, sse, ...).
//
// The engine calls WriteMany from at most one goroutine at a time per
// connection (the connection's writer), and Close exactly once.
type Transport interface {
	// Name is the transport name used in metrics and logs, e.g. "websocket".
	Name() string
	// Protocol is the encoding of the connection.
	Protocol() protocol.Type
	// Unidirectional reports that the client sends no commands and expects
	// bare Push messages.
	Unidirectional() bool
	// Emulation reports a bidirectional emulation transport (HTTP-streaming,
	// SSE) whose client commands arrive through /emulation.
	Emulation() bool
	// WriteMany writes the encoded messages to the client in one transport
	// frame (or as few as the transport allows), framed per Protocol: JSON
	// joined by '\n', Protobuf varint length-prefixed. It must respect the
	// transport write timeout and return an error when the write fails.
	WriteMany(msgs ...[]byte) error
	// Close ends the connection telling the client d (a close frame on
	// WebSocket, a disconnect push on streams). For d.Code 3000 nothing is
	// sent. Close must not block for long: waiting for the peer's close
	// handshake happens in the background.
	Close(d protocol.Disconnect) error
}

// TryWriter is optionally implemented by transports that can write without
// blocking. TryWriteMany writes msgs as one frame, like WriteMany, but never
// waits for the socket: it reports true when the whole frame was written,
// false when part of it is still held by the transport, in which case the
// next WriteMany call (made with no messages to just finish the frame)
// completes it before anything else. An error means the connection is
// broken. The engine uses it to deliver to idle connections without starting
// a writer goroutine.
type TryWriter interface {
	TryWriteMany(msgs ...[]byte) (bool, error)
}

// BatchWriter is optionally implemented by TryWriters that can put a
// non-blocking write into a uring.Batch, so that a fan-out makes the
// writes of many connections in one system call. TryWriteManyIn is
// TryWriteMany, except that it may only queue the frame's write in b and
// return queued true: the transport then holds its later writes back until
// b is submitted and reports the outcome to done, as TryWriteMany would
// have returned it. It returns queued false, without an error, when it
// cannot batch the write now (the caller then uses TryWriteMany). The
// caller submits b without holding any lock that done takes.
type BatchWriter interface {
	TryWriteManyIn(b *uring.Batch, done WriteDone, msgs ...[]byte) (queued bool, err error)
}

// WriteDone receives the outcome of a write queued by
// BatchWriter.TryWriteManyIn: complete when the whole frame went out,
// otherwise the transport keeps the rest for the next WriteMany; err when
// the connection is broken.
type WriteDone interface {
	WriteDone(complete bool, err error)
}

// RequestInfo is what the transport knows of the HTTP request that opened
// the connection.
type RequestInfo struct {
	RemoteAddr string
	Header     http.Header
	URL        *url.URL // the request's URL; may be nil
}

type requestInfoKey struct{}

// WithRequestInfo returns a context carrying ri for NewClient.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the RequestInfo stored in ctx, if any.
func RequestInfoFrom(ctx context.Context) (RequestInfo, bool) {
	ri, ok := ctx.Value(requestInfoKey{}).(RequestInfo)
	return ri, ok
}
